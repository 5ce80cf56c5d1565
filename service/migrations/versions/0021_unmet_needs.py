"""unmet_needs and unmet_need_needs: needs no organization fits, recorded at intake (no personal data)

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmet_needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("territory", sa.String(length=200), nullable=False),
        sa.Column("clientele", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_unmet_needs_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmet_needs")),
    )
    op.create_index(op.f("ix_unmet_needs_organization_id"), "unmet_needs", ["organization_id"])
    op.create_index(op.f("ix_unmet_needs_recorded_at"), "unmet_needs", ["recorded_at"])
    op.create_table(
        "unmet_need_needs",
        sa.Column("unmet_need_id", sa.Integer(), nullable=False),
        sa.Column("need_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_code"], ["needs.code"], name=op.f("fk_unmet_need_needs_need_code_needs")
        ),
        sa.ForeignKeyConstraint(
            ["unmet_need_id"],
            ["unmet_needs.id"],
            name=op.f("fk_unmet_need_needs_unmet_need_id_unmet_needs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unmet_need_id", "need_code", name=op.f("pk_unmet_need_needs")),
    )


def downgrade() -> None:
    op.drop_table("unmet_need_needs")
    op.drop_index(op.f("ix_unmet_needs_recorded_at"), table_name="unmet_needs")
    op.drop_index(op.f("ix_unmet_needs_organization_id"), table_name="unmet_needs")
    op.drop_table("unmet_needs")

"""privacy: confidentiality incident register, retention period per organization

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.add_column(sa.Column("retention_months", sa.Integer(), nullable=True))
    op.create_table(
        "confidentiality_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("occurred_until", sa.Date(), nullable=True),
        sa.Column("learned_on", sa.Date(), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=False),
        sa.Column("information_kinds", sa.Text(), nullable=False),
        sa.Column("serious_injury_risk", sa.Boolean(), nullable=False),
        sa.Column("risk_assessment", sa.Text(), nullable=False),
        sa.Column("commission_notified_on", sa.Date(), nullable=True),
        sa.Column("commission_not_notified_reason", sa.Text(), nullable=False),
        sa.Column("people_notified_on", sa.Date(), nullable=True),
        sa.Column("people_not_notified_reason", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_confidentiality_incidents_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_confidentiality_incidents_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_confidentiality_incidents_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confidentiality_incidents")),
    )
    op.create_index(
        "ix_confidentiality_incidents_organization",
        "confidentiality_incidents",
        ["organization_id", "learned_on"],
    )


def downgrade() -> None:
    op.drop_index("ix_confidentiality_incidents_organization", table_name="confidentiality_incidents")
    op.drop_table("confidentiality_incidents")
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.drop_column("retention_months")

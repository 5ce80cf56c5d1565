"""audit_entries.subject_user_id: whose account an act changed (a role, a deactivation, an invitation)

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.add_column(sa.Column("subject_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_entries_subject_user_id_users"), "users", ["subject_user_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_audit_entries_subject_user_id_users"), type_="foreignkey")
        batch_op.drop_column("subject_user_id")

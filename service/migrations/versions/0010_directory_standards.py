"""directory: identifiers for Open Referral (HSDS) import and export

Every organization and service gets a stable external id (a UUID), so that a
directory exported, then imported again, updates the same rows.

Revision ID: 0010
Revises: 0009
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("organizations", "services")


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        rows = sa.table(table, sa.column("id", sa.Integer), sa.column("external_id", sa.String))
        # Existing rows get random ids too: a number would collide with another Maillage's.
        for (row_id,) in connection.execute(sa.select(rows.c.id)).all():
            connection.execute(rows.update().where(rows.c.id == row_id).values(external_id=str(uuid.uuid4())))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("external_id", existing_type=sa.String(length=64), nullable=False)
            batch_op.create_unique_constraint(f"uq_{table}_external_id", ["external_id"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_external_id", type_="unique")
            batch_op.drop_column("external_id")

"""held_imports: a spreadsheet between its upload and its import, in the database (any web instance reads it)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_imports",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_held_imports")),
    )
    with op.batch_alter_table("held_imports") as batch_op:
        batch_op.create_index(batch_op.f("ix_held_imports_held_at"), ["held_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("held_imports") as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_imports_held_at"))
    op.drop_table("held_imports")

"""organizations: a public address or the flag "adresse confidentielle", and what to bring;
an index of the message events by time, for the messages' daily digest

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_address", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("address_confidential", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("what_to_bring", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_events_messages",
            ["at"],
            unique=False,
            postgresql_where=sa.text("kind = 'message'"),
            sqlite_where=sa.text("kind = 'message'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_events_messages", postgresql_where=sa.text("kind = 'message'"))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("what_to_bring")
        batch_op.drop_column("address_confidential")
        batch_op.drop_column("public_address")

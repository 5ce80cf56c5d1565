"""referrals.sent_at: when each referral was first sent, kept on the referral (backfilled from the event log)
for the receiver's seeing rule and the lists' sort, which looked into the event log per referral

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What ix_referrals_*_listed carried (migration 0018), the other organization's id after the first.
LISTED = [
    "id",
    "created_by_id",
    "protocol_name",
    "protocol_version",
    "state",
    "state_entered_at",
    "deadline_step",
    "due_at",
    "urgent",
    "created_at",
]
OTHER_SIDE = {"sender": "receiver", "receiver": "sender"}


def _listed_indexes(columns: list[str]) -> None:
    for side, other in OTHER_SIDE.items():
        op.drop_index(f"ix_referrals_{side}_listed", table_name="referrals")
        op.create_index(
            f"ix_referrals_{side}_listed",
            "referrals",
            [f"{side}_organization_id"],
            postgresql_include=[columns[0], f"{other}_organization_id", *columns[1:]],
        )


def upgrade() -> None:
    op.add_column("referrals", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    # One statement, each referral's first 'send' event found by ix_referral_events_sent.
    op.execute(
        "UPDATE referrals SET sent_at = (SELECT min(e.at) FROM referral_events AS e"
        " WHERE e.referral_id = referrals.id AND e.trigger = 'send')"
    )
    # The lists filter and sort by it: their covering indexes carry it.
    _listed_indexes([*LISTED, "sent_at"])


def downgrade() -> None:
    _listed_indexes(LISTED)
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("sent_at")

"""The dashboard's indexes: ix_referrals_*_listed keyed newest sent first, and each referral's messages

The finished part of a busy organization's dashboard (10,000 referrals after ten years) sorted them all for
its page of 50; keyed by (organization, coalesce(sent_at, created_at) DESC, id DESC) the index gives them in
that order. The unread counts looked for messages in the whole event log (a scan of 1.3 million rows).

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the lists filter, count and sort by (service.referrals.models.LISTED_COLUMNS as of this revision).
LISTED = [
    "id",
    "sender_organization_id",
    "receiver_organization_id",
    "created_by_id",
    "protocol_name",
    "protocol_version",
    "state",
    "state_entered_at",
    "deadline_step",
    "due_at",
    "urgent",
    "created_at",
    "sent_at",
]
NEWEST_FIRST = ["coalesce(sent_at, created_at) DESC", "id DESC"]
SIDES = ("sender", "receiver")


def _include(side: str) -> list[str]:
    return [name for name in LISTED if name not in ("id", f"{side}_organization_id")]


def upgrade() -> None:
    for side in SIDES:
        op.drop_index(f"ix_referrals_{side}_listed", table_name="referrals")
        op.create_index(
            f"ix_referrals_{side}_listed",
            "referrals",
            [f"{side}_organization_id", *(sa.text(key) for key in NEWEST_FIRST)],
            postgresql_include=_include(side),
        )
    op.create_index(
        "ix_referral_events_referral_messages",
        "referral_events",
        ["referral_id", "id"],
        postgresql_include=["actor_party"],
        postgresql_where=sa.text("kind = 'message'"),
        sqlite_where=sa.text("kind = 'message'"),
    )


def downgrade() -> None:
    op.drop_index("ix_referral_events_referral_messages", table_name="referral_events")
    for side in SIDES:
        op.drop_index(f"ix_referrals_{side}_listed", table_name="referrals")
        # As migration 0022 left it: keyed by the organization alone, the other organization's id after id.
        other = "receiver" if side == "sender" else "sender"
        op.create_index(
            f"ix_referrals_{side}_listed",
            "referrals",
            [f"{side}_organization_id"],
            postgresql_include=["id", f"{other}_organization_id", *LISTED[3:]],
        )

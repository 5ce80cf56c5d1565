"""Indexes for the pages at ten years of data: the lists read an organization's referrals from an index
alone, the sent events have their own small index, and redirected_from_id is indexed

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
SENT = "trigger = 'send'"


def upgrade() -> None:
    # The covering indexes start with the column the old ones indexed: those are dropped.
    op.drop_index("ix_referrals_sender_organization_id", table_name="referrals")
    op.drop_index("ix_referrals_receiver_organization_id", table_name="referrals")
    op.create_index(
        "ix_referrals_sender_listed",
        "referrals",
        ["sender_organization_id"],
        postgresql_include=[LISTED[0], "receiver_organization_id", *LISTED[1:]],
    )
    op.create_index(
        "ix_referrals_receiver_listed",
        "referrals",
        ["receiver_organization_id"],
        postgresql_include=[LISTED[0], "sender_organization_id", *LISTED[1:]],
    )
    op.create_index("ix_referrals_redirected_from_id", "referrals", ["redirected_from_id"])
    op.create_index(
        "ix_referral_events_sent",
        "referral_events",
        ["referral_id", "at"],
        postgresql_where=sa.text(SENT),
        sqlite_where=sa.text(SENT),
    )


def downgrade() -> None:
    op.drop_index("ix_referral_events_sent", table_name="referral_events")
    op.drop_index("ix_referrals_redirected_from_id", table_name="referrals")
    op.drop_index("ix_referrals_receiver_listed", table_name="referrals")
    op.drop_index("ix_referrals_sender_listed", table_name="referrals")
    op.create_index("ix_referrals_receiver_organization_id", "referrals", ["receiver_organization_id"])
    op.create_index("ix_referrals_sender_organization_id", "referrals", ["sender_organization_id"])

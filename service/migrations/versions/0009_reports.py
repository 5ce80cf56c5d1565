"""reports: each referral's figures, kept up to date by the reports, and the indexes they read

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_figures",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("sender_organization_id", sa.Integer(), nullable=False),
        sa.Column("receiver_organization_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_figures_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referral_figures")),
    )
    op.create_index(
        "ix_referral_figures_created_at", "referral_figures", ["created_at", "referral_id", "last_seq"]
    )
    op.create_index(
        "ix_referral_figures_sender",
        "referral_figures",
        ["sender_organization_id", "created_at", "referral_id", "last_seq"],
    )
    op.create_index(
        "ix_referral_figures_receiver",
        "referral_figures",
        ["receiver_organization_id", "created_at", "referral_id", "last_seq"],
    )
    op.create_index("ix_referrals_created_at", "referrals", ["created_at", "id", "last_seq"])
    op.create_index(
        "ix_referrals_sender_created", "referrals", ["sender_organization_id", "created_at", "id", "last_seq"]
    )
    op.create_index(
        "ix_referrals_receiver_created",
        "referrals",
        ["receiver_organization_id", "created_at", "id", "last_seq"],
    )
    op.create_index(
        "ix_referral_events_trigger_at", "referral_events", ["trigger", "at", "referral_id", "reason_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_referral_events_trigger_at", table_name="referral_events")
    op.drop_index("ix_referrals_receiver_created", table_name="referrals")
    op.drop_index("ix_referrals_sender_created", table_name="referrals")
    op.drop_index("ix_referrals_created_at", table_name="referrals")
    op.drop_index("ix_referral_figures_receiver", table_name="referral_figures")
    op.drop_index("ix_referral_figures_sender", table_name="referral_figures")
    op.drop_index("ix_referral_figures_created_at", table_name="referral_figures")
    op.drop_table("referral_figures")

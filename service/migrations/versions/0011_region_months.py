"""reports: the region's figures rolled up per month, stamped with the referrals they were made from

A year of the region read a million kept rows at every report; the months'
roll-ups are a few hundred lines. They start empty: the first report of a
period rolls its months up.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "region_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.Column("last_seq_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_region_months")),
    )
    op.create_table(
        "region_month_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_month_counts")),
    )
    op.create_index("ix_region_month_counts_month", "region_month_counts", ["month"])
    op.create_table(
        "region_month_durations",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("microseconds", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("month", "milestone", "bucket", name=op.f("pk_region_month_durations")),
    )


def downgrade() -> None:
    op.drop_table("region_month_durations")
    op.drop_index("ix_region_month_counts_month", table_name="region_month_counts")
    op.drop_table("region_month_counts")
    op.drop_table("region_months")

"""What the reports read: one row of figures per referral, and the indexes to find them fast.

A referral's figures (when it was sent, acknowledged, accepted, first
contacted; whether it was decided, its outcome, how many reminders and
escalations) come from its event log. Reading the log of a million
referrals for every report takes seconds, so each referral's figures are
kept in `referral_figures`, stamped with the referral's `last_seq`: every
change of a referral adds a log row and bumps `last_seq`, so a row whose
stamp differs is stale. `service.reports.queries.figures` brings the rows of
the period up to date before it counts; nothing else writes them, and the
event log stays the one source.

The region's year from the kept rows still meant reading a million of them,
and sorting their durations for the percentiles, at every report. So the
kept rows are also rolled up per month (`RegionMonth` and the two tables
after it), stamped with what the month's referrals were when it was rolled
up; a month whose referrals no longer match its stamp is rolled up again
before a report reads it (`service.reports.region.region_figures`). The
roll-ups come from the kept rows, which come from the log: it stays the one
source.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent


class ReferralFigure(Base):
    """One referral's milestones, as of its log row `last_seq`; counts and times only, nothing personal."""

    __tablename__ = "referral_figures"

    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    last_seq: Mapped[int]
    sender_organization_id: Mapped[int]
    receiver_organization_id: Mapped[int]
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    first_contact_at: Mapped[datetime | None]
    decided: Mapped[bool]
    accepted: Mapped[bool]
    outcome: Mapped[str | None] = mapped_column(String(64))
    reminders: Mapped[int]
    escalations: Mapped[int]

    # The period's rows, in the region or for one organization; with `referral_id` and
    # `last_seq` in the index, the check for stale rows reads the index alone.
    __table_args__ = (
        Index("ix_referral_figures_created_at", "created_at", "referral_id", "last_seq"),
        Index(
            "ix_referral_figures_sender", "sender_organization_id", "created_at", "referral_id", "last_seq"
        ),
        Index(
            "ix_referral_figures_receiver",
            "receiver_organization_id",
            "created_at",
            "referral_id",
            "last_seq",
        ),
    )


class RegionMonth(Base):
    """A month of the region's rolled-up figures: its stamp, and the row its roll-ups lock.

    The stamp is the count, the sum of ids and the sum of `last_seq` of the
    kept rows it was rolled up from (every referral opened that month, drafts
    included). A referral's `last_seq` only grows and a new referral has a new
    id, so the month's referrals give back the same three numbers only if
    none was added, removed or changed since: one index-only pass over
    `referrals` tells which months are stale, without reading the kept rows.
    """

    __tablename__ = "region_months"

    # The first day of the month, in Montréal.
    month: Mapped[date] = mapped_column(primary_key=True)
    referrals: Mapped[int]
    id_sum: Mapped[int] = mapped_column(BigInteger)
    last_seq_sum: Mapped[int] = mapped_column(BigInteger)


class RegionMonthCount(Base):
    """How many referrals sent in the region, opened in one month, are in one state (and outcome)."""

    __tablename__ = "region_month_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(32))
    # The outcome of the closed ones; None in every other state.
    outcome: Mapped[str | None] = mapped_column(String(64))
    referrals: Mapped[int]
    accepted: Mapped[int]
    decided: Mapped[int]
    missed: Mapped[int]
    reminders: Mapped[int]
    escalations: Mapped[int]


class RegionMonthDurations(Base):
    """The durations to one milestone of the referrals opened in one month, in one bucket of length.

    Exact percentiles need every duration, but not all of them at once: the
    counts per bucket say which bucket holds the median or the 90th
    percentile of a year, and only that bucket's durations are read (see
    `service.reports.region.spreads_by_month`). Durations are whole
    microseconds, as the database keeps times: exact, and the same on both
    databases. Figures only: no referral is named.
    """

    __tablename__ = "region_month_durations"

    month: Mapped[date] = mapped_column(primary_key=True)
    milestone: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    reached: Mapped[int]
    # The bucket's durations in microseconds, in no particular order.
    microseconds: Mapped[list[Any]] = mapped_column(JSON)


# Which referrals of a period have changed since their figures were kept: the period's
# referrals with their `last_seq`, read from these indexes alone (no table visits).
REFERRALS_OPENED = Index("ix_referrals_created_at", Referral.created_at, Referral.id, Referral.last_seq)
REFERRALS_SENT_BY = Index(
    "ix_referrals_sender_created",
    Referral.sender_organization_id,
    Referral.created_at,
    Referral.id,
    Referral.last_seq,
)
REFERRALS_RECEIVED_BY = Index(
    "ix_referrals_receiver_created",
    Referral.receiver_organization_id,
    Referral.created_at,
    Referral.id,
    Referral.last_seq,
)
# Unmet needs: the declines and redirects decided in a period, across the region, with
# their referral and reason in the index (no table visits).
EVENTS_DECIDED = Index(
    "ix_referral_events_trigger_at",
    ReferralEvent.trigger,
    ReferralEvent.at,
    ReferralEvent.referral_id,
    ReferralEvent.reason_code,
)

REPORT_INDEXES = (REFERRALS_OPENED, REFERRALS_SENT_BY, REFERRALS_RECEIVED_BY, EVENTS_DECIDED)

"""Referrals, the woman's minimum data, her consent, and the append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base
from service.directory.models import Need

referral_needs = Table(
    "referral_needs",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("need_code", ForeignKey("needs.code"), primary_key=True),
)


# The columns the lists (dashboard, inbox) filter, count and sort by: `ix_referrals_*_listed` carry them all.
LISTED_COLUMNS = (
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
)
# Newest sent first (opened, for one never sent), then by number: `queries.newest_first`, as index keys.
NEWEST_FIRST_KEYS = ("coalesce(sent_at, created_at) DESC", "id DESC")


def listed_index_keys(side: str) -> list[Any]:
    """The keys of `ix_referrals_{side}_listed`: the side's organization, then its referrals newest first."""
    return [f"{side}_organization_id", *(text(key) for key in NEWEST_FIRST_KEYS)]


def listed_index_include(side: str) -> list[str]:
    """The rest of `LISTED_COLUMNS`, carried by `ix_referrals_{side}_listed` beside its keys."""
    return [name for name in LISTED_COLUMNS if name not in ("id", f"{side}_organization_id")]


class Referral(Base):
    """One woman referred from one organization to another, under one protocol version."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_name: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[int]
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("referral_agreements.id"))
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(default=False)
    # Each organization's referrals are found by `ix_referrals_sender_listed` / `_receiver_listed` below.
    sender_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    receiver_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Every referral page looks for the referrals redirected from it.
    redirected_from_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)

    state: Mapped[str] = mapped_column(String(32))
    state_entered_at: Mapped[datetime]
    # Which step of the current state's deadline comes next, and when it is due;
    # the sweep looks referrals up by `due_at` alone, hence the index.
    deadline_step: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    # When it was first sent to the receiver (its first 'send' event), None while it never was: the
    # receiver's seeing rule and the lists' "newest sent first" read it here, not in the event log.
    # Written with that event, by `operations.log_event`.
    sent_at: Mapped[datetime | None]
    # Bumped by every UPDATE, which SQLAlchemy makes conditional on the old value:
    # two writers that both read version N cannot both write.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]

    needs: Mapped[list[Need]] = relationship(secondary=referral_needs)
    consents: Mapped[list[Consent]] = relationship(back_populates="referral", order_by="Consent.id")
    # Personal data is read through operations that log the read, never by accident.
    person: Mapped[ReferralPerson | None] = relationship(lazy="raise")
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.seq", lazy="raise"
    )
    emergency: Mapped[EmergencyDisclosure | None] = relationship(back_populates="referral")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping
    # What the lists (dashboard, inbox) filter, count and sort by is in these indexes (`LISTED_COLUMNS`), so
    # that they read an organization's referrals from the index alone (PostgreSQL's index-only scans), not
    # a table page per referral: 10,000 pages for a busy organization after ten years. Their keys give
    # each organization's referrals newest sent first (`queries.newest_first`): the dashboard's finished
    # part reads its page's rows in that order and stops, instead of sorting the organization's history.
    __table_args__ = tuple(
        Index(
            f"ix_referrals_{side}_listed",
            *listed_index_keys(side),
            postgresql_include=listed_index_include(side),
        )
        for side in ("sender", "receiver")
    )

    def has_valid_consent(self, now: datetime) -> bool:
        """A consent of hers valid at `now`, or the recorded emergency exception standing in for one.

        The exception stands in only while no consent of hers was recorded: once she has
        given one, hers is what counts, and a withdrawn or expired one ends the access as
        it does on any referral (the outbox reads it so too, `consent_expiry.lapse_reason`).
        """
        if self.consents:
            return any(consent.is_valid(now) for consent in self.consents)
        return self.emergency is not None


class ReferralPerson(Base):
    """The minimum needed to reach the woman; erased when the retention period ends."""

    __tablename__ = "referral_people"

    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    language: Mapped[str] = mapped_column(String(32), default="")
    contact_preferences: Mapped[str] = mapped_column(Text, default="")
    safety_constraints: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class Consent(Base):
    """How the woman agreed to share what, with whom, for what, until when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    shared_with: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    referral: Mapped[Referral] = relationship(back_populates="consents")

    def is_valid(self, now: datetime) -> bool:
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at


class EmergencyDisclosure(Base):
    """Why a coordinator sent a referral without her consent (private-sector act, s. 18.1: serious risk of
    death or serious injury tied to violence). The `consent_recorded` guard accepts it.

    The reason is the organization's account of the exception: it is shown on the
    report of emergency uses only, never in an email, a log or the event log.
    """

    __tablename__ = "emergency_disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)

    referral: Mapped[Referral] = relationship(back_populates="emergency")


class ReferralEvent(Base):
    """One line of a referral's journal: a transition, a reminder, an escalation.

    Rows are only ever added; `seq` numbers them per referral, under the
    referral's row lock, so the log replays to the stored state.
    """

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_party: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(64))
    target_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))

    referral: Mapped[Referral] = relationship(back_populates="events")

    __table_args__ = (
        UniqueConstraint("referral_id", "seq"),
        # The 'send' events, one small entry per sent referral ("send" is operations.SHARING_TRIGGER): what
        # fills `referrals.sent_at` (migration 0022) and what reports that count sendings read.
        Index(
            "ix_referral_events_sent",
            "referral_id",
            "at",
            postgresql_where=text("trigger = 'send'"),
            sqlite_where=text("trigger = 'send'"),
        ),
        # The messages of a day, which the messages' daily digest counts (migration 0027).
        Index(
            "ix_referral_events_messages",
            "at",
            postgresql_where=text("kind = 'message'"),
            sqlite_where=text("kind = 'message'"),
        ),
        # The messages of each referral, with who wrote them: the unread counts of the dashboard and the
        # inbox (`read_markers.unread_counts`) read these few entries, not the whole log of 1.3 million rows.
        Index(
            "ix_referral_events_referral_messages",
            "referral_id",
            "id",
            postgresql_include=["actor_party"],
            postgresql_where=text("kind = 'message'"),
            sqlite_where=text("kind = 'message'"),
        ),
    )

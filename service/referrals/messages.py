"""Messages on a referral: what the two organizations write to each other about her, in its event log.

A message is an event of the referral's log (kind "message", its text in the
event's comment), so it is numbered, locked and ordered with the rest, erased
by the retention purge with the other comments, and part of her file's export.
It changes nothing of the referral's state. The other side is told by email
that there is a new message, never what it says: the day's first at once, the
others in the next morning's digest (`message_digest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.clock import Clock
from service.clock import utcnow
from service.errors import ConsentRequired
from service.errors import NotAllowed
from service.errors import ReferralNotFound
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.operations import all_or_nothing
from service.referrals.operations import lock_referral
from service.referrals.operations import log_event
from service.referrals.operations import parties_seeing
from service.referrals.queries import TimelineEntry
from workflows.durations import TIME_ZONE

MESSAGE_KIND = "message"
# The event's reason code of a message its writer marked for the coordinators of the side it goes to.
FOR_COORDINATOR = "for_coordinator"
MAX_LENGTH = 2000
TEMPLATE = "new_message"
# The first message of a Montréal day to one side is told at once, so that a waiting answer is not
# held back; the others of that day find its notice by its dedupe key and go, counted, into the
# next morning's digest of that organization (`message_digest`). A message marked for the
# coordinator is an escalation by hand: their notice goes at most once an hour, never held a day.
NOTICE_PERIOD = "%Y-%m-%d"
ESCALATION_PERIOD = "%Y%m%d%H"
SIDES = ("sender", "receiver")


@dataclass(frozen=True)
class Message:
    """One message as its reader sees it; `text` is None where her consent no longer lets her read it."""

    id: int
    at: datetime
    party: str  # "sender" or "receiver": the side that wrote it
    user_name: str | None  # None: a partner through a signed link
    text: str | None
    for_coordinator: bool


def write_message(
    session: Session,
    referral_id: int,
    actor: Actor,
    text: str,
    *,
    for_coordinator: bool = False,
    clock: Clock = utcnow,
) -> int:
    """Add a message to a sent referral's log and tell the other side; returns the event's id. Commits.

    Either party may write, a partner through a signed link too (as the receiver), while her
    consent is valid: her consent is what lets the two organizations speak of her.
    """
    text = text.strip()
    if not text or len(text) > MAX_LENGTH:
        raise ValueError(f"a message holds 1 to {MAX_LENGTH} characters")
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        side = side_of(actor, referral)
        if side is None:
            raise NotAllowed(MESSAGE_KIND, actor.parties(referral))
        if not _was_sent(session, referral.id):
            raise NotAllowed(MESSAGE_KIND, actor.parties(referral))
        now = clock()
        if not referral.has_valid_consent(now):
            raise ConsentRequired(MESSAGE_KIND, "consent_recorded")
        event_id = log_event(
            session,
            referral,
            kind=MESSAGE_KIND,
            trigger=None,
            actor=actor,
            party=side,
            at=now,
            comment=text,
            reason_code=FOR_COORDINATOR if for_coordinator else None,
        )
        other = "receiver" if side == "sender" else "sender"
        _tell(session, referral, event_id, other, now)
        if for_coordinator:
            # An escalation by hand: the coordinators of the organization it is written to.
            _tell(session, referral, event_id, f"{other}_coordinator", now)
        session.commit()
    return event_id


def side_of(actor: Actor, referral: Referral) -> str | None:
    """Which of the referral's two sides `actor` writes for, or None (the system, an outsider)."""
    parties = actor.parties(referral)
    return next((side for side in SIDES if side in parties), None)


def messages_for(session: Session, referral_id: int, actor: Actor, *, now: datetime) -> list[Message]:
    """The referral's messages for one of its parties, oldest first; `ReferralNotFound` for anyone else.

    The receiving side reads their text only while her consent is valid (as her details).
    """
    referral = session.get(Referral, referral_id)
    if referral is None or side_of(actor, referral) is None or not parties_seeing(session, referral, actor):
        raise ReferralNotFound(referral_id)
    readable = may_read_messages(actor, referral, now)
    rows = session.execute(
        select(ReferralEvent, User.name)
        .outerjoin(User, User.id == ReferralEvent.actor_user_id)
        .where(ReferralEvent.referral_id == referral_id, ReferralEvent.kind == MESSAGE_KIND)
        .order_by(ReferralEvent.seq)
    ).all()
    return [
        Message(
            id=event.id,
            at=event.at,
            party=event.actor_party,
            user_name=name,
            text=event.comment if readable else None,
            for_coordinator=event.reason_code == FOR_COORDINATOR,
        )
        for event, name in rows
    ]


def may_read_messages(actor: Actor, referral: Referral, now: datetime) -> bool:
    """Whether `actor`'s side reads the messages' text now: the sender always, the receiver under consent."""
    return side_of(actor, referral) == "sender" or referral.has_valid_consent(now)


def hide_unreadable(entries: list[TimelineEntry], readable: bool) -> list[TimelineEntry]:
    """The timeline's entries with the messages' text left out where their reader may not read it."""
    if readable:
        return entries
    return [replace(e, comment=None) if e.kind == MESSAGE_KIND else e for e in entries]


def _was_sent(session: Session, referral_id: int) -> bool:
    query = select(ReferralEvent.id).where(
        ReferralEvent.referral_id == referral_id, ReferralEvent.trigger == SHARING_TRIGGER
    )
    return session.scalar(query.limit(1)) is not None


def _tell(session: Session, referral: Referral, event_id: int, party: str, now: datetime) -> None:
    """Queue the notice of a new message to `party`, unless one today (this hour, for the
    coordinators) already was.

    The referral is locked: two messages cannot both find no notice and both queue one.
    """
    period = ESCALATION_PERIOD if party.endswith("_coordinator") else NOTICE_PERIOD
    key = f"message:{referral.id}:{party}:{now.astimezone(TIME_ZONE).strftime(period)}"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        return
    side = "receiver" if party.startswith("receiver") else "sender"
    row = {
        "dedupe_key": key,
        "template": TEMPLATE,
        "referral_id": referral.id,
        "event_id": event_id,
        "recipient_party": party,
        "recipient_organization_id": getattr(referral, f"{side}_organization_id"),
        "created_at": now,
        "available_at": now,
    }
    table = OutboxMessage.__table__
    note_queued(session, session.execute(insert(table).returning(table.c.id), [row]).scalars())

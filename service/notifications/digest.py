"""The daily digest: each morning, one email to each person who has referrals waiting on her side.

Waiting on her side means the referral's current state waits on her
organization's party (the protocol's `waits_on`): a coordinator hears about
all of her organization's referrals, anyone else about those she opened and
those her organization received. Overdue ones (their state's deadline has
passed) are counted apart. Nothing waiting, no email. The email gives counts,
referral numbers and links: never anything about the woman.

A referral whose consent has lapsed (withdrawn or expired, see
`consent_expiry`) is in no digest: Maillage sends nothing more about it. The
outbox checks again when it sends a digest (`leave_out_lapsed`), as her
consent may lapse between the morning's queuing and the sending.

Domain code: no Flask, no Celery. The worker's periodic task calls `queue_digests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.clock import Clock
from service.clock import utcnow
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.referrals.consent_expiry import lapsed_among
from service.referrals.models import Referral
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary

TEMPLATE = "daily_digest"
# The digests that list referral numbers, and the payload's lists they hold them in: the messages'
# digest (`service.referrals.message_digest`) names referrals too, with a count each.
LISTS_OF = {TEMPLATE: ("overdue", "waiting"), "message_digest": ("unread",)}
# People who act on referrals; the regional admin sees only figures.
READERS = (Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT)


@dataclass
class Waiting:
    """Referral numbers waiting on one person's side, overdue ones apart."""

    overdue: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.overdue or self.waiting)


def waiting_on(session: Session, protocols: ProtocolLibrary, user: User, now: datetime) -> Waiting:
    """The referrals waiting on `user`'s side at `now`, in number order; none whose consent has lapsed."""
    organization_id = user.organization_id
    mine = Referral.receiver_organization_id == organization_id
    if user.role == Role.COORDINATOR:
        mine = or_(mine, Referral.sender_organization_id == organization_id)
    else:
        mine = or_(
            mine, (Referral.sender_organization_id == organization_id) & (Referral.created_by_id == user.id)
        )
    # Only states that wait on someone are read: finished referrals pile up, these do not.
    waiting_states = {
        name for p in protocols for name, s in p.states.items() if s.waits_on and not s.terminal
    }
    query = select(Referral).where(mine, Referral.state.in_(waiting_states)).order_by(Referral.id)
    referrals = list(session.scalars(query))
    lapsed = lapsed_among(session, (referral.id for referral in referrals), now)
    found = Waiting()
    for referral in referrals:
        if referral.id in lapsed:
            continue
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        spec = protocol.states[referral.state]
        side = "sender" if referral.sender_organization_id == organization_id else "receiver"
        if spec.terminal or spec.waits_on != side:
            continue
        due = protocol.due_at(referral.state, referral.state_entered_at, 0, referral.parameters)
        (found.overdue if due is not None and due <= now else found.waiting).append(referral.id)
    return found


def queue_digests(
    session: Session, protocols: ProtocolLibrary, *, from_hour: int = 7, clock: Clock = utcnow
) -> int:
    """Queue today's digest for each active person with something waiting; returns how many. Commits.

    Once a day (Montréal's day), from `from_hour` o'clock: the dedupe key
    `digest:{user id}:{date}` keeps a second run that day from queuing another.
    """
    now = clock()
    local = now.astimezone(TIME_ZONE)
    if local.hour < from_hour:
        return 0
    day = local.date().isoformat()
    done = set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(f"digest:%:{day}"))
        )
    )
    people = session.scalars(
        select(User)
        .where(User.active.is_(True), User.organization_id.is_not(None), User.role.in_(READERS))
        .order_by(User.id)
    )
    rows = []
    for user in people:
        key = f"digest:{user.id}:{day}"
        if key in done:
            continue
        waiting = waiting_on(session, protocols, user, now)
        if not waiting:
            continue
        rows.append(
            {
                "dedupe_key": key,
                "template": TEMPLATE,
                "recipient_party": "user",
                "recipient_organization_id": user.organization_id,
                "payload": {
                    "user_id": user.id,
                    "day": day,
                    "overdue": waiting.overdue,
                    "waiting": waiting.waiting,
                    "path": "/",
                },
                "created_at": now,
                "available_at": now,
            }
        )
    return queue_rows(session, rows)


def leave_out_lapsed(session: Session, messages: Sequence[OutboxMessage], now: datetime) -> dict[int, str]:
    """Take out of these digests the referrals whose consent has lapsed at `now`; the caller commits.

    Returns, by message id, the lapse's reason code for the digests left with
    nothing to say: those are not to be sent. Other messages are left alone.
    """
    digests = {m.id: (m, m.payload or {}, LISTS_OF[m.template]) for m in messages if m.template in LISTS_OF}
    named = {
        number for _m, payload, lists in digests.values() for key in lists for number in payload.get(key, [])
    }
    lapsed = lapsed_among(session, named, now)
    emptied: dict[int, str] = {}
    for message, payload, lists in digests.values():
        left_out = [number for key in lists for number in payload.get(key, []) if number in lapsed]
        if not left_out:
            continue
        # A new dict, so that the JSON column sees the change.
        kept = {key: [number for number in payload.get(key, []) if number not in lapsed] for key in lists}
        message.payload = {**payload, **kept}
        if not any(kept.values()):
            emptied[message.id] = lapsed[min(left_out)]
    return emptied


def queue_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the rows and commit; a run alongside that queued them first wins, and this one adds none."""
    if not rows:
        return 0
    try:
        queued = session.execute(insert(OutboxMessage).returning(OutboxMessage.id), rows).scalars()
        note_queued(session, queued)
        session.commit()
    except IntegrityError:
        session.rollback()
        return 0
    return len(rows)

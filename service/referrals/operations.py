"""The operations that change a referral. Each one commits once, or changes nothing.

Pages, the API and the worker all come through here; none of them writes a
referral's state, its event log or its outbox by any other road.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.errors import ConcurrentUpdate
from service.errors import NotAllowed
from service.errors import ReferralError
from service.errors import ReferralNotFound
from service.notifications.models import OutboxMessage
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from workflows.loader import ProtocolLibrary
from workflows.protocol import Notification


@dataclass(frozen=True)
class PersonDetails:
    """What the receiving organization needs to reach her, and how not to endanger her."""

    name: str = ""
    phone: str = ""
    email: str = ""
    language: str = ""
    contact_preferences: str = ""
    safety_constraints: str = ""
    notes: str = ""


def open_referral(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    receiver_organization_id: int,
    protocol_name: str,
    parameters: dict[str, str] | None = None,
    need_codes: Iterable[str] = (),
    urgent: bool = False,
    person: PersonDetails | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Start a referral as a draft of the newest version of `protocol_name`."""
    if actor.organization_id is None or actor.organization_id == receiver_organization_id:
        raise NotAllowed("open", frozenset())
    protocol = protocols.get(protocol_name)
    resolved = protocol.resolve_parameters(parameters or {})
    now = clock()
    referral = Referral(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        parameters=resolved,
        urgent=urgent,
        sender_organization_id=actor.organization_id,
        receiver_organization_id=receiver_organization_id,
        created_by_id=actor.user_id,
        state=protocol.initial,
        state_entered_at=now,
        deadline_step=0,
        due_at=protocol.due_at(protocol.initial, now, 0, resolved),
        last_seq=1,
        created_at=now,
    )
    codes = list(need_codes)
    if codes:
        referral.needs = list(session.scalars(select(Need).where(Need.code.in_(codes))))
    session.add(referral)
    session.flush()
    if person is not None:
        session.add(ReferralPerson(referral_id=referral.id, **person.__dict__))
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            seq=1,
            kind="opened",
            to_state=referral.state,
            actor_user_id=actor.user_id,
            actor_party="sender",
            at=now,
        )
    )
    session.commit()
    return referral


def record_consent(
    session: Session,
    referral_id: int,
    actor: Actor,
    *,
    method: str,
    shared_with: str,
    purpose: str,
    expires_at: datetime | None = None,
    clock: Clock = utcnow,
) -> Consent:
    """Record the woman's consent, as given to the sending organization."""
    referral = _lock(session, referral_id, actor)
    if "sender" not in actor.parties(referral):
        session.rollback()
        raise NotAllowed("record_consent", actor.parties(referral))
    consent = Consent(
        referral_id=referral.id,
        method=method,
        shared_with=shared_with,
        purpose=purpose,
        given_at=clock(),
        expires_at=expires_at,
        recorded_by_id=actor.user_id,
    )
    session.add(consent)
    session.commit()
    return consent


def fire(
    session: Session,
    protocols: ProtocolLibrary,
    referral_id: int,
    trigger: str,
    actor: Actor,
    *,
    reason: str | None = None,
    comment: str | None = None,
    target_organization_id: int | None = None,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Move a referral by `trigger`: state, event-log row, outbox rows and next deadline, in one commit."""
    try:
        referral = _lock(session, referral_id, actor)
        if expected_version is not None and referral.version != expected_version:
            raise ConcurrentUpdate(referral_id)
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        parties = actor.parties(referral)
        now = clock()
        outcome = protocol.fire(
            referral,
            trigger,
            parties=parties,
            now=now,
            reason=reason,
            comment=comment,
            parameters=referral.parameters,
            target_organization=target_organization_id,
        )
        referral.state_entered_at = now
        referral.deadline_step = 0
        referral.due_at = outcome.due_at
        event = _log(
            session,
            referral,
            kind="transition",
            trigger=trigger,
            from_state=outcome.source,
            actor=actor,
            party=min(parties & outcome.transition.parties),
            at=now,
            comment=comment,
            reason_code=reason,
            target_organization_id=target_organization_id,
        )
        _notify(session, referral, event, outcome.notifications, now)
        session.commit()
    except (StaleDataError, OperationalError) as error:
        session.rollback()
        # SQLite answers a competing writer with "database is locked"; any other
        # operational error is not ours to disguise.
        if isinstance(error, OperationalError) and "locked" not in str(error):
            raise
        raise ConcurrentUpdate(referral_id) from error
    except ReferralError:
        session.rollback()
        raise
    return referral


def run_due_deadline(
    session: Session, protocols: ProtocolLibrary, referral_id: int, *, clock: Clock = utcnow
) -> bool:
    """Carry out the referral's deadline step if it is due: log it, notify, set the next one.

    Returns False, doing nothing, when the step is not (or no longer) due, so a
    sweep that runs twice, or two sweeps at once, act once.
    """
    system = Actor.system()
    referral = _lock(session, referral_id, system)
    now = clock()
    if referral.due_at is None or referral.due_at > now:
        session.rollback()
        return False
    protocol = protocols.get(referral.protocol_name, referral.protocol_version)
    step = protocol.deadline_step(referral.state, referral.deadline_step)
    if step is None:
        referral.due_at = None
        session.commit()
        return False
    referral.deadline_step += 1
    referral.due_at = protocol.due_at(
        referral.state, referral.state_entered_at, referral.deadline_step, referral.parameters
    )
    event = _log(
        session,
        referral,
        kind=step.kind,
        trigger=None,
        from_state=referral.state,
        actor=system,
        party="system",
        at=now,
    )
    notifications = tuple(Notification(n.template, n.to) for n in step.notify)
    _notify(session, referral, event, notifications, now)
    session.commit()
    return True


def due_referral_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Referrals whose next deadline step has come, oldest first (an index scan on `due_at`)."""
    query = select(Referral.id).where(Referral.due_at <= now).order_by(Referral.due_at).limit(limit)
    return list(session.scalars(query))


def _lock(session: Session, referral_id: int, actor: Actor) -> Referral:
    """The referral, locked for this transaction; hidden from organizations that are not party to it."""
    query = (
        select(Referral)
        .where(Referral.id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    referral = session.scalars(query).one_or_none()
    if referral is None or not actor.parties(referral):
        session.rollback()
        raise ReferralNotFound(referral_id)
    return referral


def _log(
    session: Session,
    referral: Referral,
    *,
    kind: str,
    trigger: str | None,
    from_state: str | None,
    actor: Actor,
    party: str,
    at: datetime,
    comment: str | None = None,
    reason_code: str | None = None,
    target_organization_id: int | None = None,
) -> ReferralEvent:
    referral.last_seq += 1
    event = ReferralEvent(
        referral_id=referral.id,
        seq=referral.last_seq,
        kind=kind,
        trigger=trigger,
        from_state=from_state,
        to_state=referral.state,
        actor_user_id=actor.user_id,
        actor_party=party,
        at=at,
        comment=comment,
        reason_code=reason_code,
        target_organization_id=target_organization_id,
    )
    session.add(event)
    return event


def _notify(
    session: Session,
    referral: Referral,
    event: ReferralEvent,
    notifications: Iterable[Notification],
    now: datetime,
) -> None:
    for notification in notifications:
        side = "sender" if notification.to.startswith("sender") else "receiver"
        organization_id = (
            referral.sender_organization_id if side == "sender" else referral.receiver_organization_id
        )
        session.add(
            OutboxMessage(
                dedupe_key=f"referral:{referral.id}:{event.seq}:{notification.template}:{notification.to}",
                template=notification.template,
                referral_id=referral.id,
                event=event,
                recipient_party=notification.to,
                recipient_organization_id=organization_id,
                created_at=now,
                available_at=now,
            )
        )

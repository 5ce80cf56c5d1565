"""The operations that change a referral. Each one commits once, or changes nothing.

Pages, the API and the worker all come through here; none of them writes a
referral's state, its event log or its outbox by any other road.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.directory.models import Organization
from service.documents.erasure import erase_documents
from service.errors import ConcurrentUpdate
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ReferralNotFound
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor
from service.referrals.consent_expiry import WITHDRAWAL_NOTICE
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from workflows.loader import ProtocolLibrary
from workflows.protocol import Notification

# Who opens referrals and prepares them (needs, partner, her details, consent): a
# partner contact answers referrals, the regional admin sees only figures.
MAY_OPEN = frozenset({Role.CASEWORKER, Role.COORDINATOR})
# A transition that needs a target organization hands the woman over to it: firing it
# opens a linked draft to that organization (see `fire`).
REDIRECT_GUARD = "target_organization_given"
# The event-log kind of a withdrawal of her consent.
WITHDRAWAL_KIND = "withdrawal"


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
    agreement_id: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Start a referral as a draft of the newest version of `protocol_name`.

    `agreement_id` names the referral agreement between the two organizations
    whose protocol and parameters the referral follows, if any.
    """
    if (
        actor.organization_id is None
        or actor.organization_id == receiver_organization_id
        or actor.role not in MAY_OPEN
    ):
        raise NotAllowed("open", frozenset())
    protocol = protocols.get(protocol_name)
    resolved = protocol.resolve_parameters(parameters or {})
    now = clock()
    referral = Referral(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        agreement_id=agreement_id,
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
    referral = lock_referral(session, referral_id, actor)
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


def withdraw_consent(
    session: Session,
    referral_id: int,
    actor: Actor,
    *,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """She took back her consent: end every consent valid now, in the event log, and tell the receiver.

    From then on the outbox silences the referral's messages (see
    `consent_expiry.silenced`), the receiving organization no longer sees
    her details, and the documents attached are erased, from the store too.
    If the referral was ever sent, the receiving organization is
    told, in the same commit, to stop using what it received (an email with
    no personal data). Only her sending organization's caseworkers and
    coordinators may record it; with no valid consent left to withdraw, the
    page was out of date (`InvalidTransition`).
    """
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        parties = actor.parties(referral)
        if "sender" not in parties or actor.role not in MAY_OPEN:
            raise NotAllowed("withdraw_consent", parties)
        if expected_version is not None and referral.version != expected_version:
            raise ConcurrentUpdate(referral_id)
        now = clock()
        valid = [consent for consent in referral.consents if consent.is_valid(now)]
        if not valid:
            raise InvalidTransition("withdraw_consent", referral.state)
        for consent in valid:
            consent.withdrawn_at = now
        event_id = log_event(
            session,
            referral,
            kind=WITHDRAWAL_KIND,
            trigger=None,
            actor=actor,
            party="sender",
            at=now,
        )
        if was_sent(referral):
            _notify(session, referral, event_id, [Notification(WITHDRAWAL_NOTICE, "receiver")], now)
        # Her paper was shared under the consent she took back: the documents go, from the store too.
        erase_documents(session, referral.id)
        audit(session, "consent.withdrawn", actor, now, referral_id=referral.id)
        session.commit()
    return referral


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
    """Move a referral by `trigger`: state, event-log row, outbox rows and next deadline, in one commit.

    A transition that needs a target organization (the `target_organization_given`
    guard: a redirect) also opens, in the same commit, a linked draft to that
    organization; see `_open_redirected`. A target organization given to any
    transition (a redirect, or the other resource a decline suggests) must
    exist and be neither of the referral's two organizations.
    """
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        if expected_version is not None and referral.version != expected_version:
            raise ConcurrentUpdate(referral_id)
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        parties = actor.parties(referral)
        now = clock()
        outcome = protocol.fire(
            Moving(referral),
            trigger,
            parties=parties,
            now=now,
            reason=reason,
            comment=comment,
            parameters=referral.parameters,
            target_organization=target_organization_id,
        )
        if target_organization_id is not None:
            # After the protocol's own checks, which say first why an action is refused.
            _check_target(session, referral, trigger, target_organization_id)
        event_id = log_event(
            session,
            referral,
            kind="transition",
            trigger=trigger,
            actor=actor,
            party=min(parties & outcome.transition.parties),
            at=now,
            comment=comment,
            reason_code=reason,
            target_organization_id=target_organization_id,
            position=Position(outcome.dest, now, 0, outcome.due_at),
        )
        _notify(session, referral, event_id, outcome.notifications, now)
        if REDIRECT_GUARD in outcome.transition.guards and target_organization_id is not None:
            _open_redirected(session, protocols, referral, actor, target_organization_id, now)
        session.commit()
    return referral


def run_due_deadline(
    session: Session, protocols: ProtocolLibrary, referral_id: int, *, clock: Clock = utcnow
) -> bool:
    """Carry out the referral's deadline step if it is due: log it, notify, set the next one.

    Returns False, doing nothing, when the step is not (or no longer) due, so a
    sweep that runs twice, or two sweeps at once, act once.
    """
    system = Actor.system()
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, system)
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
        next_step = referral.deadline_step + 1
        due_at = protocol.due_at(referral.state, referral.state_entered_at, next_step, referral.parameters)
        event_id = log_event(
            session,
            referral,
            kind=step.kind,
            trigger=None,
            actor=system,
            party="system",
            at=now,
            position=Position(referral.state, referral.state_entered_at, next_step, due_at),
        )
        notifications = tuple(Notification(n.template, n.to) for n in step.notify)
        _notify(session, referral, event_id, notifications, now)
        session.commit()
    return True


def due_referral_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Referrals whose next deadline step has come, oldest first (an index scan on `due_at`)."""
    query = select(Referral.id).where(Referral.due_at <= now).order_by(Referral.due_at).limit(limit)
    return list(session.scalars(query))


def update_draft(
    session: Session,
    protocols: ProtocolLibrary,
    referral_id: int,
    actor: Actor,
    *,
    receiver_organization_id: int,
    protocol_name: str,
    parameters: dict[str, str] | None = None,
    need_codes: Iterable[str] = (),
    urgent: bool = False,
    person: PersonDetails | None = None,
    agreement_id: int | None = None,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Change what a draft says before it is sent; only its sending side may, only while a draft.

    The change is logged as an "edited" event. Choosing another receiving
    organization withdraws the consent recorded so far: she agreed to share
    with the first one, and Law 25 consent names its recipient.
    """
    protocol = protocols.get(protocol_name)
    resolved = protocol.resolve_parameters(parameters or {})
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        parties = actor.parties(referral)
        if "sender" not in parties or actor.role not in MAY_OPEN:
            raise NotAllowed("edit", parties)
        current = protocols.get(referral.protocol_name, referral.protocol_version)
        if referral.state != current.initial:
            raise InvalidTransition("edit", referral.state)
        if expected_version is not None and referral.version != expected_version:
            raise ConcurrentUpdate(referral_id)
        if receiver_organization_id == referral.sender_organization_id:
            raise NotAllowed("edit", parties)
        now = clock()
        if receiver_organization_id != referral.receiver_organization_id:
            for consent in referral.consents:
                if consent.withdrawn_at is None:
                    consent.withdrawn_at = now
        referral.receiver_organization_id = receiver_organization_id
        referral.protocol_name = protocol.name
        referral.protocol_version = protocol.version
        referral.agreement_id = agreement_id
        referral.parameters = resolved
        referral.urgent = urgent
        referral.needs = list(session.scalars(select(Need).where(Need.code.in_(list(need_codes)))))
        referral.due_at = protocol.due_at(
            protocol.initial, referral.state_entered_at, referral.deadline_step, resolved
        )
        stored = session.get(ReferralPerson, referral.id)
        details = (person or PersonDetails()).__dict__
        if stored is None:
            session.add(ReferralPerson(referral_id=referral.id, **details))
        else:
            for name, value in details.items():
                setattr(stored, name, value)
        log_event(
            session,
            referral,
            kind="edited",
            trigger=None,
            actor=actor,
            party="sender",
            at=now,
        )
        session.commit()
    return referral


def parties_seeing(session: Session, referral: Referral, actor: Actor) -> frozenset[str]:
    """The parties `actor` stands for on `referral` as far as seeing it goes (`Actor.parties_seeing`)."""
    return actor.parties_seeing(referral, sent=was_sent(referral))


SHARING_TRIGGER = "send"


def was_sent(referral: Referral) -> bool:
    """Whether the referral was ever sent, i.e. shared with its receiving organization."""
    return referral.sent_at is not None


def read_person(
    session: Session,
    referral_id: int,
    actor: Actor,
    *,
    signed_link_id: int | None = None,
    clock: Clock = utcnow,
) -> PersonDetails | None:
    """The woman's details for someone who may see them, with the read audited ("person.read").

    Her sending organization always may; the receiving one while a consent is
    valid (her consent is what lets it know her). None when there is nothing
    to show; ReferralNotFound for anyone else, the regional admin included.
    """
    referral = session.get(Referral, referral_id)
    parties = parties_seeing(session, referral, actor) if referral is not None else frozenset()
    if not parties - {"system"}:
        raise ReferralNotFound(referral_id)
    now = clock()
    if "sender" not in parties and not referral.has_valid_consent(now):
        return None
    stored = session.scalar(select(ReferralPerson).where(ReferralPerson.referral_id == referral_id))
    if stored is None:
        return None
    audit(session, "person.read", actor, now, referral_id=referral_id, signed_link_id=signed_link_id)
    session.commit()
    return details_of(stored)


def details_of(person: ReferralPerson) -> PersonDetails:
    """Her stored details as the operations take them."""
    return PersonDetails(
        name=person.name,
        phone=person.phone,
        email=person.email,
        language=person.language,
        contact_preferences=person.contact_preferences,
        safety_constraints=person.safety_constraints,
        notes=person.notes,
    )


def _check_target(session: Session, referral: Referral, trigger: str, organization_id: int) -> None:
    if organization_id in (
        referral.sender_organization_id,
        referral.receiver_organization_id,
    ) or not session.get(Organization, organization_id):
        raise GuardFailed(trigger, REDIRECT_GUARD)


def _open_redirected(
    session: Session,
    protocols: ProtocolLibrary,
    original: Referral,
    actor: Actor,
    organization_id: int,
    now: datetime,
) -> Referral:
    """A draft to the organization a referral was redirected to, in the redirect's transaction.

    The sender stays the original sending organization (her caseworker owns the
    relationship with the woman) and must record a new consent before sending:
    consent names its recipient, so none is copied. The needs and her details
    are; the protocol is the same one, in its newest version.
    """
    protocol = protocols.get(original.protocol_name)
    parameters = protocol.resolve_parameters({})
    linked = Referral(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        parameters=parameters,
        urgent=original.urgent,
        sender_organization_id=original.sender_organization_id,
        receiver_organization_id=organization_id,
        created_by_id=original.created_by_id,
        redirected_from_id=original.id,
        state=protocol.initial,
        state_entered_at=now,
        deadline_step=0,
        due_at=protocol.due_at(protocol.initial, now, 0, parameters),
        last_seq=1,
        created_at=now,
    )
    linked.needs = list(original.needs)
    session.add(linked)
    session.flush()
    person = session.scalar(select(ReferralPerson).where(ReferralPerson.referral_id == original.id))
    if person is not None:
        session.add(ReferralPerson(referral_id=linked.id, **details_of(person).__dict__))
        audit(session, "person.copied", actor, now, referral_id=original.id)
    session.add(
        ReferralEvent(
            referral_id=linked.id,
            seq=1,
            kind="opened",
            to_state=linked.state,
            actor_user_id=None,
            actor_party="system",
            at=now,
            # Stored in the network's language; the pages say it in the reader's.
            comment=f"Ouvert par la redirection du référencement n° {original.id}.",
        )
    )
    return linked


# Built once: every action runs it, and building it each time cost as much as running it.
LOCK_REFERRAL = (
    select(Referral)
    .where(Referral.id == bindparam("referral_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_referral(session: Session, referral_id: int, actor: Actor) -> Referral:
    """The referral, locked for this transaction; `ReferralNotFound` for whoever may not see it.

    The seeing rule (`parties_seeing`): an action on a referral the actor may not see, such as a
    draft not yet sent to the actor's organization, answers as for an id with no referral behind it.
    """
    referral = session.scalars(LOCK_REFERRAL, {"referral_id": referral_id}).one_or_none()
    if referral is None or not parties_seeing(session, referral, actor):
        session.rollback()
        raise ReferralNotFound(referral_id)
    return referral


@dataclass(frozen=True)
class Position:
    """Where a referral stands in its protocol: its state since when, and its next deadline step."""

    state: str
    entered_at: datetime
    deadline_step: int
    due_at: datetime | None

    @classmethod
    def of(cls, referral: Referral) -> Position:
        return cls(referral.state, referral.state_entered_at, referral.deadline_step, referral.due_at)


class Moving:
    """What a protocol's machine moves in `fire`: the referral's state, apart from the mapped row.

    The machine sets `state` on what it moves. Kept off the row, the move is written once,
    with the event that records it (`log_event`), by one UPDATE on the table: the unit of
    work's flush of a changed row cost twice that, on every action (bench/api.py).
    """

    def __init__(self, referral: Referral) -> None:
        self.referral = referral
        self.state = referral.state

    def has_valid_consent(self, now: datetime) -> bool:
        return self.referral.has_valid_consent(now)


# Built once, as LOCK_REFERRAL: the writes of every action. The version condition is the one the mapper's
# `version_id_col` would add: a writer that read an older row changes nothing.
_REFERRALS = Referral.__table__
SAVE_REFERRAL = (
    update(_REFERRALS)
    .where(_REFERRALS.c.id == bindparam("referral_id"), _REFERRALS.c.version == bindparam("seen"))
    .values(
        state=bindparam("state"),
        state_entered_at=bindparam("state_entered_at"),
        deadline_step=bindparam("deadline_step"),
        due_at=bindparam("due_at"),
        sent_at=bindparam("sent_at"),
        last_seq=bindparam("last_seq"),
        version=bindparam("version"),
    )
)
APPEND_EVENT = insert(ReferralEvent.__table__).returning(ReferralEvent.__table__.c.id)
QUEUE_MESSAGES = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def log_event(
    session: Session,
    referral: Referral,
    *,
    kind: str,
    trigger: str | None,
    actor: Actor,
    party: str,
    at: datetime,
    comment: str | None = None,
    reason_code: str | None = None,
    target_organization_id: int | None = None,
    position: Position | None = None,
) -> int:
    """Append the referral's next event-log row and save the referral with it; returns the row's id.

    `position` is where the event leaves the referral (a transition, a deadline step);
    by default it stays where it stood. Either way the referral's row gets the new
    sequence number and a new version, so a page or client holding the old one is
    told the referral changed.
    """
    # What the caller changed through the mapped objects goes first (a draft's edit), so that
    # the version read here is the row's; with nothing changed this costs no statement.
    session.flush()
    before = Position.of(referral)
    after = position or before
    saved = {
        "state": after.state,
        "state_entered_at": after.entered_at,
        "deadline_step": after.deadline_step,
        "due_at": after.due_at,
        # The first sending is the one that shares it with the receiver: a later one changes nothing.
        "sent_at": at if referral.sent_at is None and trigger == SHARING_TRIGGER else referral.sent_at,
        "last_seq": referral.last_seq + 1,
        "version": referral.version + 1,
    }
    written = session.execute(SAVE_REFERRAL, {"referral_id": referral.id, "seen": referral.version, **saved})
    if written.rowcount != 1:
        raise ConcurrentUpdate(referral.id)
    for name, value in saved.items():
        # The object shows what the row now holds, with nothing left for the unit of work to flush.
        set_committed_value(referral, name, value)
    # Plain INSERTs on the table too: these rows are only ever appended, and this is
    # the hot path of every action (bench/transitions.py, bench/api.py).
    row = {
        "referral_id": referral.id,
        "seq": referral.last_seq,
        "kind": kind,
        "trigger": trigger,
        "from_state": before.state,
        "to_state": after.state,
        "actor_user_id": actor.user_id,
        "actor_party": party,
        "at": at,
        "comment": comment,
        "reason_code": reason_code,
        "target_organization_id": target_organization_id,
    }
    return session.execute(APPEND_EVENT, row).scalar_one()


def _notify(
    session: Session,
    referral: Referral,
    event_id: int,
    notifications: Iterable[Notification],
    now: datetime,
) -> None:
    """Queue the protocol's messages in the outbox, in the caller's transaction."""
    rows = []
    for notification in notifications:
        side = "sender" if notification.to.startswith("sender") else "receiver"
        rows.append(
            {
                "dedupe_key": ":".join(
                    (
                        "referral",
                        str(referral.id),
                        str(referral.last_seq),
                        notification.template,
                        notification.to,
                    )
                ),
                "template": notification.template,
                "referral_id": referral.id,
                "event_id": event_id,
                "recipient_party": notification.to,
                "recipient_organization_id": getattr(referral, f"{side}_organization_id"),
                "created_at": now,
                "available_at": now,
            }
        )
    if rows:
        # On the table, as `log_event`: only their ids are read back, to send them once this commits.
        note_queued(session, session.execute(QUEUE_MESSAGES, rows).scalars())


# PostgreSQL's lock timeout, deadlock and serialization failure; SQLite's busy database.
CONTENTION_CODES = frozenset({"55P03", "40P01", "40001"})


@contextmanager
def all_or_nothing(session: Session, referral_id: int) -> Iterator[None]:
    """Roll back what the block wrote if it fails; another transaction in the way is `ConcurrentUpdate`.

    The block commits itself, once, when everything it wrote belongs together.
    """
    try:
        yield
    except Exception as error:
        session.rollback()
        if is_contention(error):
            raise ConcurrentUpdate(referral_id) from error
        raise


def is_contention(error: Exception) -> bool:
    """Whether `error` is another transaction in the way (a lock, a deadlock, a busy SQLite): retry later."""
    if not isinstance(error, OperationalError):
        return False
    return getattr(error.orig, "sqlstate", None) in CONTENTION_CODES or "database is locked" in str(
        error.orig
    )

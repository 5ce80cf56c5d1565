"""The operations that change a request between partner organizations. Each one commits once, or
changes nothing.

A request follows a protocol of subject `partnership_request` (workflows/protocols/loan.v1.yaml,
activity, presentation, session, mobilization): every state change goes through `service.machine`,
the road join requests take too: lock, fire, log, queue the emails, set the next deadline. When a
request ends, a trace is written on the partnership of the two organizations (`traces.py`). Pages,
signed links, the yearly presentation reminder and the worker's sweep all come through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.directory.models import Partnership
from service.errors import ConcurrentUpdate
from service.errors import NotAllowed
from service.errors import ProtocolNotFound
from service.errors import ReferralError
from service.machine import SubjectTables
from service.machine import due_ids
from service.machine import lock
from service.machine import move
from service.machine import run_due_step
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.traces import write_trace
from service.referrals.actors import REFERRAL_ROLES
from service.referrals.actors import SYSTEM
from service.referrals.actors import Actor
from service.referrals.operations import all_or_nothing
from workflows.checks import ASKING_TRIGGER
from workflows.loader import ProtocolLibrary
from workflows.protocol import Notification
from workflows.protocol import Protocol
from workflows.protocol import field_moment

SUBJECT = "partnership_request"
MOBILIZATION = "mobilization"
PRESENTATION = "presentation"
# Pages the emails link to; the request's or the mobilization's number follows.
REQUEST_PATH = "/partnership-requests/"
LINK_PATH = "/partnership-requests/link/"
MOBILIZATION_PATH = "/mobilizations/"
# The fields whose value is a request's main date, the first one set wins (`happens_at`).
MAIN_DATES = ("starts_at", "answer_by")


class RequestNotFound(ReferralError):
    """No such request, or one the actor's organization is no party to (the same answer, on purpose)."""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        super().__init__(f"no partnership request {request_id}")


def _notify(
    session: Session,
    protocol: Protocol,
    request: PartnershipRequest,
    event: PartnershipRequestEvent,
    notifications: Iterable[Notification],
    now: datetime,
) -> None:
    """Queue the protocol's messages in the outbox, in the caller's transaction.

    The payload names the request and the event; who reads it and in which words is decided when it
    is composed (`service.partnership_requests.emails`). No field's value goes in it.
    """
    rows = []
    for notification in notifications:
        organization_id = (
            request.asking_organization_id
            if notification.to == "asking"
            else request.answering_organization_id
        )
        rows.append(
            OutboxMessage(
                dedupe_key=f"partnership_request:{request.id}:{event.seq}:{notification.template}:{notification.to}",
                template=notification.template,
                recipient_party=notification.to,
                recipient_organization_id=organization_id,
                payload={
                    "partnership_request_id": request.id,
                    "number": request.id,
                    "seq": event.seq,
                    "path": f"{REQUEST_PATH}{request.id}",
                },
                created_at=now,
                available_at=now,
            )
        )
    if rows:
        session.add_all(rows)
        session.flush()
        note_queued(session, [row.id for row in rows])


TABLES: SubjectTables[PartnershipRequest, PartnershipRequestEvent] = SubjectTables(
    model=PartnershipRequest,
    event_model=PartnershipRequestEvent,
    key="partnership_request_id",
    not_found=RequestNotFound,
    notify=_notify,
    fields_of=lambda request: request.fields,
)


def parties_of(actor: Actor, request: PartnershipRequest) -> frozenset[str]:
    """The protocol parties an actor stands for on a request: none for anyone but its two organizations."""
    if actor.role == SYSTEM:
        return frozenset({SYSTEM})
    if actor.role not in REFERRAL_ROLES or actor.organization_id is None:
        return frozenset()
    if actor.organization_id == request.asking_organization_id:
        return frozenset({"asking"})
    if actor.organization_id == request.answering_organization_id:
        return frozenset({"answering"})
    return frozenset()


def request_protocol(protocols: ProtocolLibrary, name: str, version: int | None = None) -> Protocol:
    """A protocol of subject `partnership_request`, or `ProtocolNotFound`."""
    protocol = protocols.get(name, version)
    if protocol.subject != SUBJECT:
        raise ProtocolNotFound(name, version)
    return protocol


def partnership_between(session: Session, first_id: int, second_id: int) -> Partnership | None:
    """The partnership of two organizations, if they have one (stored in id order)."""
    low, high = sorted((first_id, second_id))
    return session.scalar(
        select(Partnership).where(
            Partnership.first_organization_id == low, Partnership.second_organization_id == high
        )
    )


def ask(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    protocol_name: str,
    answering_organization_id: int,
    fields: Mapping[str, Any] | None = None,
    partnership_id: int | None = None,
    comment: str | None = None,
    clock: Clock = utcnow,
) -> PartnershipRequest:
    """Start a request of the newest version of `protocol_name` from the actor's organization; commits.

    The request is made in the protocol's initial state and asked at once by its `ask` trigger, so
    that what the other organization is told, and when it is reminded, is the protocol's to say.
    Raises `NotAllowed` (an actor who does not work for an organization, the same organization on
    both sides, an unknown one, a partnership of others), `ProtocolNotFound`, `FieldProblem`.
    """
    protocol = request_protocol(protocols, protocol_name)
    if actor.role not in REFERRAL_ROLES or actor.organization_id is None:
        raise NotAllowed(ASKING_TRIGGER, frozenset())
    if protocol.kind == MOBILIZATION:
        # One organization's invitation alone is no mobilization: `propose_mobilization` makes them.
        raise NotAllowed(ASKING_TRIGGER, frozenset())
    now = clock()
    with all_or_nothing(session, 0):
        request = _start(
            session,
            protocol,
            actor,
            frozenset({"asking"}),
            asking_organization_id=actor.organization_id,
            answering_organization_id=answering_organization_id,
            fields=fields,
            partnership_id=partnership_id,
            comment=comment,
            now=now,
        )
        session.commit()
    return request


def _start(
    session: Session,
    protocol: Protocol,
    actor: Actor,
    parties: frozenset[str],
    *,
    asking_organization_id: int,
    answering_organization_id: int,
    fields: Mapping[str, Any] | None,
    partnership_id: int | None = None,
    mobilization_id: int | None = None,
    comment: str | None = None,
    now: datetime,
) -> PartnershipRequest:
    """A new request, asked by its `ask` trigger, in the caller's transaction."""
    if (
        asking_organization_id == answering_organization_id
        or session.get(Organization, answering_organization_id) is None
    ):
        raise NotAllowed(ASKING_TRIGGER, frozenset())
    if partnership_id is not None:
        partnership = session.get(Partnership, partnership_id)
        pair = {asking_organization_id, answering_organization_id}
        if (
            partnership is None
            or {
                partnership.first_organization_id,
                partnership.second_organization_id,
            }
            != pair
        ):
            raise NotAllowed(ASKING_TRIGGER, frozenset())
    else:
        partnership = partnership_between(session, asking_organization_id, answering_organization_id)
    cleaned = protocol.clean_fields(ASKING_TRIGGER, fields)
    request = PartnershipRequest(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        kind=protocol.kind,
        partnership_id=partnership.id if partnership is not None else None,
        asking_organization_id=asking_organization_id,
        answering_organization_id=answering_organization_id,
        mobilization_id=mobilization_id,
        fields=cleaned,
        happens_at=main_date(protocol, cleaned),
        created_by_id=actor.user_id,
        state=protocol.initial,
        state_entered_at=now,
        deadline_step=0,
        due_at=None,
        last_seq=0,
        created_at=now,
    )
    session.add(request)
    session.flush()
    move(
        session,
        TABLES,
        protocol,
        request,
        ASKING_TRIGGER,
        actor,
        parties,
        now,
        comment=(comment or "").strip() or None,
        fields=cleaned or None,
    )
    return request


def fire(
    session: Session,
    protocols: ProtocolLibrary,
    request_id: int,
    trigger: str,
    actor: Actor,
    *,
    fields: Mapping[str, Any] | None = None,
    reason: str | None = None,
    comment: str | None = None,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> PartnershipRequest:
    """Move a request by `trigger`, recording the fields its form asks for; one commit.

    The state, the event-log row (with what was recorded), the outbox rows, the next deadline
    (which may count from a date just recorded) and, when the request ends, the trace on the
    partnership. Raises `RequestNotFound` for whoever is no party to it, `ConcurrentUpdate`, the
    engine's errors and `FieldProblem`; nothing is changed then.
    """
    with all_or_nothing(session, request_id):
        request = lock(session, TABLES, request_id, None)
        parties = parties_of(actor, request)
        if not parties:
            session.rollback()
            raise RequestNotFound(request_id)
        if expected_version is not None and request.version != expected_version:
            raise ConcurrentUpdate(request_id)
        protocol = request_protocol(protocols, request.protocol_name, request.protocol_version)
        now = clock()
        cleaned = _recorded(protocol, request, trigger, parties, fields)
        if cleaned:
            request.fields = {**request.fields, **cleaned}
            request.happens_at = main_date(protocol, request.fields)
        event = move(
            session,
            TABLES,
            protocol,
            request,
            trigger,
            actor,
            parties,
            now,
            reason=reason,
            comment=(comment or "").strip() or None,
            fields=cleaned or None,
        )
        if protocol.is_terminal(request.state):
            write_trace(session, protocol, request, event, actor, now)
        session.commit()
    return request


def _recorded(
    protocol: Protocol,
    request: PartnershipRequest,
    trigger: str,
    parties: frozenset[str],
    fields: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The fields `trigger` records, checked once the engine would take the trigger at all.

    A trigger not possible now, or not the actor's, is refused by the engine with its own error
    before any field is looked at: the page then says the request changed, not that a field is wrong.
    """
    candidates = [t for t in protocol.transitions if t.trigger == trigger and request.state in t.sources]
    if not candidates or not any(t.parties & parties for t in candidates):
        return {}
    return protocol.clean_fields(trigger, fields, request.fields)


def main_date(protocol: Protocol, fields: Mapping[str, Any]) -> datetime | None:
    """The request's main date: its first date field of `MAIN_DATES` that has a value."""
    for name in MAIN_DATES:
        spec = protocol.fields.get(name)
        if spec is not None and fields.get(name):
            return field_moment(spec, fields[name])
    return None


def propose_mobilization(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    title: str,
    text: str,
    answer_by: date,
    organization_ids: Iterable[int],
    clock: Clock = utcnow,
) -> Mobilization:
    """Propose a position or an action to other organizations: one invitation (a request of kind
    mobilization, asked at once) per invited organization, each to join or decline by `answer_by`."""
    if actor.role not in REFERRAL_ROLES or actor.organization_id is None:
        raise NotAllowed(ASKING_TRIGGER, frozenset())
    protocol = request_protocol(protocols, MOBILIZATION)
    invited = sorted({int(i) for i in organization_ids} - {actor.organization_id})
    if not invited or not title.strip():
        raise NotAllowed(ASKING_TRIGGER, frozenset())
    now = clock()
    with all_or_nothing(session, 0):
        mobilization = Mobilization(
            organization_id=actor.organization_id,
            title=title.strip(),
            text=text.strip(),
            answer_by=answer_by,
            created_by_id=actor.user_id,
            created_at=now,
        )
        session.add(mobilization)
        session.flush()
        for organization_id in invited:
            _start(
                session,
                protocol,
                actor,
                frozenset({"asking"}),
                asking_organization_id=actor.organization_id,
                answering_organization_id=organization_id,
                fields={"answer_by": answer_by.isoformat()},
                mobilization_id=mobilization.id,
                now=now,
            )
        session.commit()
    return mobilization


def open_presentation(
    session: Session, protocols: ProtocolLibrary, partnership: Partnership, *, now: datetime
) -> PartnershipRequest | None:
    """The yearly presentation of services of a partnership, opened by the system in the caller's
    transaction, unless one is open already; the first organization of the pair asks it."""
    protocol = request_protocol(protocols, PRESENTATION)
    open_ones = session.scalars(
        select(PartnershipRequest).where(
            PartnershipRequest.partnership_id == partnership.id, PartnershipRequest.kind == PRESENTATION
        )
    )
    if any(not _is_terminal(protocols, request) for request in open_ones):
        return None
    return _start(
        session,
        protocol,
        Actor.system(),
        frozenset({SYSTEM}),
        asking_organization_id=partnership.first_organization_id,
        answering_organization_id=partnership.second_organization_id,
        fields={},
        partnership_id=partnership.id,
        now=now,
    )


def _is_terminal(protocols: ProtocolLibrary, request: PartnershipRequest) -> bool:
    return protocols.get(request.protocol_name, request.protocol_version).is_terminal(request.state)


def run_due_deadline(
    session: Session, protocols: ProtocolLibrary, request_id: int, *, clock: Clock = utcnow
) -> bool:
    """Carry out the request's deadline step if it is due (reminder, escalation); commits."""
    return run_due_step(session, TABLES, protocols, request_id, clock=clock)


def due_request_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Requests whose next deadline step has come, oldest first."""
    return due_ids(session, PartnershipRequest, now, limit)

"""The operations that change a request to join the network. Each one commits once, or changes nothing.

A request is driven by a protocol of subject `join_request` (workflows/protocols/join_request.v1.yaml)
through the same machine as a referral: every state change goes through `service.machine`, which
locks the request, fires the trigger, writes the event-log row and the outbox rows and sets the next
deadline (the road requests between organizations take too); the caller commits once. The public
page, the regional admin's pages and the worker's sweep all come through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy.orm import Session

from service import machine
from service.accounts import team
from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.operations import OrganizationDetails
from service.directory.operations import add_organization
from service.join_requests.models import JoinRequest
from service.join_requests.models import JoinRequestEvent
from service.machine import SubjectTables
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor
from service.referrals.operations import all_or_nothing
from workflows.loader import ProtocolLibrary
from workflows.protocol import Notification
from workflows.protocol import Protocol

PROTOCOL = "join_request"
LANGUAGES = ("fr", "en")
# Where the regional admin answers a request; the request's number follows. Emails carry this link,
# never the contact's details.
REQUEST_PATH = "/join-requests/"
# The public page, where a declined organization may ask again.
PUBLIC_PATH = "/join"


class JoinRequestNotFound(LookupError):
    """No such request, or one the actor may not see (anyone but the regional admin)."""


class JoinRequestProblem(ValueError):
    """A request or an answer was refused; `code` says why, for the page's French message."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Application:
    """What an organization not yet in Maillage says of itself when it asks to join."""

    organization_name: str
    mandate: str
    territory: str
    contact_name: str
    contact_email: str
    contact_phone: str
    language: str = "fr"


def parties_of(actor: Actor) -> frozenset[str]:
    """The protocol parties an actor stands for on any request: the regional admin answers them all."""
    if actor.role == "system":
        return frozenset({"system"})
    if actor.role == Role.REGIONAL_ADMIN:
        return frozenset({"regional_admin"})
    return frozenset()


def submit(
    session: Session, protocols: ProtocolLibrary, application: Application, *, clock: Clock = utcnow
) -> JoinRequest:
    """Record a request from the public page and tell the regional admin; commits.

    The request is made in the protocol's initial state and sent at once by its `submit` trigger, so
    that what the regional admin is told, and when she is reminded, is the protocol's to say.
    """
    try:
        address = validate_email(application.contact_email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise JoinRequestProblem("bad_email") from None
    if application.language not in LANGUAGES:
        raise JoinRequestProblem("unknown_language")
    protocol = protocols.get(PROTOCOL)
    now = clock()
    request = JoinRequest(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        organization_name=application.organization_name.strip(),
        mandate=application.mandate.strip(),
        territory=application.territory.strip(),
        contact_name=application.contact_name.strip(),
        contact_email=address,
        contact_phone=application.contact_phone.strip(),
        language=application.language,
        consent_at=now,
        state=protocol.initial,
        state_entered_at=now,
        deadline_step=0,
        due_at=None,
        last_seq=0,
        created_at=now,
    )
    session.add(request)
    session.flush()
    requester = Actor(user_id=None, organization_id=None, role="requester")
    with all_or_nothing(session, request.id):
        _move(session, protocol, request, "submit", requester, frozenset({"requester"}), now)
        session.commit()
    return request


def accept(
    session: Session,
    protocols: ProtocolLibrary,
    request_id: int,
    actor: Actor,
    *,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> JoinRequest:
    """The organization joins: it is added to the directory and its contact invited as its first
    coordinator (the invitation email, in her language, is the answer), in one commit."""
    with all_or_nothing(session, request_id):
        request = _lock(session, request_id, actor, expected_version)
        protocol = protocols.get(request.protocol_name, request.protocol_version)
        now = clock()
        _move(session, protocol, request, "accept", actor, parties_of(actor), now)
        organization = add_organization(
            session,
            actor,
            OrganizationDetails(
                name=request.organization_name,
                mandate=request.mandate,
                territory=request.territory,
                # Her phone is hers: the organization's phone for referrals is its coordinator's to give.
            ),
            clock=clock,
        )
        invited = team.add_invitation(
            session,
            actor,
            organization.id,
            name=request.contact_name,
            email=request.contact_email,
            role=Role.COORDINATOR,
            language=request.language,
            clock=clock,
        )
        request.organization_id = organization.id
        request.invited_user_id = invited.id
        audit(session, "join_request.accepted", actor, now, subject_user_id=invited.id)
        session.commit()
    return request


def decline(
    session: Session,
    protocols: ProtocolLibrary,
    request_id: int,
    actor: Actor,
    *,
    reason: str | None,
    comment: str | None = None,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> JoinRequest:
    """Decline with a reason from the protocol's list; the requester is told it, in her language."""
    with all_or_nothing(session, request_id):
        request = _lock(session, request_id, actor, expected_version)
        protocol = protocols.get(request.protocol_name, request.protocol_version)
        now = clock()
        _move(
            session,
            protocol,
            request,
            "decline",
            actor,
            parties_of(actor),
            now,
            reason=reason,
            comment=(comment or "").strip() or None,
        )
        audit(session, "join_request.declined", actor, now)
        session.commit()
    return request


def run_due_deadline(
    session: Session, protocols: ProtocolLibrary, request_id: int, *, clock: Clock = utcnow
) -> bool:
    """Carry out the request's deadline step if it is due: log it, notify, set the next one.

    False, doing nothing, when it is not (or no longer) due: two sweeps at once act once.
    """
    return machine.run_due_step(session, TABLES, protocols, request_id, clock=clock)


def due_request_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Requests whose next deadline step has come, oldest first."""
    return machine.due_ids(session, JoinRequest, now, limit)


# The subject's tables and messages, for the machine (`service.machine`) --------------------------


def _notify(
    session: Session,
    protocol: Protocol,
    request: JoinRequest,
    event: JoinRequestEvent,
    notifications: Iterable[Notification],
    now: datetime,
) -> None:
    """Queue the protocol's messages in the outbox, in the caller's transaction.

    The payload says no more than the email needs: the request's number and the link to its page
    for the regional admin; for the requester, her organization's name and, when declined, the
    reason in her language. Her address is read from the request when the email is composed.
    """
    rows = []
    for notification in notifications:
        payload: dict[str, object] = {"number": request.id, "join_request_id": request.id}
        if notification.to == "regional_admin":
            payload["path"] = f"{REQUEST_PATH}{request.id}"
            party = "regional_admins"
        else:
            payload["path"] = PUBLIC_PATH
            payload["organization"] = request.organization_name
            if event.reason_code is not None:
                payload["reason"] = reason_label(protocol, event, request.language)
                payload["comment"] = event.comment or ""
            party = "requester"
        rows.append(
            OutboxMessage(
                dedupe_key=f"join_request:{request.id}:{event.seq}:{notification.template}:{notification.to}",
                template=notification.template,
                recipient_party=party,
                payload=payload,
                created_at=now,
                available_at=now,
            )
        )
    if rows:
        session.add_all(rows)
        session.flush()
        note_queued(session, [row.id for row in rows])


def reason_label(protocol: Protocol, event: JoinRequestEvent, language: str) -> str:
    """The label, in `language`, of the reason an event's transition was given."""
    lists = [t.reason for t in protocol.transitions if t.trigger == event.trigger and t.reason]
    reason = protocol.reasons[lists[0]][event.reason_code or ""]
    return reason.en if language == "en" else reason.fr


TABLES: SubjectTables[JoinRequest, JoinRequestEvent] = SubjectTables(
    model=JoinRequest,
    event_model=JoinRequestEvent,
    key="join_request_id",
    not_found=JoinRequestNotFound,
    notify=_notify,
)


def _move(
    session: Session,
    protocol: Protocol,
    request: JoinRequest,
    trigger: str,
    actor: Actor,
    parties: frozenset[str],
    now: datetime,
    *,
    reason: str | None = None,
    comment: str | None = None,
) -> JoinRequestEvent:
    """Fire `trigger` on the locked request, by the one road of every state change (`service.machine`)."""
    return machine.move(
        session, TABLES, protocol, request, trigger, actor, parties, now, reason=reason, comment=comment
    )


def _lock(session: Session, request_id: int, actor: Actor, expected_version: int | None) -> JoinRequest:
    """The request, locked for this transaction; `JoinRequestNotFound` for whoever may not see it."""
    if not parties_of(actor):
        session.rollback()
        raise JoinRequestNotFound(request_id)
    return machine.lock(session, TABLES, request_id, expected_version)

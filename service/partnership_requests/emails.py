"""What an outbox message about a request between organizations becomes: emails, in their language.

As for referrals: an organization with a referral address (read by whoever is on duty, perhaps a
partner without an account) gets it there, with a signed link when it is the answering organization;
otherwise its coordinators get it (or, with no coordinator, its staff), with the request's page. The
email names the two organizations, the request's kind and number, what happened and what is expected
by when; never a field's value, which people read on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.calendars.request_sources import request_invitation
from service.directory.models import Organization
from service.notifications.emails import ORGANIZATION_LANGUAGE
from service.notifications.emails import RECEIVING_ROLES
from service.notifications.emails import Email
from service.notifications.emails import Recipient
from service.notifications.emails import Staff
from service.notifications.emails import Undeliverable
from service.notifications.emails import _by_address
from service.notifications.emails import format_due
from service.notifications.emails import message_id
from service.notifications.emails import render
from service.notifications.models import OutboxMessage
from service.partnership_requests.links import add_request_link
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.operations import LINK_PATH
from service.partnership_requests.operations import REQUEST_PATH
from workflows.loader import ProtocolLibrary


def is_request_message(message: OutboxMessage) -> bool:
    return message.referral_id is None and bool((message.payload or {}).get("partnership_request_id"))


def request_recipients(session: Session, message: OutboxMessage, staff: Staff) -> list[Recipient]:
    """The organization's referral address if it has one, else its coordinators, else its staff."""
    organization = session.get(Organization, message.recipient_organization_id)
    if organization is None:
        raise Undeliverable(f"no_recipient:{message.recipient_party}")
    if organization.referral_email:
        return [Recipient(organization.referral_email, ORGANIZATION_LANGUAGE, organization_address=True)]
    people = staff.of(organization.id, (Role.COORDINATOR,)) or staff.of(organization.id, RECEIVING_ROLES)
    chosen = _by_address(people)
    if not chosen:
        raise Undeliverable(f"no_recipient:{message.recipient_party}")
    return chosen


def compose_request(
    session: Session,
    protocols: ProtocolLibrary,
    message: OutboxMessage,
    *,
    base_url: str,
    now: datetime,
    staff: Staff | None = None,
) -> list[Email]:
    """The emails of a message about a request; signed links are added to the session (the caller
    commits them before sending, as for referrals)."""
    payload = message.payload or {}
    request = session.get(PartnershipRequest, payload.get("partnership_request_id"))
    if request is None:
        raise Undeliverable("no_request")
    protocol = protocols.get(request.protocol_name, request.protocol_version)
    event = session.scalar(
        select(PartnershipRequestEvent).where(
            PartnershipRequestEvent.partnership_request_id == request.id,
            PartnershipRequestEvent.seq == payload.get("seq"),
        )
    )
    asking = session.get_one(Organization, request.asking_organization_id)
    answering = session.get_one(Organization, request.answering_organization_id)
    state = event.to_state if event is not None else request.state
    transition = (
        next((t for t in protocol.transitions if t.trigger == event.trigger), None)
        if event is not None
        else None
    )
    deadline = protocol.states[state].deadline
    # "By when" holds only while nothing has happened since the message's event.
    current = event is None or (request.last_seq == event.seq and request.state == state)
    due = request.due_at if current else None
    base = base_url.rstrip("/")
    emails = []
    for recipient in request_recipients(session, message, staff or Staff(session)):
        language = recipient.language
        context: dict[str, Any] = {
            "number": request.id,
            "title": protocol.spec.title.in_language(language),
            "asking": asking.name,
            "answering": answering.name,
            "state": protocol.states[state].title.in_language(language),
            "done": (transition.done if transition is not None else protocol.states[state].title).in_language(
                language
            ),
            "deadline": deadline.title.in_language(language) if deadline else "",
            "due": format_due(due, language) if due else "",
            "when": format_due(request.happens_at, language) if request.happens_at else "",
            "signed": False,
            "expires": "",
            "link": f"{base}{REQUEST_PATH}{request.id}",
        }
        if recipient.organization_address and message.recipient_organization_id == answering.id:
            link = add_request_link(session, request.id, answering.id, now=now)
            context.update(
                signed=True,
                link=f"{base}{LINK_PATH}{link.token}",
                expires=format_due(link.expires_at, language),
            )
        subject, text, html = render(message.template, language, **context)
        emails.append(
            Email(
                to=recipient.address,
                language=language,
                subject=subject,
                text=text,
                html=html,
                message_id=message_id(message.dedupe_key, recipient.address, base_url),
                # Its main date as an .ics while it is open, with the calendar feeds' uid.
                calendar=request_invitation(
                    session, protocols, request, language=language, base_url=base, now=now
                ),
            )
        )
    return emails

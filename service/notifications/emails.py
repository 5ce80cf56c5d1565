"""What an outbox message becomes: emails to the right people, in their language.

An email says which organization sent or answered, what is expected and by
when, and carries a link: a signed link for an organization's referral
address (a partner contact without an account), the referral's page for
people who have an account. It never carries the woman's personal data, in
the subject, the body or the headers: nothing here reads `ReferralPerson`.

Domain code: no Flask, no Celery. Templates are rendered with a Jinja
environment of our own and the same catalogs as the web app (the worker has
no request to take a language from).
"""

from __future__ import annotations

import email.policy
import hashlib
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.support import Translations
from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import StrictUndefined
from jinja2 import select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.one_time_links import Purpose
from service.accounts.one_time_links import issue
from service.calendars.invitations import invitation_for
from service.clock import utcnow
from service.dates import format_day
from service.dates import format_moment
from service.directory.models import Organization
from service.join_requests.models import JoinRequest
from service.links.operations import add_link
from service.notifications.models import OutboxMessage
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.web.catalogs import TRANSLATIONS
from service.web.catalogs import check_catalogs
from workflows.loader import TEMPLATES_FOLDER
from workflows.loader import ProtocolLibrary
from workflows.schema import inline

MONTREAL = ZoneInfo("America/Montreal")
LANGUAGES = ("fr", "en")
# An organization's referral address is read by whoever is on duty: the network's language.
ORGANIZATION_LANGUAGE = "fr"
# Who reads a message meant for each party, when it goes to people's own addresses.
RECEIVING_ROLES = (Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT)


class Undeliverable(Exception):
    """No retry can send this message (e.g. nobody to send it to); `code` says why, for the outbox."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Recipient:
    address: str
    language: str
    # An organization's referral address gets a signed link; a person with an account, the page.
    organization_address: bool = False


@dataclass(frozen=True)
class Email:
    to: str
    language: str
    subject: str
    text: str
    html: str
    message_id: str
    # An email about a dated thing carries it as an `.ics` invitation (`service.calendars.invitations`).
    calendar: bytes | None = None

    def as_message(self, mail_from: str, *, date: datetime) -> EmailMessage:
        """The message: plain text with an HTML alternative, dated `date`, with only these headers."""
        message = EmailMessage(policy=email.policy.default)
        message["From"] = mail_from
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Message-ID"] = self.message_id
        message["Date"] = date.astimezone(MONTREAL)
        # Tells vacation responders not to answer (RFC 3834).
        message["Auto-Submitted"] = "auto-generated"
        # Base64, 7 bits whatever the language: nothing asks the mail server for 8BITMIME.
        message.set_content(self.text, cte="base64")
        message.add_alternative(self.html, subtype="html", cte="base64")
        if self.calendar is not None:
            # Beside the text, as calendar applications and mail readers offer to add it (RFC 6047).
            message.add_attachment(
                self.calendar,
                maintype="text",
                subtype="calendar",
                filename="invitation.ics",
                params={"method": "PUBLISH", "charset": "utf-8"},
            )
        # After the parts: setting the content drops the Content-* headers set before.
        message["Content-Language"] = self.language
        return message

    def as_bytes(self, mail_from: str, *, date: datetime | None = None) -> bytes:
        """The message as the wire carries it, dated by the clock when it is sent (`date`)."""
        return self.as_message(mail_from, date=date or utcnow()).as_bytes(policy=WIRE)


# The standard library's writer, lines ending in CRLF (RFC 5322) and folded at 78 characters,
# headers that are not ASCII in RFC 2047 encoded words. It replaced a writer of our own that was
# faster (2.6-3.7 ms an email against 17-49 us, on a loaded 2-core machine; bench/notifications.py
# in one sitting, old code and new: 89 messages/s against 151), a difference no organization's
# hundreds of emails a day would notice.
WIRE = email.policy.SMTP


def compose(
    session: Session,
    protocols: ProtocolLibrary,
    message: OutboxMessage,
    *,
    base_url: str,
    now: datetime,
    staff: Staff | None = None,
) -> list[Email]:
    """The emails `message` becomes, one per recipient address; signed links are added to the session.

    Raises `Undeliverable` when there is nobody to send it to. The caller
    commits the links before sending (see `service.links.operations.add_link`).
    A batch passes one `staff` for all its messages, and `preload`s them first.
    """
    staff = staff or Staff(session)
    if message.referral_id is None and (message.payload or {}).get("partnership_request_id"):
        # A request between organizations (a loan, an activity...): its own recipients and links.
        from service.partnership_requests.emails import compose_request

        return compose_request(session, protocols, message, base_url=base_url, now=now, staff=staff)
    if message.referral_id is None:
        return compose_summary(session, message, base_url=base_url, staff=staff, now=now)
    referral = session.get_one(Referral, message.referral_id)
    event = session.get(ReferralEvent, message.event_id) if message.event_id else None
    protocol = protocols.get(referral.protocol_name, referral.protocol_version)
    sender = session.get_one(Organization, referral.sender_organization_id)
    receiver = session.get_one(Organization, referral.receiver_organization_id)
    state = event.to_state if event is not None else referral.state
    deadline = protocol.states[state].deadline
    # "By when" holds only while nothing has happened since the message's event.
    current = event is None or (referral.last_seq == event.seq and referral.state == state)
    due = referral.due_at if current else None
    base = base_url.rstrip("/")
    emails = []
    for recipient in recipients(session, message, referral, staff):
        context: dict[str, Any] = {
            "number": referral.id,
            "sender": sender.name,
            "receiver": receiver.name,
            "deadline": deadline.title.in_language(recipient.language) if deadline else "",
            "due": format_due(due, recipient.language) if due else "",
            "signed": recipient.organization_address,
            "expires": "",
        }
        if recipient.organization_address:
            link = add_link(session, referral.id, receiver.id, now=now)
            context["link"] = f"{base}/link/{link.token}"
            context["expires"] = format_due(link.expires_at, recipient.language)
        else:
            context["link"] = f"{base}/referrals/{referral.id}"
        subject, text, html = render(message.template, recipient.language, **context)
        emails.append(
            Email(
                to=recipient.address,
                language=recipient.language,
                subject=subject,
                text=text,
                html=html,
                message_id=message_id(message.dedupe_key, recipient.address, base_url),
            )
        )
    return emails


def compose_summary(
    session: Session,
    message: OutboxMessage,
    *,
    base_url: str,
    staff: Staff | None = None,
    now: datetime | None = None,
) -> list[Email]:
    """The emails of a message about no single referral (a digest, a review reminder).

    Its `payload` is the template's context, decided when it was queued; it goes
    to one person (`recipient_party` "user", `payload["user_id"]`) or to an
    organization's active coordinators ("coordinators"). Links are made from
    `base_url` and the paths the payload names.
    """
    payload = dict(message.payload or {})
    people: list[User] = []
    if message.recipient_party == "user":
        person = session.get(User, payload.get("user_id"))
        people = [person] if person is not None and person.active else []
    elif message.recipient_party == "account":
        # About her account itself (an invitation, a deactivation): to her address, active or not.
        person = session.get(User, payload.get("user_id"))
        people = [person] if person is not None else []
    elif message.recipient_party == "coordinators":
        people = (staff or Staff(session)).of(message.recipient_organization_id, (Role.COORDINATOR,))
    elif message.recipient_party == "regional_admins":
        people = list(
            session.scalars(select(User).where(User.role == Role.REGIONAL_ADMIN, User.active.is_(True)))
        )
    elif message.recipient_party == "organization":
        # A whole organization (the messages' digest): as a referral's notice to its receiver.
        people = (staff or Staff(session)).of(message.recipient_organization_id, RECEIVING_ROLES)
    chosen = _by_address(people)
    organization = (
        session.get(Organization, message.recipient_organization_id)
        if message.recipient_party == "organization"
        else None
    )
    if organization is not None and organization.referral_email:
        chosen = [Recipient(organization.referral_email, ORGANIZATION_LANGUAGE, organization_address=True)]
    if message.recipient_party == "requester":
        # An organization asking to join has no account yet: her address is the request's, read now.
        request = session.get(JoinRequest, payload.get("join_request_id"))
        chosen = [Recipient(request.contact_email, request.language)] if request is not None else []
    if not chosen:
        raise Undeliverable(f"no_recipient:{message.recipient_party}")
    base = base_url.rstrip("/")
    context = {**payload, "base": base, "link": base + str(payload.get("path", "/"))}
    if payload.get("one_time_link") and people:
        # Made now, like a signed link: the raw token is in the email alone, never in the outbox.
        # A message composed again (a retry) carries a new one, and the earlier one stops working.
        context["link"] += _one_time_token(session, people[0], payload, now or utcnow())
    emails = []
    for recipient in chosen:
        localized = {**context, **_dates(payload, recipient.language)}
        if "unread" in payload:
            localized["links"] = _referral_links(
                session,
                payload["unread"],
                message.recipient_organization_id,
                recipient,
                base,
                now or utcnow(),
            )
        subject, text, html = render(message.template, recipient.language, **localized)
        emails.append(
            Email(
                to=recipient.address,
                language=recipient.language,
                subject=subject,
                text=text,
                html=html,
                message_id=message_id(message.dedupe_key, recipient.address, base_url),
                calendar=invitation_for(
                    message.template, payload, subject, base_url=base, now=now or utcnow()
                ),
            )
        )
    return emails


def _referral_links(
    session: Session,
    numbers: list[int],
    organization_id: int | None,
    recipient: Recipient,
    base: str,
    now: datetime,
) -> dict[str, str]:
    """Each referral's link, by its number as text: its page, or for an organization's referral
    address (read by a partner without an account), a signed link to those it received."""
    links = {}
    for number in numbers:
        referral = session.get(Referral, number)
        if (
            recipient.organization_address
            and referral is not None
            and referral.receiver_organization_id == organization_id
        ):
            links[str(number)] = f"{base}/link/{add_link(session, number, organization_id, now=now).token}"
        else:
            links[str(number)] = f"{base}/referrals/{number}"
    return links


def _one_time_token(session: Session, person: User, payload: dict[str, Any], now: datetime) -> str:
    """A new one-time link for `person`, of the payload's purpose, good for its `hours`."""
    lifetime = timedelta(hours=int(payload["hours"]))
    return issue(session, person, Purpose(payload["one_time_link"]), lifetime, clock=lambda: now)


def _by_address(people: list[User]) -> list[Recipient]:
    """One recipient per address, in her language, in address order."""
    chosen: dict[str, Recipient] = {}
    for person in people:
        address = person.email.strip().lower()
        language = person.language if person.language in LANGUAGES else ORGANIZATION_LANGUAGE
        chosen.setdefault(address, Recipient(person.email.strip(), language))
    return [chosen[address] for address in sorted(chosen)]


def recipients(
    session: Session, message: OutboxMessage, referral: Referral, staff: Staff | None = None
) -> list[Recipient]:
    """Who gets `message`, one entry per address, in address order.

    - `receiver`: the receiving organization's referral address if it has one,
      else its active caseworkers, coordinators and partner contacts;
    - `receiver_coordinator`, `sender_coordinator`: that organization's active coordinators;
    - `sender`: the person who opened the referral if still active, else the
      sending organization's coordinators.
    """
    party = message.recipient_party or ""
    organization_id = message.recipient_organization_id
    staff = staff or Staff(session)
    people: list[User] = []
    if party == "receiver":
        organization = session.get_one(Organization, organization_id)
        if organization.referral_email:
            return [Recipient(organization.referral_email, ORGANIZATION_LANGUAGE, organization_address=True)]
        people = staff.of(organization_id, RECEIVING_ROLES)
    elif party in ("receiver_coordinator", "sender_coordinator"):
        people = staff.of(organization_id, (Role.COORDINATOR,))
    elif party == "sender":
        author = session.get(User, referral.created_by_id) if referral.created_by_id else None
        if author is not None and author.active and author.organization_id == organization_id:
            people = [author]
        else:
            people = staff.of(organization_id, (Role.COORDINATOR,))
    chosen = _by_address(people)
    if not chosen:
        raise Undeliverable(f"no_recipient:{party}")
    return chosen


class Staff:
    """The active people of organizations, by role, each read once: a batch's messages go to a few."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple[int | None, tuple[str, ...]], list[User]] = {}

    def of(self, organization_id: int | None, roles: tuple[str, ...]) -> list[User]:
        key = (organization_id, roles)
        if key not in self.known:
            query = (
                select(User)
                .where(User.organization_id == organization_id, User.active.is_(True), User.role.in_(roles))
                .order_by(User.id)
            )
            self.known[key] = list(self.session.scalars(query))
        return self.known[key]


def preload(session: Session, messages: list[OutboxMessage]) -> list[object]:
    """Read the referrals, events and organizations of `messages` in three queries, before composing.

    `compose` then finds each in the session instead of asking the database once
    per message. The session holds only the objects someone refers to: keep the
    returned list while composing.
    """
    referral_ids = {m.referral_id for m in messages if m.referral_id is not None}
    event_ids = {m.event_id for m in messages if m.event_id is not None}
    referrals = list(session.scalars(select(Referral).where(Referral.id.in_(referral_ids))))
    events = list(session.scalars(select(ReferralEvent).where(ReferralEvent.id.in_(event_ids))))
    organization_ids = {m.recipient_organization_id for m in messages} | {
        organization
        for referral in referrals
        for organization in (referral.sender_organization_id, referral.receiver_organization_id)
    }
    organizations = session.scalars(
        select(Organization).where(Organization.id.in_(organization_ids - {None}))
    )
    return [*referrals, *events, *organizations]


def render(template: str, language: str, **context: Any) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `email/{template}` in `language`.

    The subject is the text template's `subject` block, on one line; the HTML
    version is `email/{template}.html`, which shows the same words.
    """
    environment = _environment(language)
    text_template = environment.get_template(f"email/{template}.txt")
    subject_block = text_template.blocks["subject"](text_template.new_context(context))
    subject = " ".join("".join(subject_block).split())
    text = text_template.render(context).strip() + "\n"
    html = environment.get_template(f"email/{template}.html").render(
        context, subject=subject, language=language
    )
    return subject, text, html


# Payload fields that hold a day, queued as ISO text and shown in the reader's language.
DATE_FIELDS = ("due", "since")


def _dates(payload: dict[str, Any], language: str) -> dict[str, str]:
    return {
        field: format_day(date.fromisoformat(payload[field]), language)
        for field in DATE_FIELDS
        if isinstance(payload.get(field), str)
    }


def format_due(moment: datetime, language: str) -> str:
    """A date and time as people in Montréal read it, e.g. "mercredi 25 juin 2025 à 11 h"."""
    return format_moment(moment, language, "weekday")


def message_id(dedupe_key: str, address: str, base_url: str) -> str:
    """The same Message-ID every time this message is sent to this address.

    SMTP cannot make "the server took it" and "we recorded it" one step: a
    worker that dies between the two sends the message again on restart. The
    second copy then carries the same Message-ID, which mail systems use to
    collapse duplicates (many do, e.g. Gmail's; not all). The hash keeps the
    dedupe key's referral number out of the header.
    """
    digest = hashlib.sha256(f"{dedupe_key}\n{address.strip().lower()}".encode()).hexdigest()[:40]
    domain = urlsplit(base_url).hostname or "maillage.invalid"
    return f"<{digest}@{domain}>"


def envelope_address(mail_from: str) -> str:
    """The bare address of a From header, for the SMTP envelope."""
    return parseaddr(mail_from)[1]


@cache
def _environment(language: str) -> Environment:
    check_catalogs()
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_FOLDER),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        # Templates do not change under a running worker: no look at each file's date per email.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["inline"] = inline
    translations = Translations.load(str(TRANSLATIONS), [language])
    environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return environment

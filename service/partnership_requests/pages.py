"""What the pages of requests between partner organizations show: a request as its parties see it,
its buttons, its history, and the paged lists beside referrals on the dashboard and the inbox.

Reads only; the changes are `service.partnership_requests.operations`'. Nothing here is a woman's
data: a request between organizations carries none (its protocol's fields are checked for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any

from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.dates import format_day
from service.dates import format_moment
from service.directory.models import Organization
from service.directory.models import Partnership
from service.partnership_requests.forms import ButtonInfo
from service.partnership_requests.forms import FieldInfo
from service.partnership_requests.forms import ReasonInfo
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.operations import RequestNotFound
from service.partnership_requests.operations import parties_of
from service.protocols import protocol_library
from service.referrals.actors import REFERRAL_ROLES
from service.referrals.actors import Actor
from service.referrals.queries import Listing
from service.referrals.queries import in_states
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

__all__ = ["RequestNotFound"]

SUBJECT = "partnership_request"
MOBILIZATION = "mobilization"
# The trigger whose fields the form that starts a request asks (`at: [ask]` in a protocol file).
ASK = "ask"
PAGE_SIZE = 20
# The kinds a partnership's page offers to start, in its order.
PARTNERSHIP_KINDS = ("loan", "activity", "presentation", "session")
SOBERING = frozenset({"declined", "cancelled", "withdrawn"})

KIND_LABELS = {
    "loan": _l("Loan of premises or equipment"),
    "activity": _l("Joint activity"),
    "presentation": _l("Yearly presentation of services"),
    "session": _l("Team-to-team session"),
    "mobilization": _l("Joint mobilization"),
}
START_LABELS = {
    "loan": _l("Ask for a loan of premises or equipment"),
    "activity": _l("Propose a joint activity"),
    "presentation": _l("Plan the yearly presentation"),
    "session": _l("Propose a team-to-team session"),
    "mobilization": _l("Propose a joint mobilization"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def start_label(kind: str) -> str:
    return str(START_LABELS.get(kind, kind))


# Protocols and their fields -------------------------------------------------------------------------


def protocol_of_kind(protocols: ProtocolLibrary, kind: str) -> Protocol | None:
    """The newest protocol that drives requests of `kind`, if any."""
    found = [p for p in protocols.latest(SUBJECT) if p.spec.kind == kind]
    return found[0] if found else None


def fields_asked(protocol: Protocol, trigger: str, language: str) -> tuple[FieldInfo, ...]:
    """The declared fields the form of `trigger` asks, in the protocol's order."""
    return tuple(_field_info(name, spec, language) for name, spec in protocol.fields_for(trigger))


def _field_info(name: str, spec: Any, language: str) -> FieldInfo:
    return FieldInfo(
        name=name,
        type=spec.type,
        label=spec.label.in_language(language),
        required=spec.required,
        choices=tuple((code, text.in_language(language)) for code, text in spec.choices.items()),
        hint=spec.help.in_language(language) if spec.help else None,
    )


def shown_value(info: FieldInfo, value: Any, language: str) -> str:
    """A field's value as a person reads it: a day or a moment in her language, a choice's label."""
    text = str(value)
    try:
        if info.type == "date":
            return format_day(date.fromisoformat(text), language)
        if info.type == "datetime":
            return format_moment(datetime.fromisoformat(text), language)
    except ValueError:
        return text
    if info.type == "choice":
        return dict(info.choices).get(text, text)
    return text


def guard_message(guard: str) -> str:
    if guard == "comment_given":
        return _("Explain the reason in a comment.")
    if guard == "reason_given":
        return _("Choose a reason.")
    return _("This action is not possible yet.")


def button_of(protocol: Protocol, transition: Transition, language: str) -> ButtonInfo:
    reasons = protocol.reasons.get(transition.reason, {}) if transition.reason else {}
    return ButtonInfo(
        trigger=transition.trigger,
        title=transition.title.in_language(language),
        dest=transition.dest,
        reasons=tuple(
            ReasonInfo(code, reason.en if language == "en" else reason.fr, reason.comment_required)
            for code, reason in reasons.items()
        ),
        comment=transition.comment,
        fields=fields_asked(protocol, transition.trigger, language),
        sobering=transition.dest in SOBERING,
    )


# One request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A line of a request's history."""

    at: datetime
    title: str
    organization: str | None
    reason: str | None
    comment: str | None
    fields: list[tuple[str, str]]


@dataclass(frozen=True)
class RequestPage:
    request: PartnershipRequest
    protocol: Protocol
    asking: Organization
    answering: Organization
    side: str  # "asking" or "answering"
    state_title: str
    finished: bool
    waits_on_us: bool
    deadline_title: str | None
    fields: list[tuple[str, str]]
    buttons: list[ButtonInfo]
    history: list[Entry]
    partnership: Partnership | None
    mobilization: Mobilization | None
    joined: list[str]

    @property
    def partner(self) -> Organization:
        return self.answering if self.side == "asking" else self.asking


def request_page(
    session: Session,
    protocols: ProtocolLibrary,
    request_id: int,
    actor: Actor,
    *,
    language: str,
    now: datetime,
    parties: frozenset[str] | None = None,
) -> RequestPage:
    """The request as one of its two organizations sees it; `RequestNotFound` for anyone else.

    `parties`: given by a signed link's page, whose holder has no account.
    """
    found = session.get(PartnershipRequest, request_id)
    if found is None:
        raise RequestNotFound(request_id)
    if parties is None:
        parties = parties_of(actor, found) - {"system"}
    if not parties:
        raise RequestNotFound(request_id)
    return _page(session, protocols, found, parties, language)


def _page(
    session: Session,
    protocols: ProtocolLibrary,
    found: PartnershipRequest,
    parties: frozenset[str],
    language: str,
) -> RequestPage:
    protocol = protocols.get(found.protocol_name, found.protocol_version)
    spec = protocol.states[found.state]
    side = "asking" if "asking" in parties else "answering"
    infos = [_field_info(name, field, language) for name, field in protocol.fields.items()]
    values = found.fields or {}
    mobilization = session.get(Mobilization, found.mobilization_id) if found.mobilization_id else None
    return RequestPage(
        request=found,
        protocol=protocol,
        asking=session.get_one(Organization, found.asking_organization_id),
        answering=session.get_one(Organization, found.answering_organization_id),
        side=side,
        state_title=spec.title.in_language(language),
        finished=spec.terminal,
        waits_on_us=not spec.terminal and spec.waits_on == side,
        deadline_title=spec.deadline.title.in_language(language)
        if spec.deadline is not None and not spec.terminal and found.due_at is not None
        else None,
        fields=[
            (info.label, shown_value(info, values[info.name], language))
            for info in infos
            if values.get(info.name) not in (None, "")
        ],
        buttons=[]
        if spec.terminal
        else [button_of(protocol, t, language) for t in protocol.available(found.state, parties)],
        history=_history(session, protocol, found, infos, language),
        partnership=session.get(Partnership, found.partnership_id) if found.partnership_id else None,
        mobilization=mobilization,
        joined=joined_names(session, protocols, mobilization) if mobilization is not None else [],
    )


def _history(
    session: Session,
    protocol: Protocol,
    found: PartnershipRequest,
    infos: Sequence[FieldInfo],
    language: str,
) -> list[Entry]:
    events = session.scalars(
        select(PartnershipRequestEvent)
        .where(PartnershipRequestEvent.partnership_request_id == found.id)
        .order_by(PartnershipRequestEvent.seq)
    )
    names = {
        "asking": session.get_one(Organization, found.asking_organization_id).name,
        "answering": session.get_one(Organization, found.answering_organization_id).name,
    }
    entries = []
    for event in events:
        transition = next((t for t in protocol.transitions if t.trigger == event.trigger), None)
        deadline = protocol.states[event.from_state or event.to_state].deadline
        deadline_title = deadline.title.in_language(language) if deadline else ""
        if event.kind == "reminder":
            title = _("Reminder: %(deadline)s", deadline=deadline_title)
        elif event.kind == "escalation":
            title = _("Overdue: %(deadline)s", deadline=deadline_title)
        elif transition is not None:
            title = transition.done.in_language(language)
        else:
            title = event.trigger or event.kind
        reason = None
        if event.reason_code and transition is not None and transition.reason:
            chosen = protocol.reasons.get(transition.reason, {}).get(event.reason_code)
            reason = (chosen.en if language == "en" else chosen.fr) if chosen else event.reason_code
        given = event.fields or {}
        entries.append(
            Entry(
                at=event.at,
                title=title,
                organization=names.get(event.actor_party),
                reason=reason,
                comment=event.comment,
                fields=[
                    (info.label, shown_value(info, given[info.name], language))
                    for info in infos
                    if given.get(info.name) not in (None, "")
                ],
            )
        )
    return entries


# Mobilizations ------------------------------------------------------------------------------------


def invitations_of(session: Session, mobilization: Mobilization) -> list[PartnershipRequest]:
    return list(
        session.scalars(
            select(PartnershipRequest)
            .where(PartnershipRequest.mobilization_id == mobilization.id)
            .order_by(PartnershipRequest.id)
        )
    )


JOINED = "joined"


def joined_names(session: Session, protocols: ProtocolLibrary, mobilization: Mobilization) -> list[str]:
    """The organizations that joined the mobilization, by name."""
    ids = [r.answering_organization_id for r in invitations_of(session, mobilization) if r.state == JOINED]
    if not ids:
        return []
    return list(
        session.scalars(select(Organization.name).where(Organization.id.in_(ids)).order_by(Organization.name))
    )


@dataclass(frozen=True)
class InvitationRow:
    request_id: int
    organization: str
    state_title: str
    joined: bool
    finished: bool


def invitation_rows(
    session: Session, protocols: ProtocolLibrary, invitations: Sequence[PartnershipRequest], language: str
) -> list[InvitationRow]:
    names = dict(
        session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_([r.answering_organization_id for r in invitations])
            )
        ).all()
    )
    rows = []
    for invitation in invitations:
        protocol = protocols.get(invitation.protocol_name, invitation.protocol_version)
        spec = protocol.states[invitation.state]
        rows.append(
            InvitationRow(
                request_id=invitation.id,
                organization=names[invitation.answering_organization_id],
                state_title=spec.title.in_language(language),
                joined=invitation.state == JOINED,
                finished=spec.terminal,
            )
        )
    return rows


# Lists ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedRequest:
    """A line of a list of requests between organizations."""

    id: int
    kind: str
    direction: str  # "sent" or "received", from the viewer's organization
    partner_name: str
    state_title: str
    finished: bool
    waits_on_us: bool
    happens_at: datetime | None  # its main date: when the loan starts, the answer is due...
    created_at: datetime


def listing(
    session: Session,
    protocols: ProtocolLibrary,
    organization_id: int,
    *,
    language: str,
    now: datetime,
    page: int = 1,
    received_only: bool = False,
    open_only: bool = False,
    size: int = PAGE_SIZE,
) -> Listing:
    """The requests between the organization and others, `size` a page: those waiting on it first,
    then the other open ones, then the finished, newest first. Counted and cut in SQL."""
    if received_only:
        where = PartnershipRequest.answering_organization_id == organization_id
    else:
        where = or_(
            PartnershipRequest.asking_organization_id == organization_id,
            PartnershipRequest.answering_organization_id == organization_id,
        )
    finished = in_states(protocols, lambda spec: spec.terminal, PartnershipRequest, SUBJECT)
    if open_only:
        where = and_(where, ~finished)
    total = session.scalar(select(func.count()).select_from(PartnershipRequest).where(where)) or 0
    number = Listing([], total, 1, size).nearest(page)
    outgoing = PartnershipRequest.asking_organization_id == organization_id

    def waiting_on(party: str) -> Any:
        return in_states(
            protocols, lambda spec: not spec.terminal and spec.waits_on == party, PartnershipRequest, SUBJECT
        )

    waits_on_us = or_(and_(outgoing, waiting_on("asking")), and_(~outgoing, waiting_on("answering")))
    found = list(
        session.scalars(
            select(PartnershipRequest)
            .where(where)
            .order_by(
                case((finished, 2), (waits_on_us, 0), else_=1),
                PartnershipRequest.created_at.desc(),
                PartnershipRequest.id.desc(),
            )
            .offset((number - 1) * size)
            .limit(size)
        )
    )
    others = {r.asking_organization_id for r in found} | {r.answering_organization_id for r in found}
    names = dict(
        session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(others))).all()
    )
    rows = []
    for item in found:
        protocol = protocols.get(item.protocol_name, item.protocol_version)
        spec = protocol.states[item.state]
        mine = item.asking_organization_id == organization_id
        rows.append(
            ListedRequest(
                id=item.id,
                kind=item.kind,
                direction="sent" if mine else "received",
                partner_name=names[item.answering_organization_id if mine else item.asking_organization_id],
                state_title=spec.title.in_language(language),
                finished=spec.terminal,
                waits_on_us=not spec.terminal and spec.waits_on == ("asking" if mine else "answering"),
                happens_at=item.happens_at,
                created_at=item.created_at,
            )
        )
    return Listing(rows, total, number, size)  # type: ignore[arg-type]


def listing_for_page(where: str) -> dict[str, Any] | None:
    """The section of requests on the dashboard (`where` "dashboard") or the inbox ("inbox"), its page
    read from the address (`requests_page`); None for a person of no organization's team."""
    if not current_user.is_authenticated:
        return None
    if current_user.organization_id is None or current_user.role not in REFERRAL_ROLES:
        return None
    found = listing(
        db(),
        protocol_library(),
        current_user.organization_id,
        language=current_locale(),
        now=request_clock()(),
        page=request.args.get("requests_page", 1, type=int),
        received_only=where == "inbox",
        open_only=where == "dashboard",
    )
    arguments = {key: value for key, value in request.args.items() if not key.startswith("_")}

    def address(_part: str, number: int) -> str:
        kept = arguments | {"requests_page": str(number)}
        return url_for(request.endpoint or "referrals.dashboard", **kept, _anchor="requests-title")

    return {"listing": found, "address": address, "where": where}


# The partnership's page -----------------------------------------------------------------------------


def starts_on_partnership(partnership: Partnership) -> list[tuple[str, str]]:
    """(label, address) of the requests the viewer may start from a partnership's page."""
    if not current_user.is_authenticated or current_user.role not in REFERRAL_ROLES:
        return []
    mine = current_user.organization_id
    if mine not in (partnership.first_organization_id, partnership.second_organization_id):
        return []
    if not partnership.active:
        return []
    protocols = protocol_library()
    return [
        (
            start_label(kind),
            url_for("partnership_requests.ask", partnership_id=partnership.id, kind=kind),
        )
        for kind in PARTNERSHIP_KINDS
        if protocol_of_kind(protocols, kind) is not None
    ]


def requests_on_partnership(partnership: Partnership) -> list[ListedRequest]:
    """The requests made on this partnership, for one of its two organizations; none for others."""
    if not current_user.is_authenticated or current_user.role not in REFERRAL_ROLES:
        return []
    mine = current_user.organization_id
    if mine not in (partnership.first_organization_id, partnership.second_organization_id):
        return []
    session = db()
    found = list(
        session.scalars(
            select(PartnershipRequest)
            .where(PartnershipRequest.partnership_id == partnership.id)
            .order_by(PartnershipRequest.created_at.desc(), PartnershipRequest.id.desc())
            .limit(PAGE_SIZE)
        )
    )
    protocols, language = protocol_library(), current_locale()
    names = {
        partnership.first_organization_id: partnership.first_organization.name,
        partnership.second_organization_id: partnership.second_organization.name,
    }
    rows = []
    for item in found:
        spec = protocols.get(item.protocol_name, item.protocol_version).states[item.state]
        outgoing = item.asking_organization_id == mine
        rows.append(
            ListedRequest(
                id=item.id,
                kind=item.kind,
                direction="sent" if outgoing else "received",
                partner_name=names.get(
                    item.answering_organization_id if outgoing else item.asking_organization_id, ""
                ),
                state_title=spec.title.in_language(language),
                finished=spec.terminal,
                waits_on_us=not spec.terminal and spec.waits_on == ("asking" if outgoing else "answering"),
                happens_at=item.happens_at,
                created_at=item.created_at,
            )
        )
    return rows

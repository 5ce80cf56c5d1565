"""The trace a request leaves on the partnership when it ends, so the tie survives staff turnover.

A note of the request's kind ("loan", "activity", "presentation", "session", "mobilization") with a
summary: the protocol's title and number, how it ended, and what its fields recorded, in the
network's language (French), as the redirect's note of a referral is. A presentation's note is of
kind "presentation", the kind the yearly reminder counts from (`service.directory.reviews`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.dates import format_day
from service.dates import format_moment
from service.directory.models import PartnershipNote
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.referrals.actors import Actor
from workflows.protocol import Protocol
from workflows.schema import FieldSpec

NETWORK_LANGUAGE = "fr"


def write_trace(
    session: Session,
    protocol: Protocol,
    request: PartnershipRequest,
    event: PartnershipRequestEvent,
    actor: Actor,
    now: datetime,
) -> PartnershipNote | None:
    """Add the ended request's note to its partnership, in the caller's transaction; None without one."""
    if request.partnership_id is None:
        return None
    note = PartnershipNote(
        partnership_id=request.partnership_id,
        author_id=actor.user_id,
        organization_id=actor.organization_id or request.asking_organization_id,
        kind=request.kind,
        at=now,
        text=summary(protocol, request, event, NETWORK_LANGUAGE),
    )
    session.add(note)
    return note


def summary(
    protocol: Protocol, request: PartnershipRequest, event: PartnershipRequestEvent, language: str
) -> str:
    """The request in a few lines: "Prêt de locaux ou d'équipement n° 12 : Rendu." then each field's value."""
    transition = next((t for t in protocol.transitions if t.trigger == event.trigger), None)
    done = (transition.done if transition is not None else protocol.states[request.state].title).in_language(
        language
    )
    title = protocol.spec.title.in_language(language)
    head = f"{title} n° {request.id} : {done}." if language == "fr" else f"{title} no. {request.id}: {done}."
    lines = [head]
    if event.reason_code and transition is not None and transition.reason is not None:
        reason = protocol.reasons[transition.reason].get(event.reason_code)
        if reason is not None:
            lines.append(f"{_label('reason', language)}{reason.en if language == 'en' else reason.fr}")
    for name, spec in protocol.fields.items():
        value = request.fields.get(name)
        if value in (None, ""):
            continue
        lines.append(f"{spec.label.in_language(language)}{_colon(language)}{shown(spec, value, language)}")
    if event.comment:
        lines.append(f"{_label('comment', language)}{event.comment}")
    return "\n".join(lines)


def shown(spec: FieldSpec, value: Any, language: str) -> str:
    """A stored field value as people read it."""
    if spec.type == "datetime":
        return format_moment(datetime.fromisoformat(str(value)), language)
    if spec.type == "date":
        return format_day(date.fromisoformat(str(value)), language)
    if spec.type == "choice" and str(value) in spec.choices:
        return spec.choices[str(value)].in_language(language)
    return str(value)


def shown_fields(protocol: Protocol, fields: Mapping[str, Any], language: str) -> list[tuple[str, str]]:
    """(label, value) of every field with a value, in the protocol's order, for pages."""
    return [
        (spec.label.in_language(language), shown(spec, fields[name], language))
        for name, spec in protocol.fields.items()
        if fields.get(name) not in (None, "")
    ]


def _colon(language: str) -> str:
    return " : " if language == "fr" else ": "


_LABELS = {
    "reason": {"fr": "Motif", "en": "Reason"},
    "comment": {"fr": "Commentaire", "en": "Comment"},
}


def _label(what: str, language: str) -> str:
    return _LABELS[what][language] + _colon(language)

"""Requests between partner organizations in the calendars: loans, activities, presentations, team
sessions and mobilizations (`service.partnership_requests`), registered as sources of dated things.

Each open request gives its next deadline (as a referral does) and, until it ends, its main date
(`happens_at`: when the loan starts, the activity or the session is held); a mobilization its
proposing organization launched gives the day answers are due. A request carries no woman's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.calendars.sources import DEADLINE_LENGTH
from service.calendars.sources import KEPT_FOR
from service.calendars.sources import Audience
from service.calendars.sources import Dated
from service.calendars.sources import catalog
from service.calendars.sources import organization_names
from service.calendars.sources import source
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.operations import MOBILIZATION_PATH
from service.partnership_requests.operations import REQUEST_PATH
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary

# Who acts on requests between organizations: its caseworkers and coordinators, as for public events.
ACTING = frozenset({Role.CASEWORKER, Role.COORDINATOR})
# How long a request's main date shows, when its protocol gives no end.
HAPPENING_LENGTH = timedelta(hours=1)


def _things(
    request: PartnershipRequest,
    protocols: ProtocolLibrary,
    language: str,
    names: dict[int, str],
    now: datetime,
) -> Iterator[Dated]:
    words = catalog(language)
    try:
        protocol = protocols.get(request.protocol_name, request.protocol_version)
    except KeyError:
        return
    state = protocol.states.get(request.state)
    title = protocol.spec.title.in_language(language)
    between = {
        "title": title,
        "asking": names.get(request.asking_organization_id, ""),
        "answering": names.get(request.answering_organization_id, ""),
    }
    description = words.gettext("%(title)s: from %(asking)s to %(answering)s.") % between
    path = f"{REQUEST_PATH}{request.id}"
    if request.due_at is not None:
        deadline = state.deadline if state is not None else None
        yield Dated(
            uid=f"request-{request.id}-deadline",
            summary=words.gettext("Request #%(number)s: %(deadline)s")
            % {
                "number": request.id,
                "deadline": deadline.title.in_language(language) if deadline else words.gettext("Deadline"),
            },
            start=request.due_at,
            end=request.due_at + DEADLINE_LENGTH,
            description=description,
            path=path,
            category="partnership_request",
        )
    ended = state is None or state.terminal
    if request.happens_at is not None and not ended and request.happens_at >= now - KEPT_FOR:
        yield Dated(
            uid=f"request-{request.id}",
            summary=words.gettext("%(title)s, %(asking)s and %(answering)s") % between,
            start=request.happens_at,
            end=_end(request),
            description=description,
            path=path,
            category="partnership_request",
        )


def _end(request: PartnershipRequest) -> datetime:
    """A loan's end when its fields give one after its start, else an hour after the start."""
    start = request.happens_at
    assert start is not None  # noqa: S101 - checked by the caller
    try:
        end = datetime.fromisoformat(str((request.fields or {}).get("ends_at")))
    except ValueError:
        return start + HAPPENING_LENGTH
    end = end if end.tzinfo is not None else end.replace(tzinfo=TIME_ZONE)
    return end if end > start else start + HAPPENING_LENGTH


@source("partnership_request")
def requests_dated(session: Session, audience: Audience) -> Iterator[Dated]:
    """The organization's open requests, asked or answered, and the mobilizations it launched."""
    if audience.user_id is not None and audience.role not in ACTING:
        return
    organization_id = audience.organization_id
    requests = list(
        session.scalars(
            select(PartnershipRequest)
            .where(
                or_(
                    PartnershipRequest.asking_organization_id == organization_id,
                    PartnershipRequest.answering_organization_id == organization_id,
                ),
                or_(PartnershipRequest.due_at.is_not(None), PartnershipRequest.happens_at.is_not(None)),
            )
            .order_by(PartnershipRequest.id)
        )
    )
    names = organization_names(
        session, {o for r in requests for o in (r.asking_organization_id, r.answering_organization_id)}
    )
    for request in requests:
        # A mobilization's invitations are the invited organizations' to answer; its proposer sees it below.
        if request.mobilization_id is not None and request.answering_organization_id != organization_id:
            continue
        yield from _things(request, audience.protocols, audience.language, names, audience.now)
    words = audience.words
    launched = session.scalars(
        select(Mobilization)
        .where(
            Mobilization.organization_id == organization_id,
            Mobilization.answer_by >= (audience.now - KEPT_FOR).date(),
        )
        .order_by(Mobilization.id)
    )
    for mobilization in launched:
        yield Dated(
            uid=f"mobilization-{mobilization.id}-answers",
            summary=words.gettext("Mobilization: answers due (%(title)s)") % {"title": mobilization.title},
            start=mobilization.answer_by,
            end=mobilization.answer_by + timedelta(days=1),
            path=f"{MOBILIZATION_PATH}{mobilization.id}",
            category="mobilization",
        )


def request_invitation(
    session: Session,
    protocols: ProtocolLibrary,
    request: PartnershipRequest,
    *,
    language: str,
    base_url: str,
    now: datetime,
) -> bytes | None:
    """The `.ics` an email about `request` carries: its main date while it is open, with the feeds'
    uid; None when it has none (a request's email then goes without)."""
    # Here, not above: `ics` reads `sources`, which registers this module's source on import.
    from service.calendars.ics import invitation

    names = organization_names(session, {request.asking_organization_id, request.answering_organization_id})
    things = [
        t for t in _things(request, protocols, language, names, now) if t.uid == f"request-{request.id}"
    ]
    return invitation(things[0], base_url=base_url, now=now) if things else None

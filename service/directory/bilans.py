"""A partnership's bilan: what went between its two organizations in one review period, to decide on.

Periods run from one review to the next: a review recorded in the traces
(a note of kind "review") ends a period and starts the next on its Montréal
day; the first starts with the partnership. The current period runs from
the last review (`reviews.period_start`, the one its reminder counts) up to
today. A bilan gathers, for its period: the referrals both ways with their
outcomes and times (`partnership_figures`), the requests between the two
organizations (loans, activities, presentations, sessions, mobilizations)
opened in it and where each stands now, the other traces written in it, and
the decisions taken, that is the reviews on its first day (the decisions
it was to follow) and, for a past period, on the day after its last (the
review that closed it).

Domain code: no Flask. Who may read a bilan is `operations.may_read_notes`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import Clock
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.partnership_figures import Flow
from service.directory.partnership_figures import flows
from service.directory.partnership_figures import moment
from service.directory.queries import today
from service.directory.reviews import REVIEW
from service.directory.reviews import period_start
from service.partnership_requests.models import PartnershipRequest
from workflows.durations import TIME_ZONE


@dataclass(frozen=True)
class Period:
    """Montréal days from `start` to `end`, `end` excluded; the current period ends after today."""

    start: date
    end: date
    current: bool

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


@dataclass(frozen=True)
class Trace:
    """A note of the partnership as the bilan shows it: what, when, which organization wrote it."""

    kind: str
    day: date
    organization: str
    text: str


@dataclass(frozen=True)
class RequestCount:
    """Requests of one protocol version opened in the period that are now in one state, asked each way."""

    protocol_name: str
    protocol_version: int
    state: str
    # Asked by the first organization of the second, and by the second of the first.
    there: int
    back: int


@dataclass(frozen=True)
class Bilan:
    period: Period
    # The referrals the first organization sent the second, and those it received from it.
    there: Flow
    back: Flow
    requests: list[RequestCount]
    traces: list[Trace]
    decisions: list[Trace]


def periods(session: Session, partnership: Partnership, clock: Clock) -> list[Period]:
    """The partnership's review periods, the current one first."""
    on = today(clock)
    current = period_start(session, partnership, REVIEW)
    begun = partnership.started_on or partnership.created_at.astimezone(TIME_ZONE).date()
    reviewed = {
        at.astimezone(TIME_ZONE).date()
        for at in session.scalars(
            select(PartnershipNote.at).where(
                PartnershipNote.partnership_id == partnership.id, PartnershipNote.kind == REVIEW.note_kind
            )
        )
    }
    starts = sorted(day for day in reviewed | {begun} if day < current)
    ends = [*starts[1:], current] if starts else []
    past = [Period(start, end, current=False) for start, end in zip(starts, ends, strict=True)]
    return [Period(current, max(current, on) + timedelta(days=1), current=True), *reversed(past)]


def bilan(session: Session, partnership: Partnership, period: Period) -> Bilan:
    """The period's figures, traces and decisions."""
    there, back = flows(session, partnership, period.start, period.end)
    # The reviews of the period's first day, and of the day after its last when it is over.
    closing = period.start if period.current else period.end
    rows = session.execute(
        select(PartnershipNote, Organization.name)
        .join(Organization, Organization.id == PartnershipNote.organization_id)
        .where(
            PartnershipNote.partnership_id == partnership.id,
            PartnershipNote.at >= moment(period.start),
            PartnershipNote.at < moment(max(period.end, closing + timedelta(days=1))),
        )
        .order_by(PartnershipNote.at, PartnershipNote.id)
    )
    traces, decisions = [], []
    for note, organization in rows:
        trace = Trace(note.kind, note.at.astimezone(TIME_ZONE).date(), organization, note.text)
        if note.kind == REVIEW.note_kind:
            if trace.day in (period.start, closing):
                decisions.append(trace)
        elif trace.day < period.end:
            traces.append(trace)
    return Bilan(period, there, back, requests_between(session, partnership, period), traces, decisions)


def requests_between(session: Session, partnership: Partnership, period: Period) -> list[RequestCount]:
    """The requests one of the two organizations made of the other in the period, by protocol and state."""
    first, second = partnership.first_organization_id, partnership.second_organization_id
    request = PartnershipRequest
    asked_by_first = func.count().filter(request.asking_organization_id == first)
    rows = session.execute(
        select(
            request.protocol_name,
            request.protocol_version,
            request.state,
            asked_by_first,
            func.count() - asked_by_first,
        )
        .where(
            or_(
                and_(request.asking_organization_id == first, request.answering_organization_id == second),
                and_(request.asking_organization_id == second, request.answering_organization_id == first),
            ),
            request.created_at >= moment(period.start),
            request.created_at < moment(period.end),
        )
        .group_by(request.protocol_name, request.protocol_version, request.state)
        .order_by(request.protocol_name, request.protocol_version, request.state)
    )
    return [RequestCount(*row) for row in rows]

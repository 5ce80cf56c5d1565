"""The regional calendar: trainings, webinars and concertations any organization opens to the network.

The source document's way to meet new partners. An event names the clientele and the needs it is
about (the directory's), so people find those of their field; it carries the organization's words,
never a woman's. Posted and cancelled by the organization's caseworkers and coordinators; audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.accounts.models import Role
from service.audit.operations import audit
from service.calendars.models import PublicEvent
from service.calendars.models import public_event_needs
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.errors import NotAllowed
from service.referrals.actors import Actor

KINDS = ("training", "webinar", "concertation", "other")
MAY_POST = frozenset({Role.CASEWORKER, Role.COORDINATOR})
# The list and the feed show this many events at most, soonest first.
LISTED = 200


class EventRefused(Exception):
    """The event cannot be posted as given; `code` says why (a page words it)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class EventDetails:
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    place: str = ""
    clientele: str = ""
    needs: tuple[str, ...] = field(default_factory=tuple)


def may_post(actor: Actor) -> bool:
    return actor.organization_id is not None and actor.role in MAY_POST


def post_event(
    session: Session, actor: Actor, details: EventDetails, *, clock: Clock = utcnow
) -> PublicEvent:
    """Post an event of the actor's organization on the regional calendar. Commits; audited."""
    if not may_post(actor):
        raise NotAllowed("public_event.post", frozenset())
    now = clock()
    title = " ".join(details.title.split())
    if details.kind not in KINDS:
        raise EventRefused("kind")
    if not title:
        raise EventRefused("title")
    if details.ends_at <= details.starts_at:
        raise EventRefused("ends_before_start")
    if details.starts_at < now:
        raise EventRefused("in_the_past")
    needs = list(session.scalars(select(Need).where(Need.code.in_(details.needs), Need.active)))
    if len(needs) != len(set(details.needs)):
        raise EventRefused("need")
    event = PublicEvent(
        organization_id=actor.organization_id,
        kind=details.kind,
        title=title[:200],
        description=details.description.strip(),
        place=" ".join(details.place.split())[:300],
        clientele=" ".join(details.clientele.split())[:500],
        starts_at=details.starts_at,
        ends_at=details.ends_at,
        created_by_id=actor.user_id,
        created_at=now,
        needs=needs,
    )
    session.add(event)
    audit(session, "public_event.posted", actor, now)
    session.commit()
    return event


def cancel_event(session: Session, actor: Actor, event_id: int, *, clock: Clock = utcnow) -> PublicEvent:
    """Cancel one of the organization's events: it leaves the calendar and its feeds. Twice is a no-op."""
    event = session.get(PublicEvent, event_id)
    if event is None or not may_post(actor) or event.organization_id != actor.organization_id:
        raise NotAllowed("public_event.cancel", frozenset())
    if event.cancelled_at is None:
        now = clock()
        event.cancelled_at = now
        audit(session, "public_event.cancelled", actor, now)
        session.commit()
    return event


def upcoming_events(
    session: Session, now: datetime, *, clientele: str = "", need: str = "", limit: int = LISTED
) -> list[PublicEvent]:
    """Events not over nor cancelled, soonest first. `clientele`: those for it and those for everyone;
    `need`: those about it."""
    query = (
        select(PublicEvent)
        .where(PublicEvent.cancelled_at.is_(None), PublicEvent.ends_at >= now)
        .options(selectinload(PublicEvent.organization), selectinload(PublicEvent.needs))
        .order_by(PublicEvent.starts_at, PublicEvent.id)
        .limit(limit)
    )
    if clientele:
        query = query.where(or_(PublicEvent.clientele == clientele, PublicEvent.clientele == ""))
    if need:
        query = query.where(
            PublicEvent.id.in_(
                select(public_event_needs.c.public_event_id).where(public_event_needs.c.need_code == need)
            )
        )
    return list(session.scalars(query))

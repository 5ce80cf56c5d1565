"""Every dated thing an organization has, read from where it already lives: a small registry of sources.

A source is a function that takes an `Audience` (an organization, and maybe one person of it) and
yields `Dated` things; `@source` registers it, and a feed shows what every registered source yields.
Nothing is stored twice: a deadline moves, and the feed moves with it at its next reading.

What a source yields is staff data only. A referral is named by its number ("Référence #123") and
the organizations, never by anything of the woman; its link leads to its page, behind sign-in.

Domain code: no Flask. Words come from the app's catalogs, in the audience's language.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import cache

from babel.support import NullTranslations
from babel.support import Translations
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.calendars.models import PublicEvent
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.reviews import PRESENTATION
from service.directory.reviews import PRESENTATION_KIND
from service.directory.reviews import REVIEW
from service.directory.reviews import Cycle
from service.directory.reviews import due_on
from service.referrals.actors import REFERRAL_ROLES
from service.referrals.models import Referral
from service.web.catalogs import TRANSLATIONS
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary

# How long a deadline shows in a calendar: a moment, given a short slot so applications draw it.
DEADLINE_LENGTH = timedelta(minutes=30)
# A feed keeps what happened this long ago (a calendar application forgets what leaves its feed).
KEPT_FOR = timedelta(days=90)


@dataclass(frozen=True)
class Dated:
    """One thing in a calendar. `uid` is stable (the same thing keeps it when its date moves), without
    the host; `start` a moment, or a day for a thing due on a day; `path` its page in Maillage."""

    uid: str
    summary: str
    start: datetime | date
    end: datetime | date | None = None
    description: str = ""
    path: str = ""
    category: str = ""
    place: str = ""


@dataclass(frozen=True)
class Audience:
    """Whose calendar: an organization's (`user_id` None) or one person's of it, with her role."""

    organization_id: int
    user_id: int | None
    role: str | None
    language: str
    protocols: ProtocolLibrary
    now: datetime

    @property
    def words(self) -> NullTranslations:
        return catalog(self.language)


@cache
def catalog(language: str) -> NullTranslations:
    # Without a compiled catalog (a checkout before `make catalogs`), the English msgids are shown.
    return Translations.load(str(TRANSLATIONS), [language if language in ("fr", "en") else "fr"])


Source = Callable[[Session, Audience], Iterable[Dated]]
SOURCES: dict[str, Source] = {}


def source(name: str) -> Callable[[Source], Source]:
    """Register a source of dated things under `name` (its `Dated.category`)."""

    def register(read: Source) -> Source:
        SOURCES[name] = read
        return read

    return register


def dated_things(session: Session, audience: Audience) -> list[Dated]:
    """What every source yields for `audience`, soonest first."""
    found = [thing for read in SOURCES.values() for thing in read(session, audience)]
    return sorted(found, key=lambda thing: (_sort_key(thing.start), thing.uid))


def _sort_key(start: datetime | date) -> datetime:
    if isinstance(start, datetime):
        return start
    return datetime(start.year, start.month, start.day, tzinfo=TIME_ZONE)


def organization_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    query = select(Organization.id, Organization.name).where(Organization.id.in_(wanted))
    return dict(session.execute(query).all())


@source("referral")
def referral_deadlines(session: Session, audience: Audience) -> Iterator[Dated]:
    """The next deadline of each open referral the organization sent, or received once sent.

    A person's feed has those she opened, and, when she answers referrals, those her organization
    received (a receiving team acts as one). A privacy officer's has none.
    """
    organization_id = audience.organization_id
    sent = Referral.sender_organization_id == organization_id
    received = and_(Referral.receiver_organization_id == organization_id, Referral.sent_at.is_not(None))
    if audience.user_id is not None:
        if audience.role not in REFERRAL_ROLES:
            return
        sent = and_(sent, Referral.created_by_id == audience.user_id)
    referrals = list(
        session.scalars(
            select(Referral).where(Referral.due_at.is_not(None), or_(sent, received)).order_by(Referral.id)
        )
    )
    names = organization_names(
        session, {o for r in referrals for o in (r.sender_organization_id, r.receiver_organization_id)}
    )
    words = audience.words
    for referral in referrals:
        due = referral.due_at
        if due is None:  # the query's condition; says so to the type checker
            continue
        try:
            protocol = audience.protocols.get(referral.protocol_name, referral.protocol_version)
            state = protocol.states.get(referral.state)
            deadline = state.deadline if state is not None else None
        except KeyError:
            deadline = None
        title = deadline.title.in_language(audience.language) if deadline else words.gettext("Deadline")
        yield Dated(
            uid=f"referral-{referral.id}-deadline",
            summary=words.gettext("Referral #%(number)s: %(deadline)s")
            % {"number": referral.id, "deadline": title},
            start=due,
            end=due + DEADLINE_LENGTH,
            description=words.gettext(
                "Referral from %(sender)s to %(receiver)s. Its details are on its page in Maillage."
            )
            % {
                "sender": names.get(referral.sender_organization_id, ""),
                "receiver": names.get(referral.receiver_organization_id, ""),
            },
            path=f"/referrals/{referral.id}",
            category="referral",
        )


def review_uid(partnership_id: int, cycle: Cycle) -> str:
    """One uid per partnership and cycle: a recorded review moves the same event to the next due date."""
    return f"partnership-{partnership_id}-{cycle.name}"


@source("partnership")
def reviews_due(session: Session, audience: Audience) -> Iterator[Dated]:
    """When each active partnership's review, and yearly presentation, falls due. Coordinators' work."""
    organization_id = audience.organization_id
    if audience.user_id is not None and audience.role != Role.COORDINATOR:
        return
    partnerships = list(
        session.scalars(
            select(Partnership)
            .where(
                Partnership.active.is_(True),
                or_(
                    Partnership.first_organization_id == organization_id,
                    Partnership.second_organization_id == organization_id,
                ),
            )
            .order_by(Partnership.id)
        )
    )
    names = organization_names(
        session,
        {p.first_organization_id for p in partnerships} | {p.second_organization_id for p in partnerships},
    )
    words = audience.words
    for partnership in partnerships:
        partner_id = (
            partnership.second_organization_id
            if partnership.first_organization_id == organization_id
            else partnership.first_organization_id
        )
        partner = names.get(partner_id, "")
        cycles = [REVIEW] + ([PRESENTATION] if PRESENTATION_KIND in partnership.kinds else [])
        for cycle in cycles:
            due = due_on(session, partnership, cycle)
            yield Dated(
                uid=review_uid(partnership.id, cycle),
                summary=cycle_summary(words, cycle, partner),
                start=due,
                end=due + timedelta(days=1),
                description=words.gettext(
                    "Record it as a trace on the partnership's page; the next one is counted from then."
                ),
                path=f"/directory/partnerships/{partnership.id}",
                category="partnership",
            )


def cycle_summary(words: NullTranslations, cycle: Cycle, partner: str) -> str:
    if cycle is PRESENTATION:
        return words.gettext("Yearly presentation of services due with %(partner)s") % {"partner": partner}
    return words.gettext("Partnership review due with %(partner)s") % {"partner": partner}


@source("public_event")
def own_public_events(session: Session, audience: Audience) -> Iterator[Dated]:
    """The events the organization posted on the regional calendar (the regional feed has everyone's)."""
    events = session.scalars(
        select(PublicEvent)
        .where(
            PublicEvent.organization_id == audience.organization_id,
            PublicEvent.cancelled_at.is_(None),
            PublicEvent.ends_at >= audience.now - KEPT_FOR,
        )
        .order_by(PublicEvent.starts_at, PublicEvent.id)
    )
    for event in events:
        yield public_event_dated(event)


def public_event_dated(event: PublicEvent) -> Dated:
    return Dated(
        uid=f"public-event-{event.id}",
        summary=event.title,
        start=event.starts_at,
        end=event.ends_at,
        description=event.description,
        path=f"/calendar/events/{event.id}",
        category="public_event",
        place=event.place,
    )


# Sources that live beside what they read register on import (after the names above they use).
from service.calendars import request_sources  # noqa: E402, F401 - registers its source

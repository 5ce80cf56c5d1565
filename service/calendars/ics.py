"""Dated things as iCalendar (RFC 5545), written by the `icalendar` library: feeds and email invitations.

Times are written in America/Montreal with its VTIMEZONE, so Outlook, Google Calendar and phones
show them on Québec's clock across daylight saving time; a thing due on a day is an all-day event.

Domain code: no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event
from icalendar import Timezone

from service.calendars.sources import Dated
from workflows.durations import TIME_ZONE

PRODID = "-//Maillage//Maillage//FR"
TZID = "America/Montreal"
# How often a calendar application should read a feed again (RFC 7986), and how many years of
# daylight saving time rules the VTIMEZONE carries around "now".
REFRESH = timedelta(hours=1)
TIMEZONE_YEARS = 3
MEDIA_TYPE = "text/calendar"


def uid_domain(base_url: str) -> str:
    """The right-hand side of every uid: the host Maillage answers at, so two installations never mix."""
    return urlsplit(base_url).hostname or "maillage.invalid"


def _moment(value: datetime | date) -> datetime | date:
    return value.astimezone(TIME_ZONE) if isinstance(value, datetime) else value


def event_of(thing: Dated, *, domain: str, base_url: str, now: datetime) -> Event:
    """One VEVENT: a stable uid, DTSTAMP from `now`, times on Montréal's clock."""
    url = base_url.rstrip("/") + thing.path if thing.path else None
    description = thing.description
    if url:
        description = f"{description}\n{url}".strip()
    event = Event.new(
        uid=f"{thing.uid}@{domain}",
        stamp=now,
        start=_moment(thing.start),
        end=_moment(thing.end) if thing.end is not None else None,
        summary=thing.summary,
        description=description or None,
        location=thing.place or None,
        url=url,
        categories=[thing.category] if thing.category else (),
    )
    return event


def calendar_bytes(
    things: Iterable[Dated],
    *,
    name: str,
    base_url: str,
    now: datetime,
    method: str | None = None,
    uid: str | None = None,
) -> bytes:
    """A whole calendar: its name, Montréal's VTIMEZONE (always there, so an empty feed is valid), its events.

    `method` is "PUBLISH" for an email's invitation; a feed carries none (RFC 5545: a feed is no message).
    """
    domain = uid_domain(base_url)
    calendar = Calendar.new(
        prodid=PRODID,
        name=name,
        method=method,
        uid=f"{uid}@{domain}" if uid else f"calendar@{domain}",
        refresh_interval=REFRESH if method is None else None,
    )
    # Read by Google Calendar and Outlook, which know neither NAME nor REFRESH-INTERVAL (RFC 7986).
    calendar.add("X-WR-TIMEZONE", TZID)
    if method is None:
        calendar.add("X-PUBLISHED-TTL", "PT1H")
    today = now.astimezone(TIME_ZONE).date()
    calendar.add_component(
        Timezone.from_tzid(
            TZID,
            first_date=today.replace(year=today.year - TIMEZONE_YEARS, day=1),
            last_date=today.replace(year=today.year + TIMEZONE_YEARS, day=1),
        )
    )
    for thing in things:
        calendar.add_component(event_of(thing, domain=domain, base_url=base_url, now=now))
    return calendar.to_ical()


def invitation(thing: Dated, *, base_url: str, now: datetime) -> bytes:
    """The `.ics` an email about `thing` carries: METHOD:PUBLISH, the same uid as in the feeds, so a
    calendar that has both shows one event."""
    return calendar_bytes(
        [thing], name=thing.summary, base_url=base_url, now=now, method="PUBLISH", uid=thing.uid
    )

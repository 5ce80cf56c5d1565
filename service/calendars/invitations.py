"""The `.ics` invitation an email about a dated thing carries: which templates, and what thing.

Each entry reads the outbox message's payload (decided when it was queued) and the email's subject
(already in the reader's language), and gives the `Dated` thing, with the uid the feeds give it, so a
calendar that has the feed and the invitation shows one event. A template not listed here carries
no invitation. Domain code: no Flask.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from service.calendars.ics import invitation
from service.calendars.sources import Dated
from service.calendars.sources import review_uid
from service.directory.reviews import PRESENTATION
from service.directory.reviews import REVIEW
from service.directory.reviews import Cycle

Reader = Callable[[dict[str, Any], str], Dated | None]
INVITATIONS: dict[str, Reader] = {}


def invites(template: str) -> Callable[[Reader], Reader]:
    """Register what an email of `template` invites to."""

    def register(read: Reader) -> Reader:
        INVITATIONS[template] = read
        return read

    return register


def _cycle_due(cycle: Cycle) -> Reader:
    def read(payload: dict[str, Any], subject: str) -> Dated | None:
        try:
            due = date.fromisoformat(str(payload["due"]))
            partnership_id = int(payload["partnership_id"])
        except (KeyError, ValueError):
            return None
        return Dated(
            uid=review_uid(partnership_id, cycle),
            summary=subject,
            start=due,
            end=due + timedelta(days=1),
            path=f"/directory/partnerships/{partnership_id}",
            category="partnership",
        )

    return read


invites(REVIEW.template)(_cycle_due(REVIEW))
invites(PRESENTATION.template)(_cycle_due(PRESENTATION))


def invitation_for(
    template: str, payload: dict[str, Any], subject: str, *, base_url: str, now: datetime
) -> bytes | None:
    """The `.ics` for an email of `template`, or None when it concerns no dated thing."""
    read = INVITATIONS.get(template)
    thing = read(payload, subject) if read is not None else None
    return invitation(thing, base_url=base_url, now=now) if thing is not None else None

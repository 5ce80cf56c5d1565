"""Partnership reviews (*bilans*): reminders that keep a partnership alive through staff turnover.

Each active partnership is reviewed at its cadence (`review_every_months`,
yearly by default), counted from the last review recorded in its notes (a
note of kind "review"), or from its start. When a review falls due, the
coordinators of both organizations get one reminder with the period's
figures, from its start up to the day the reminder goes (referrals both
ways, how many were accepted, the median time from sending to acknowledged
receipt) and a link to the partnership's page, where
they record the review as a note, which starts the next period. A
partnership of kind "yearly_presentation" is reminded in the same way of
its yearly presentation of services (notes of kind "presentation").

Domain code: no Flask, no Celery. The worker's periodic task calls `queue_review_reminders`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.partnership_figures import flows
from service.directory.partnership_figures import median_hours
from service.directory.queries import add_months
from service.directory.queries import today
from service.errors import ProtocolNotFound
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.protocols import protocol_library
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary

PRESENTATION_KIND = "yearly_presentation"


@dataclass(frozen=True)
class Cycle:
    """One kind of periodic meeting: which note records it, which email reminds of it."""

    name: str
    note_kind: str
    template: str


REVIEW = Cycle("review", "review", "partnership_review_due")
PRESENTATION = Cycle("presentation", "presentation", "partnership_presentation_due")


@dataclass(frozen=True)
class Figures:
    """What happened between the two organizations in a period; counts and durations only."""

    referrals: int
    first_to_second: int
    second_to_first: int
    accepted: int
    decided: int
    median_receipt_hours: float | None

    @property
    def acceptance_percent(self) -> int | None:
        return round(100 * self.accepted / self.decided) if self.decided else None


def period_start(session: Session, partnership: Partnership, cycle: Cycle) -> date:
    """The last time this cycle's meeting was recorded in the notes, or the partnership's start."""
    last = session.scalar(
        select(func.max(PartnershipNote.at)).where(
            PartnershipNote.partnership_id == partnership.id, PartnershipNote.kind == cycle.note_kind
        )
    )
    if last is not None:
        return last.astimezone(TIME_ZONE).date()
    return partnership.started_on or partnership.created_at.astimezone(TIME_ZONE).date()


def due_on(session: Session, partnership: Partnership, cycle: Cycle) -> date:
    months = partnership.review_every_months if cycle is REVIEW else 12
    return add_months(period_start(session, partnership, cycle), months)


def figures(session: Session, partnership: Partnership, start: date, end: date) -> Figures:
    """Referrals sent between the two organizations from `start` to `end` (Montréal days, end excluded)."""
    there, back = flows(session, partnership, start, end)
    return Figures(
        referrals=there.sent + back.sent,
        first_to_second=there.sent,
        second_to_first=back.sent,
        accepted=there.accepted + back.accepted,
        decided=there.decided + back.decided,
        median_receipt_hours=median_hours(there.receipt_hours + back.receipt_hours),
    )


def queue_review_reminders(
    session: Session, *, clock: Clock = utcnow, protocols: ProtocolLibrary | None = None
) -> int:
    """Queue the reminders of the reviews and presentations that have fallen due; returns how many. Commits.

    Once per period: the dedupe key `review:{partnership}:{cycle}:{due date}:{organization}`
    names the period by its due date, which moves only when the meeting is recorded. A presentation
    falling due also opens its request (protocol `presentation`), unless one is open already; its
    trace, a note of kind "presentation", starts the next period.
    """
    protocols = protocols or protocol_library()
    now = clock()
    on = today(clock)
    rows = []
    for partnership in session.scalars(select(Partnership).where(Partnership.active.is_(True))):
        cycles = [REVIEW] + ([PRESENTATION] if PRESENTATION_KIND in partnership.kinds else [])
        for cycle in cycles:
            start, due = period_start(session, partnership, cycle), due_on(session, partnership, cycle)
            if due > on:
                continue
            keys = {
                organization_id: f"review:{partnership.id}:{cycle.name}:{due.isoformat()}:{organization_id}"
                for organization_id in (partnership.first_organization_id, partnership.second_organization_id)
            }
            done = set(
                session.scalars(
                    select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys.values()))
                )
            )
            if len(done) == len(keys):
                continue
            # The whole period under review: an overdue review counts what happened since its due date too.
            counted = figures(session, partnership, start, max(due, on + timedelta(days=1)))
            names = dict(
                session.execute(
                    select(Organization.id, Organization.name).where(Organization.id.in_(keys))
                ).all()
            )
            if cycle is PRESENTATION and not done:
                # The presentation itself, as a request both organizations follow (issue 15).
                _open_presentation(session, protocols, partnership, now)
            for organization_id, key in keys.items():
                if key in done:
                    continue
                partner_id = next(i for i in keys if i != organization_id)
                rows.append(
                    {
                        "dedupe_key": key,
                        "template": cycle.template,
                        "recipient_party": "coordinators",
                        "recipient_organization_id": organization_id,
                        "payload": {
                            "partnership_id": partnership.id,
                            "partner": names[partner_id],
                            "since": start.isoformat(),
                            "due": due.isoformat(),
                            "referrals": counted.referrals,
                            "sent": counted.first_to_second
                            if organization_id == partnership.first_organization_id
                            else counted.second_to_first,
                            "received": counted.second_to_first
                            if organization_id == partnership.first_organization_id
                            else counted.first_to_second,
                            "accepted": counted.accepted,
                            "decided": counted.decided,
                            "acceptance": counted.acceptance_percent,
                            "median_receipt_hours": counted.median_receipt_hours,
                            "path": f"/directory/partnerships/{partnership.id}",
                        },
                        "created_at": now,
                        "available_at": now,
                    }
                )
    if not rows:
        return 0
    try:
        queued = session.execute(insert(OutboxMessage).returning(OutboxMessage.id), rows).scalars()
        note_queued(session, queued)
        session.commit()
    except IntegrityError:
        # A run alongside queued them first: this one adds none.
        session.rollback()
        return 0
    return len(rows)


def _open_presentation(
    session: Session, protocols: ProtocolLibrary, partnership: Partnership, now: datetime
) -> None:
    # Imported here: the requests' operations read the directory's models, which this module serves.
    from service.partnership_requests.operations import open_presentation

    try:
        open_presentation(session, protocols, partnership, now=now)
    except ProtocolNotFound:
        return  # a protocols folder of its own without the presentation protocol: the reminder alone

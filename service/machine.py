"""The one road of a state change for the subjects a protocol drives besides referrals.

A request to join the network and a request between partner organizations (a loan, an activity, a
mobilization...) are moved by the same machine: lock the row, fire the trigger, log the event row,
queue the outbox rows, set the next deadline; the caller commits once. Their rows share the position
columns (`Positioned`) and their event logs the event columns (`EventColumns`), so that this module,
the deadline sweep and the pages read them alike.

Referrals keep their own road (`service.referrals.operations`): the same steps, written as plain
statements on the table, because every action of the busiest subject runs it (bench/api.py).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Generic
from typing import TypeVar

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column

from service.clock import Clock
from service.clock import utcnow
from service.errors import ConcurrentUpdate
from service.referrals.actors import Actor
from service.referrals.operations import all_or_nothing
from workflows.loader import ProtocolLibrary
from workflows.protocol import Notification
from workflows.protocol import Protocol


class Positioned:
    """Where a row stands in its protocol: which protocol, its state since when, its next deadline step.

    `version` is bumped by every UPDATE, which SQLAlchemy makes conditional on the old value: two
    writers that both read version N cannot both write.
    """

    protocol_name: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[int]
    state: Mapped[str] = mapped_column(String(32))
    state_entered_at: Mapped[datetime]
    deadline_step: Mapped[int] = mapped_column(default=0)
    # The sweep finds due rows by this alone.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class EventColumns:
    """One line of a journal: a transition, a reminder, an escalation. Rows are only ever added;
    `seq` numbers them per subject, under its row lock, so the log replays to the stored state."""

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_party: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(64))


Row = TypeVar("Row", bound=Positioned)
Event = TypeVar("Event", bound=EventColumns)
# Queues a subject's messages: (session, protocol, row, event, notifications, now).
Notify = Callable[[Session, Protocol, Any, Any, Iterable[Notification], datetime], None]


@dataclass(frozen=True)
class SubjectTables(Generic[Row, Event]):
    """What the machine needs to know of one subject's tables."""

    model: type[Row]
    event_model: type[Event]
    # The event's column naming its row, e.g. "join_request_id".
    key: str
    # Raised, with the id, for a row that does not exist (or that the actor may not see).
    not_found: Callable[[int], Exception]
    notify: Notify
    # The values a row's deadlines may count from (a request's date fields); none by default.
    fields_of: Callable[[Any], Mapping[str, Any] | None] = lambda row: None


def lock(
    session: Session, tables: SubjectTables[Row, Event], row_id: int, expected_version: int | None
) -> Row:
    """The row, locked for this transaction; `tables.not_found` when there is none.

    `ConcurrentUpdate` when the caller saw another version of it (a page or a link out of date).
    Who may see it is the caller's to decide, before or after.
    """
    query = (
        select(tables.model)
        .where(tables.model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        session.rollback()
        raise tables.not_found(row_id)
    if expected_version is not None and row.version != expected_version:
        session.rollback()
        raise ConcurrentUpdate(row_id)
    return row


def log(
    session: Session,
    tables: SubjectTables[Row, Event],
    row: Row,
    *,
    kind: str,
    trigger: str | None,
    actor: Actor,
    party: str,
    at: datetime,
    to_state: str | None = None,
    comment: str | None = None,
    reason_code: str | None = None,
    **extra: Any,
) -> Event:
    """Append the row's next event-log line (the caller's session flushes it)."""
    row.last_seq += 1
    event = tables.event_model(
        **{tables.key: row.id},  # type: ignore[attr-defined]
        seq=row.last_seq,
        kind=kind,
        trigger=trigger,
        from_state=row.state,
        to_state=to_state or row.state,
        actor_user_id=actor.user_id,
        actor_party=party,
        at=at,
        comment=comment,
        reason_code=reason_code,
        **extra,
    )
    session.add(event)
    session.flush()
    return event


class _Moving:
    """What the machine moves: the row's state, written back with the event that records it."""

    def __init__(self, row: Positioned) -> None:
        self.state = row.state

    def has_valid_consent(self, now: datetime) -> bool:
        # No guard of these subjects asks for it: they carry no woman's data, so no consent of hers.
        return True


def move(
    session: Session,
    tables: SubjectTables[Row, Event],
    protocol: Protocol,
    row: Row,
    trigger: str,
    actor: Actor,
    parties: frozenset[str],
    now: datetime,
    *,
    reason: str | None = None,
    comment: str | None = None,
    **extra: Any,
) -> Event:
    """Fire `trigger` on the locked row: its state, event-log row, outbox rows and next deadline.

    Raises the engine's errors (`InvalidTransition`, `NotAllowed`, `GuardFailed`) and changes
    nothing then; the caller commits, once, with whatever else belongs to the same change.
    `extra` goes to the event row (e.g. the fields a request's transition recorded).
    """
    outcome = protocol.fire(_Moving(row), trigger, parties=parties, now=now, reason=reason, comment=comment)
    event = log(
        session,
        tables,
        row,
        kind="transition",
        trigger=trigger,
        actor=actor,
        party=min(parties & outcome.transition.parties),
        at=now,
        to_state=outcome.dest,
        comment=comment,
        reason_code=reason,
        **extra,
    )
    row.state = outcome.dest
    row.state_entered_at = now
    row.deadline_step = 0
    row.due_at = protocol.due_at(outcome.dest, now, 0, None, tables.fields_of(row))
    tables.notify(session, protocol, row, event, outcome.notifications, now)
    return event


def run_due_step(
    session: Session,
    tables: SubjectTables[Row, Event],
    protocols: ProtocolLibrary,
    row_id: int,
    *,
    clock: Clock = utcnow,
) -> bool:
    """Carry out the row's deadline step if it is due: log it, notify, set the next one. Commits.

    False, doing nothing, when it is not (or no longer) due: two sweeps at once act once.
    """
    system = Actor.system()
    with all_or_nothing(session, row_id):
        row = lock(session, tables, row_id, None)
        now = clock()
        if row.due_at is None or row.due_at > now:
            session.rollback()
            return False
        protocol = protocols.get(row.protocol_name, row.protocol_version)
        step = protocol.deadline_step(row.state, row.deadline_step)
        if step is None:
            row.due_at = None
            session.commit()
            return False
        next_step = row.deadline_step + 1
        event = log(session, tables, row, kind=step.kind, trigger=None, actor=system, party="system", at=now)
        row.deadline_step = next_step
        row.due_at = protocol.due_at(row.state, row.state_entered_at, next_step, None, tables.fields_of(row))
        tables.notify(
            session, protocol, row, event, (Notification(n.template, n.to) for n in step.notify), now
        )
        session.commit()
    return True


def due_ids(session: Session, model: type[Positioned], now: datetime, limit: int = 500) -> list[int]:
    """Rows whose next deadline step has come, oldest first (an index scan on `due_at`)."""
    query = (
        select(model.id)  # type: ignore[attr-defined]
        .where(model.due_at <= now)
        .order_by(model.due_at)
        .limit(limit)
    )
    return list(session.scalars(query))

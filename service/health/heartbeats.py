"""Leaving a heartbeat: a periodic process notes that it ran, for `/readyz` on any host to read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from service.health.models import Heartbeat

# Beat's ticks leave this heartbeat (`worker.tasks.relay_outbox`): the relay is what beat sends most often.
BEAT = "beat"


def note_seen(session: Session, name: str, now: datetime) -> None:
    """Record that `name` ran at `now` (one row per name, written over). The caller commits."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement whoever writes first: two workers running the relay at once do not collide.
    statement = insert(Heartbeat).values(name=name, seen_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Heartbeat.name], set_={"seen_at": statement.excluded.seen_at}
        )
    )

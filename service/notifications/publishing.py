"""Sending at once: the outbox messages a transaction queued are handed on as soon as it commits.

The outbox row is written in the change's own transaction; until now only the
relay, which beat runs every few seconds, told the worker about it, so a
partner waited for beat's next tick. Now the code that queues rows notes their
ids on the session (`note_queued`), and a session made by a factory given to
`publish_after_commit` hands them to `publish` right after the commit: never
before (the worker would not see the rows yet), never inside the transaction.

`publish` must not raise (see `worker.publishing.SendAtOnce`): by then the
change is committed, and a broker that is down must not turn it into an error.
The periodic relay stays the safety net: it claims whatever is still pending.
Sending is idempotent (`worker.sending`), so a message that both paths hand on
goes out once.

Domain code: no Flask, no Celery.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm import sessionmaker

# Where a session keeps the ids of the outbox rows its current transaction inserted.
QUEUED = "maillage.outbox_queued"

Publish = Callable[[list[int]], None]


def note_queued(session: Session, ids: Iterable[int]) -> None:
    """Remember that this transaction queued the outbox messages `ids`, to hand them on once it commits."""
    session.info.setdefault(QUEUED, set()).update(ids)


def publish_after_commit(sessions: sessionmaker[Session], publish: Publish) -> None:
    """Make every session of `sessions` call `publish(ids)` after each commit that queued messages."""

    def committed(session: Session) -> None:
        ids = session.info.pop(QUEUED, None)
        if ids:
            publish(sorted(ids))

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_soft_rollback", _forget)


def _forget(session: Session, previous: SessionTransaction) -> None:
    # The outermost transaction was rolled back: its rows are gone. (A savepoint rolled back
    # leaves its ids noted; handing them on costs a send task that finds nothing pending.)
    if previous.parent is None:
        session.info.pop(QUEUED, None)

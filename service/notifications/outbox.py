"""The outbox's life: claiming pending messages for the relay, locking one to send it,
marking it sent, or putting it back with a backoff until it is given up as failed.

Domain code: no Flask, no Celery. The worker's relay and send task call these;
nothing else changes a message's status.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from service.clock import utcnow
from service.notifications.digest import leave_out_lapsed
from service.notifications.models import OutboxMessage
from service.notifications.publishing import note_queued
from service.referrals.consent_expiry import silenced_among

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
# Never sent, on purpose (the referral's consent lapsed); `last_error` holds the reason code.
CANCELLED = "cancelled"

# A message the mail server refuses this many times is given up and shown as failed.
MAX_ATTEMPTS = 8
# 30 s, 1 min, 2 min, ... 32 min (capped at 1 h): 30 to 60 min from the first refusal to "failed",
# long enough to outlast greylisting and a mailbox briefly over quota.
FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(hours=1)


def claim_due(session: Session, *, now: datetime, lease: timedelta, limit: int = 500) -> list[int]:
    """Claim up to `limit` pending messages that are due, oldest first; returns their ids. Commits.

    Claiming pushes their `available_at` to `now + lease`: the next relay pass
    does not publish them again while they are in flight, and if they are lost
    (a broker down, a worker killed) they come back when the lease ends.
    `SKIP LOCKED` lets two relays, or a relay and a send task, pass each other by.
    """
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == PENDING, OutboxMessage.available_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # One statement, a write from the start: SQLite then waits for its write lock
    # instead of failing to turn a read into a write when another process wrote meanwhile.
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(available_at=now + lease)
        .returning(OutboxMessage.id)
    )
    ids = sorted(claimed.scalars())
    session.commit()
    return ids


def lock_pending(session: Session, message_id: int) -> OutboxMessage | None:
    """The message, locked for this transaction, if it is still pending and nobody else holds it.

    None when it was sent meanwhile or another worker is sending it: skip it. None
    too when it must not be sent any more (see `lock_pending_batch`): it is then
    marked cancelled, with the reason, and committed.
    """
    found = lock_pending_batch(session, [message_id], now=utcnow())
    if not found:
        # Commits a cancellation, or ends the transaction that found nothing to lock.
        session.commit()
        return None
    return found[0]


def lock_pending_batch(session: Session, ids: list[int], *, now: datetime) -> list[OutboxMessage]:
    """Those of `ids` still pending and not held by another worker, locked for this transaction, by id.

    This is where messages are silenced, just before they are composed: the
    ones about a referral whose consent has lapsed (`consent_expiry.silenced_among`),
    and digests left with nothing once such referrals are taken out of them
    (`digest.leave_out_lapsed`), are marked cancelled, with the reason, and left
    out; the caller commits.
    """
    if not ids:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks and ignores FOR UPDATE: an UPDATE that changes
        # nothing takes the database's write lock now, so two senders cannot both
        # see a message pending and both send it.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
            .values(attempts=OutboxMessage.attempts)
        )
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    messages = list(session.scalars(query))
    reasons = silenced_among(session, messages, now) | leave_out_lapsed(session, messages, now)
    for message in messages:
        if message.id in reasons:
            message.status = CANCELLED
            message.last_error = reasons[message.id]
    return [message for message in messages if message.id not in reasons]


# Built once, on the table rather than the ORM class: it runs once per email sent, on a plain
# connection (see `worker.sending`), and building it each time cost as much as running it.
TAKE = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.id == bindparam("message_id"), OutboxMessage.status == PENDING)
    .values(status=SENT, sent_at=bindparam("now"), last_error=None)
)


def take_for_sending(connection: Connection, message_id: int, now: datetime) -> bool:
    """Mark the message sent if it is still pending, holding its row until the caller ends the transaction.

    Called just before handing the email to the mail server: the caller commits
    once the server took it, or rolls back (the message is pending again). So a
    message is sent by one worker only, and a crash in between leaves it pending.
    """
    return connection.execute(TAKE, {"message_id": message_id, "now": now}).rowcount == 1


def note_partial_refusal(connection: Connection, message_id: int, error: str) -> None:
    """A sent message that some of its recipients refused: why, for a coordinator; the caller commits."""
    table = OutboxMessage.__table__
    connection.execute(update(table).where(table.c.id == message_id).values(last_error=error[:200]))


def mark_refused(
    message: OutboxMessage,
    error: str,
    now: datetime,
    *,
    jitter: Callable[[], float] = random.random,
) -> None:
    """The mail server refused it: try again after a backoff, or give up after `MAX_ATTEMPTS`.

    `error` names the kind of failure (an exception class, an SMTP code), never
    the message's content. The caller commits.
    """
    message.attempts += 1
    message.last_error = error[:200]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = FAILED
    else:
        message.available_at = now + backoff(message.attempts, jitter=jitter)


def mark_undeliverable(message: OutboxMessage, error: str) -> None:
    """No retry can help (no one to send it to, a template that cannot render): failed now."""
    message.attempts += 1
    message.last_error = error[:200]
    message.status = FAILED


def backoff(attempts: int, *, jitter: Callable[[], float] = random.random) -> timedelta:
    """30 s x 2^(attempts - 1), capped at an hour, of which a random half is waited ("equal jitter").

    The jitter spreads messages refused together (a server briefly saying no to
    everything) so that they do not all come back at the same second.
    """
    longest = min(FIRST_DELAY * 2 ** max(attempts - 1, 0), LONGEST_DELAY)
    return longest / 2 + longest / 2 * jitter()


def retry_failed(session: Session, message_id: int, *, now: datetime) -> bool:
    """Put a failed message back in the queue with a fresh count (a coordinator asked). Commits."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == FAILED)
        .values(status=PENDING, attempts=0, available_at=now, last_error=None)
    )
    if result.rowcount == 1:
        note_queued(session, [message_id])
    session.commit()
    return result.rowcount == 1

"""Old outbox rows go: an email sent or cancelled long ago is of no more use to anyone.

Every notice, digest and link email leaves a row; at hundreds a day, ten years would keep
millions of them for nothing. Once `KEEP` has passed, a sent or cancelled row is deleted, except
where its dedupe key is what stops a reminder from coming again: the request to renew a lapsed
consent (`consent:`, once per lapse) and a review's reminder (`review:`, once per period) would be
queued anew while the lapse or the period lasts. Those are a handful per referral or partnership
and stay. Pending rows are still to send; failed ones stay listed for the coordinators
(`service.notifications.failed`) until someone deals with them.

Domain code: no Flask, no Celery. The worker's retention task calls `forget_old_messages`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.notifications.models import OutboxMessage
from service.notifications.outbox import CANCELLED
from service.notifications.outbox import SENT

KEEP = timedelta(days=90)
# The keys that stand for "once" of something that can come back (see the module's text).
ONCE_FOR_GOOD = ("consent:", "review:")
# Deleted a batch at a time, each its own transaction: the first run after years deletes millions.
BATCH = 5_000


def forget_old_messages(session: Session, *, clock: Clock = utcnow) -> int:
    """Delete the sent and cancelled messages due to go out more than `KEEP` ago, but those whose key
    must stay (`ONCE_FOR_GOOD`). Commits after each batch; returns how many went."""
    cutoff = clock() - KEEP
    old = select(OutboxMessage.id).where(
        OutboxMessage.status.in_((SENT, CANCELLED)),
        # Not `created_at`: `available_at` is in the index of the outbox (`ix_outbox_messages_pending`),
        # so an hourly pass that finds nothing reads no row; it is never before `created_at`.
        OutboxMessage.available_at < cutoff,
        *(OutboxMessage.dedupe_key.not_like(f"{prefix}%") for prefix in ONCE_FOR_GOOD),
    )
    deleted = 0
    while ids := list(session.scalars(old.order_by(OutboxMessage.id).limit(BATCH))):
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        session.commit()
        deleted += len(ids)
    return deleted

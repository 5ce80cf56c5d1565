"""Messages the outbox gave up on, as an organization's coordinator sees and retries them.

Domain code: no Flask. An organization sees only the messages addressed to it
(`recipient_organization_id`), and retries only those: another organization's
message is "not found", the same answer as a message that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.notifications.models import OutboxMessage
from service.notifications.outbox import FAILED
from service.notifications.outbox import retry_failed


class MessageNotFound(LookupError):
    """No outbox message with this id addressed to this organization."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        super().__init__(f"no outbox message {message_id} for this organization")


@dataclass(frozen=True)
class FailedMessage:
    """What the page shows of a failed message: never its content, only what and why."""

    id: int
    created_at: datetime
    template: str
    referral_id: int | None
    attempts: int
    last_error: str | None


def failed_messages(session: Session, organization_id: int, limit: int = 500) -> list[FailedMessage]:
    """The organization's failed messages, newest first."""
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.created_at,
            OutboxMessage.template,
            OutboxMessage.referral_id,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
        )
        .where(OutboxMessage.recipient_organization_id == organization_id, OutboxMessage.status == FAILED)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return [FailedMessage(*row) for row in session.execute(query)]


def failed_count(session: Session, organization_id: int) -> int:
    """How many of the organization's messages failed (for a coordinator's dashboard or menu)."""
    query = select(func.count()).where(
        OutboxMessage.recipient_organization_id == organization_id, OutboxMessage.status == FAILED
    )
    return session.execute(query).scalar_one()


def retry_failed_message(session: Session, organization_id: int, message_id: int, *, now: datetime) -> bool:
    """Put the organization's failed message back in the queue (see `retry_failed`). Commits.

    Raises `MessageNotFound` when no message with this id is addressed to the
    organization; returns False when it is no longer failed (retried meanwhile).
    """
    owner = session.execute(
        select(OutboxMessage.recipient_organization_id).where(OutboxMessage.id == message_id)
    ).one_or_none()
    if owner is None or owner[0] != organization_id:
        session.rollback()
        raise MessageNotFound(message_id)
    return retry_failed(session, message_id, now=now)

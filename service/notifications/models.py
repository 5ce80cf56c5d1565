"""The outbox: messages written in the same transaction as the change that causes them.

The worker relays pending rows; a rolled-back change leaves no row, and the
unique dedupe key keeps a message from being written twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base
from service.logs import current_request_id
from service.referrals.models import ReferralEvent


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("referral_events.id"))
    recipient_party: Mapped[str | None] = mapped_column(String(32))
    recipient_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A message about no single referral (a digest, a review reminder) carries what it says,
    # decided when it was queued: figures and referral numbers, never personal data.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The web request that queued it, if one did (`service.logs`): the worker's line for its
    # sending carries the same id as the request's own lines. Filled in on insert, whoever inserts.
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)

    event: Mapped[ReferralEvent | None] = relationship()

    __table_args__ = (Index("ix_outbox_messages_pending", "status", "available_at"),)

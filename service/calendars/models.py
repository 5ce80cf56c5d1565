"""Calendar feeds (secret, revocable addresses) and the regional calendar's public events.

A feed row stores no dated thing: what a feed shows is computed from the deadlines, reviews and
requests when a calendar application asks for it (`service.calendars.sources`). Staff data, never
a woman's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base
from service.directory.models import Need
from service.directory.models import Organization

public_event_needs = Table(
    "public_event_needs",
    Base.metadata,
    Column("public_event_id", ForeignKey("public_events.id", ondelete="CASCADE"), primary_key=True),
    Column("need_code", ForeignKey("needs.code"), primary_key=True),
)


class CalendarFeed(Base):
    """The secret address of one calendar: an organization's (`user_id` None) or one person's.

    Only the SHA-256 of its token is kept, like an API key's; its first characters name it on the page.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class PublicEvent(Base):
    """A training, webinar or concertation an organization opens to the whole network."""

    __tablename__ = "public_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(300), default="")
    # One of the clienteles the directory's organizations state, or "" for everyone.
    clientele: Mapped[str] = mapped_column(String(500), default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()
    needs: Mapped[list[Need]] = relationship(secondary=public_event_needs, order_by=Need.code)

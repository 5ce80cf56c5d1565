"""A request to join the network and its append-only event log.

The position and event columns every subject of the machine shares (`service.machine`), so the
same machine and the same deadline sweep drive it. The
contact's details are an organization's staff details, never a woman's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base
from service.machine import EventColumns
from service.machine import Positioned


class JoinRequest(Positioned, Base):
    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)

    organization_name: Mapped[str] = mapped_column(String(200))
    mandate: Mapped[str] = mapped_column(Text)
    territory: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str] = mapped_column(String(40))
    # The language of the page she asked from: her emails are in it, and her invitation.
    language: Mapped[str] = mapped_column(String(8), default="fr")
    # When she agreed that the network keep and use these contact details for this request.
    consent_at: Mapped[datetime]

    # Once accepted: the organization made from it, and its first coordinator's (invited) account.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    invited_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    events: Mapped[list[JoinRequestEvent]] = relationship(
        back_populates="join_request", order_by="JoinRequestEvent.seq", lazy="raise"
    )


class JoinRequestEvent(EventColumns, Base):
    """One line of a request's journal: a transition, a reminder, an escalation."""

    __tablename__ = "join_request_events"

    join_request_id: Mapped[int] = mapped_column(ForeignKey("join_requests.id", ondelete="CASCADE"))

    join_request: Mapped[JoinRequest] = relationship(back_populates="events")

    __table_args__ = (UniqueConstraint("join_request_id", "seq"),)

"""A request between two partner organizations, its append-only event log, a joint mobilization and
the signed links through which a partner without an account answers a request.

A request carries no personal data of any woman: its protocol's fields cannot ask for any
(`maillage protocols check` refuses them), and nothing else is written on it.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
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


class Mobilization(Base):
    """A position or an action one organization proposes; each invited organization joins or declines
    by `answer_by`, through a request of kind "mobilization" of its own."""

    __tablename__ = "mobilizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # The last day to answer, a day of Montréal's calendar.
    answer_by: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    invitations: Mapped[list[PartnershipRequest]] = relationship(
        back_populates="mobilization", order_by="PartnershipRequest.id", lazy="raise"
    )


class PartnershipRequest(Positioned, Base):
    """One request from one organization (`asking`) to another (`answering`), under one protocol version."""

    __tablename__ = "partnership_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The protocol's kind (loan, activity, presentation, session, mobilization), for lists and traces.
    kind: Mapped[str] = mapped_column(String(32))
    partnership_id: Mapped[int | None] = mapped_column(
        ForeignKey("partnerships.id", ondelete="SET NULL"), index=True
    )
    asking_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    answering_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    mobilization_id: Mapped[int | None] = mapped_column(
        ForeignKey("mobilizations.id", ondelete="CASCADE"), index=True
    )
    # The values of the protocol's fields, cleaned by `Protocol.clean_fields`.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Its main date (when the loan starts, the activity is held, the answer is due), for lists and calendars.
    happens_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    mobilization: Mapped[Mobilization | None] = relationship(back_populates="invitations")
    events: Mapped[list[PartnershipRequestEvent]] = relationship(
        back_populates="request", order_by="PartnershipRequestEvent.seq", lazy="raise"
    )


class PartnershipRequestEvent(EventColumns, Base):
    """One line of a request's journal: a transition (with what it recorded), a reminder, an escalation."""

    __tablename__ = "partnership_request_events"

    partnership_request_id: Mapped[int] = mapped_column(
        ForeignKey("partnership_requests.id", ondelete="CASCADE")
    )
    # What this transition recorded, as the request's fields hold it.
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    request: Mapped[PartnershipRequest] = relationship(back_populates="events")

    __table_args__ = (UniqueConstraint("partnership_request_id", "seq"),)


class RequestLink(Base):
    """A random token (only its hash is kept) for one request and its answering organization.

    The same scheme as a referral's signed link (`service.links`): opening its page never acts.
    """

    __tablename__ = "partnership_request_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    partnership_request_id: Mapped[int] = mapped_column(
        ForeignKey("partnership_requests.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

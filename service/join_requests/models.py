"""A request to join the network and its append-only event log.

The same position columns as a referral (`state`, `state_entered_at`, `deadline_step`, `due_at`,
`last_seq`, `version`), so the same machine and the same kind of deadline sweep drive it. The
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


class JoinRequest(Base):
    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_name: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[int]

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

    state: Mapped[str] = mapped_column(String(32))
    state_entered_at: Mapped[datetime]
    deadline_step: Mapped[int] = mapped_column(default=0)
    # The sweep finds due requests by this alone.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]

    # Once accepted: the organization made from it, and its first coordinator's (invited) account.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    invited_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    events: Mapped[list[JoinRequestEvent]] = relationship(
        back_populates="join_request", order_by="JoinRequestEvent.seq", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping


class JoinRequestEvent(Base):
    """One line of a request's journal: a transition, a reminder, an escalation."""

    __tablename__ = "join_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    join_request_id: Mapped[int] = mapped_column(ForeignKey("join_requests.id", ondelete="CASCADE"))
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

    join_request: Mapped[JoinRequest] = relationship(back_populates="events")

    __table_args__ = (UniqueConstraint("join_request_id", "seq"),)

"""The regional directory: needs, organizations, their services, and partnerships."""

from __future__ import annotations

import uuid
from datetime import date
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base

service_needs = Table(
    "service_needs",
    Base.metadata,
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Column("need_code", ForeignKey("needs.code"), primary_key=True),
)


def new_external_id() -> str:
    """A random UUID: the stable identifier other systems know a directory record by (HSDS `id`)."""
    return str(uuid.uuid4())


class Need(Base):
    """A need a woman may have (from the regional taxonomy), e.g. emergency shelter."""

    __tablename__ = "needs"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    group: Mapped[str] = mapped_column(String(32))
    label_fr: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64), default="")
    mandate: Mapped[str] = mapped_column(Text, default="")
    territory: Mapped[str] = mapped_column(String(200), default="")
    clienteles: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    accessibility: Mapped[str] = mapped_column(Text, default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    referral_email: Mapped[str] = mapped_column(String(254), default="")
    capacity_status: Mapped[str | None] = mapped_column(String(16))
    # Where she goes (street, city, postal code), printed on her sheet. A shelter keeps its address
    # secret: flagged confidential, the address is not kept at all (`operations.set_details`).
    public_address: Mapped[str] = mapped_column(String(300), default="")
    address_confidential: Mapped[bool] = mapped_column(default=False)
    # What to bring to a first visit, one item a line, printed on her sheet ("Quoi apporter").
    what_to_bring: Mapped[str] = mapped_column(Text, default="")
    # Months its closed referrals keep the woman's data; empty: the regional maximum
    # (`MAILLAGE_RETENTION_MONTHS`). Only shorter is allowed (`service.privacy.operations`).
    retention_months: Mapped[int | None]
    # Open Referral (HSDS) `id`: kept across imports and exports so a second import updates, never doubles.
    external_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_external_id)
    created_at: Mapped[datetime]

    services: Mapped[list[Service]] = relationship(back_populates="organization")

    @property
    def things_to_bring(self) -> list[str]:
        """What to bring, as a list: the non-empty lines of `what_to_bring`."""
        return [line.strip() for line in (self.what_to_bring or "").splitlines() if line.strip()]

    __table_args__ = (
        CheckConstraint("capacity_status IN ('open', 'waitlist', 'full')", name="capacity_status_known"),
    )


class Service(Base):
    """What an organization offers (an *offre de service*), and the needs it covers."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_external_id)

    organization: Mapped[Organization] = relationship(back_populates="services")
    needs: Mapped[list[Need]] = relationship(secondary=service_needs)


class Partnership(Base):
    """A working tie between two organizations (*entente de partenariat*)."""

    __tablename__ = "partnerships"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    second_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    formal: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    first_contact: Mapped[str] = mapped_column(String(200), default="")
    second_contact: Mapped[str] = mapped_column(String(200), default="")
    review_every_months: Mapped[int] = mapped_column(default=12)
    started_on: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    first_organization: Mapped[Organization] = relationship(foreign_keys=[first_organization_id])
    second_organization: Mapped[Organization] = relationship(foreign_keys=[second_organization_id])

    notes: Mapped[list[PartnershipNote]] = relationship(
        back_populates="partnership", order_by="PartnershipNote.at.desc()"
    )

    __table_args__ = (
        # One row per pair, stored in id order, so "A with B" and "B with A" cannot both exist.
        CheckConstraint("first_organization_id < second_organization_id", name="ordered_pair"),
    )


# What a partnership can be made of, as the regional table's guide lists them.
PARTNERSHIP_KINDS = (
    "referral_protocol",
    "shared_premises",
    "co_organized_activities",
    "yearly_presentation",
    "team_sessions",
    "joint_mobilization",
    "intervention_keys",
)


class PartnershipNote(Base):
    """A trace of the collaboration, so the tie survives staff turnover."""

    __tablename__ = "partnership_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(32), default="note")
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)

    partnership: Mapped[Partnership] = relationship(back_populates="notes")


class ReferralAgreement(Base):
    """One version of what two partners agreed for referrals between them.

    The protocol is the template; the agreement picks it and sets its
    parameters within the protocol's bounds. A new version is a new row; it
    applies once the other side's coordinator confirms it and its date comes.
    """

    __tablename__ = "referral_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    version: Mapped[int]
    protocol_name: Mapped[str] = mapped_column(String(64))
    urgent_protocol_name: Mapped[str] = mapped_column(String(64), default="urgent")
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    first_contact: Mapped[str] = mapped_column(String(200), default="")
    second_contact: Mapped[str] = mapped_column(String(200), default="")
    information_needed: Mapped[str] = mapped_column(Text, default="")
    effective_on: Mapped[date]
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_by_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    proposed_at: Mapped[datetime]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]

    partnership: Mapped[Partnership] = relationship()

    __table_args__ = (UniqueConstraint("partnership_id", "version"),)

"""The audit trail: who read or did what, when. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(48))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The key an organization's system acted through (`Actor.api_key_id`); keys are revoked, never deleted.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    signed_link_id: Mapped[int | None] = mapped_column(ForeignKey("signed_links.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"))
    # Whose account an act changed (a role, a deactivation, an invitation): the actor is `user_id`.
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The address book entry an act wrote or changed (`service.address_book`): staff, never a woman.
    contact_person_id: Mapped[int | None] = mapped_column(ForeignKey("contact_people.id"))

    __table_args__ = (
        Index("ix_audit_entries_referral", "referral_id", "at"),
        Index("ix_audit_entries_organization", "organization_id", "at"),
    )

"""The address book (*carnet d'adresses*): the staff of partner organizations an organization works with.

Staff contact details only: nothing here ever names a woman or a referral.
Each entry belongs to the organization that wrote it (`book_organization_id`),
is shared with its whole team and changed by its coordinators only. A person
who left her organization keeps her entry (`left_at`), so the history of who
was the contact of a partnership survives staff turnover.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.db import Base
from service.directory.models import Organization


class ContactPerson(Base):
    """Someone who works at an organization of the directory, as one organization's book knows her."""

    __tablename__ = "contact_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organization whose book this is: its team reads the entry, its coordinators change it.
    book_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Where she works (the partner organization; or the book's own organization).
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    # When the book was told she left the organization: out of the lists, still named in history.
    left_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])

    @property
    def has_left(self) -> bool:
        return self.left_at is not None


class PartnershipContact(Base):
    """A person of a side's address book named as a contact of a partnership."""

    __tablename__ = "partnership_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    contact_person_id: Mapped[int] = mapped_column(ForeignKey("contact_people.id"), index=True)

    person: Mapped[ContactPerson] = relationship()

    __table_args__ = (UniqueConstraint("partnership_id", "contact_person_id"),)

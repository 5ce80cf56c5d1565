"""Practice notes (*clés d'intervention*): know-how an organization shares with its partners or the network.

Know-how about working with a clientele or a need, never about a woman: no
referral, no person is ever tied to a note. Each edit is a new version
(`PracticeNoteVersion`), kept with who wrote it and when; the note row holds
what its current version says, so the lists and the search read one row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.accounts.models import User
from service.db import Base
from service.directory.models import Need
from service.directory.models import Organization

# Who reads a note besides its organization: organizations in an active partnership with it, or all.
PARTNERS = "partners"
NETWORK = "network"
VISIBILITIES = (PARTNERS, NETWORK)

# The needs the current version serves: the filter of the list joins here.
practice_note_needs = Table(
    "practice_note_needs",
    Base.metadata,
    Column("note_id", ForeignKey("practice_notes.id", ondelete="CASCADE"), primary_key=True),
    Column("need_code", ForeignKey("needs.code"), primary_key=True),
)


class PracticeNote(Base):
    """A note as its current version says it, and who may read it."""

    __tablename__ = "practice_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # As the directory words it (an organization's clienteles); empty: every clientele.
    clientele: Mapped[str] = mapped_column(String(500), default="")
    visibility: Mapped[str] = mapped_column(String(16), default=PARTNERS)
    version: Mapped[int] = mapped_column(default=1)
    # Title, body and clientele folded (lower case, no accents): one LIKE per word on any database.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)

    organization: Mapped[Organization] = relationship()
    needs: Mapped[list[Need]] = relationship(secondary=practice_note_needs, order_by=Need.code)
    versions: Mapped[list[PracticeNoteVersion]] = relationship(
        back_populates="note",
        order_by="PracticeNoteVersion.version.desc()",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PracticeNoteVersion(Base):
    """What one edit of a note said, who wrote it and when. Never changed once written."""

    __tablename__ = "practice_note_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("practice_notes.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    clientele: Mapped[str] = mapped_column(String(500), default="")
    visibility: Mapped[str] = mapped_column(String(16))
    need_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # as they were then
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    written_at: Mapped[datetime]

    note: Mapped[PracticeNote] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship()

    # Two edits of the same version at once: one commits, the other is refused by this.
    __table_args__ = (UniqueConstraint("note_id", "version"),)

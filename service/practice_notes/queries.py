"""Finding the practice notes a reader may read: by words, need and clientele, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.directory.queries import folded
from service.practice_notes.access import readable_by
from service.practice_notes.models import PracticeNote
from service.practice_notes.models import practice_note_needs
from service.referrals.actors import Actor

PAGE_SIZE = 20
# Words of a search past these are ignored: each is one LIKE over every readable note.
MOST_WORDS = 12


@dataclass(frozen=True)
class NotePage:
    notes: list[PracticeNote]
    page: int
    pages: int
    total: int


def find_notes(
    session: Session,
    actor: Actor,
    *,
    text: str = "",
    need: str = "",
    clientele: str = "",
    page: int = 1,
    size: int = PAGE_SIZE,
) -> NotePage:
    """The notes `actor` may read, newest change first, with every word of `text` (case and accents
    aside) in their title, clientele or text, serving `need` and written for `clientele` if given.

    A page past the last gives the last one.
    """
    query = select(PracticeNote).where(readable_by(actor))
    # The search text is stored folded: LIKE on it finds "hebergement" in "Hébergement", on SQLite and
    # PostgreSQL alike, with no full-text index to keep in step (a network writes hundreds of notes).
    for word in folded(text).split()[:MOST_WORDS]:
        query = query.where(PracticeNote.search_text.contains(word, autoescape=True))
    if need:
        query = query.where(
            select(practice_note_needs.c.note_id)
            .where(practice_note_needs.c.note_id == PracticeNote.id, practice_note_needs.c.need_code == need)
            .exists()
        )
    if clientele:
        query = query.where(PracticeNote.clientele == clientele)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    notes = session.scalars(
        query.options(selectinload(PracticeNote.organization), selectinload(PracticeNote.needs))
        .order_by(PracticeNote.updated_at.desc(), PracticeNote.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return NotePage(list(notes), page, pages, total)


def clienteles_written(session: Session, actor: Actor) -> list[str]:
    """The clienteles of the notes `actor` may read, each once, for the list's filter."""
    query = select(PracticeNote.clientele).where(readable_by(actor), PracticeNote.clientele != "").distinct()
    return sorted(session.scalars(query), key=str.casefold)

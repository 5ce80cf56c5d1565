"""The operations that write, revise and withdraw an organization's practice notes.

Each one checks who may do it, writes the new version and its audit entry and
commits once, or raises and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.directory.queries import folded
from service.practice_notes.access import may_change
from service.practice_notes.access import may_write
from service.practice_notes.access import readable_by
from service.practice_notes.errors import NoteNotFound
from service.practice_notes.errors import NoteRefused
from service.practice_notes.models import VISIBILITIES
from service.practice_notes.models import PracticeNote
from service.practice_notes.models import PracticeNoteVersion
from service.referrals.actors import Actor


@dataclass(frozen=True)
class NoteDetails:
    """What one version of a note says, and who reads it."""

    title: str
    body: str
    visibility: str
    clientele: str = ""
    need_codes: tuple[str, ...] = ()


def note_for(session: Session, actor: Actor, note_id: int) -> PracticeNote:
    """The note `note_id` if the actor may read it; otherwise not found (a 404), whether it exists or not."""
    note = session.scalars(
        select(PracticeNote).where(PracticeNote.id == note_id, readable_by(actor))
    ).one_or_none()
    if note is None:
        raise NoteNotFound(note_id)
    return note


def write_note(
    session: Session, actor: Actor, details: NoteDetails, *, clock: Clock = utcnow
) -> PracticeNote:
    """A new note of the actor's organization, as its version 1."""
    if not may_write(actor):
        _refuse(session, NoteRefused("not_allowed"))
    now = clock()
    note = PracticeNote(organization_id=actor.organization_id, version=0, created_at=now, updated_at=now)
    _new_version(session, actor, note, details, now)
    session.add(note)
    session.flush()
    audit(session, "practice_note.written", actor, now)
    session.commit()
    return note


def revise_note(
    session: Session,
    actor: Actor,
    note_id: int,
    read_version: int,
    details: NoteDetails,
    *,
    clock: Clock = utcnow,
) -> PracticeNote:
    """A new version of the note, written over `read_version`, the version she read before editing.

    If someone saved another version since, hers is refused (`changed_meanwhile`): nothing is lost.
    """
    note = _changeable(session, actor, note_id)
    if note.version != read_version:
        _refuse(session, NoteRefused("changed_meanwhile"))
    now = clock()
    _new_version(session, actor, note, details, now)
    audit(session, "practice_note.revised", actor, now)
    try:
        session.commit()
    except IntegrityError:
        # A colleague saved the same version at the same moment: hers stands.
        session.rollback()
        raise NoteRefused("changed_meanwhile") from None
    return note


def withdraw_note(session: Session, actor: Actor, note_id: int, *, clock: Clock = utcnow) -> str:
    """Delete a note and all its versions (e.g. something about a woman slipped in); returns its title.

    Her organization's coordinators only: the versions are the team's memory.
    """
    note = _changeable(session, actor, note_id)
    if actor.role != Role.COORDINATOR:
        _refuse(session, NoteRefused("not_allowed"))
    title = note.title
    session.delete(note)
    audit(session, "practice_note.withdrawn", actor, clock())
    session.commit()
    return title


# Helpers ---------------------------------------------------------------------------------------


def _new_version(
    session: Session, actor: Actor, note: PracticeNote, details: NoteDetails, now: datetime
) -> None:
    title, body, clientele = details.title.strip(), details.body.strip(), " ".join(details.clientele.split())
    if not title:
        _refuse(session, NoteRefused("title_needed"))
    if not body:
        _refuse(session, NoteRefused("body_needed"))
    if details.visibility not in VISIBILITIES:
        _refuse(session, NoteRefused("unknown_visibility"))
    codes = sorted(set(details.need_codes))
    needs = list(session.scalars(select(Need).where(Need.code.in_(codes)))) if codes else []
    if len(needs) != len(codes):
        _refuse(session, NoteRefused("unknown_need"))
    note.version += 1
    note.title, note.body, note.clientele, note.visibility = title, body, clientele, details.visibility
    note.needs = needs
    note.search_text = folded(f"{title}\n{clientele}\n{body}")
    note.updated_at = now
    note.versions.append(
        PracticeNoteVersion(
            version=note.version,
            title=title,
            body=body,
            clientele=clientele,
            visibility=details.visibility,
            need_codes=codes,
            author_id=actor.user_id,
            written_at=now,
        )
    )


def _changeable(session: Session, actor: Actor, note_id: int) -> PracticeNote:
    try:
        note = note_for(session, actor, note_id)
    except NoteNotFound:
        session.rollback()
        raise
    if not may_change(actor, note):
        _refuse(session, NoteRefused("not_allowed"))
    return note


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error

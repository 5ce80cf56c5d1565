"""Why a practice note was not found or not changed. Nothing was changed when one is raised."""

from __future__ import annotations


class PracticeNoteError(Exception):
    """A practice note change was refused; the session was rolled back."""


class NoteNotFound(PracticeNoteError, LookupError):
    """No note with this id, or none the reader's organization may read (the same answer, a 404)."""

    def __init__(self, note_id: int) -> None:
        self.note_id = note_id
        super().__init__(f"no practice note {note_id}")


class NoteRefused(PracticeNoteError):
    """A rule forbids this change; `rule` names it for the page to explain.

    Rules: `title_needed`, `body_needed`, `unknown_visibility`, `unknown_need`, `not_allowed`,
    `changed_meanwhile`.
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(rule)

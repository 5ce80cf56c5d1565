"""The contact people of a spreadsheet import (`service.directory.sheet_import`), into address books.

A row's contact person works at the row's organization. The import is the
regional admin's, who has no book: each person goes into the book of her own
organization, whose coordinators then keep her entry and may name her their
side's contact on a partnership. She is matched by name (case and accents aside)
within that book, so importing the same file again changes nothing; an empty
cell leaves what the book says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.address_book.models import ContactPerson
from service.audit.operations import audit
from service.directory.models import Organization
from service.directory.queries import folded
from service.referrals.actors import Actor

FIELDS = ("role", "email", "phone")


@dataclass
class _Contact:
    line: int
    organization_key: str
    organization_name: str
    name: str
    given: dict[str, str]
    existing: ContactPerson | None

    @property
    def outcome(self) -> str:
        if self.existing is None:
            return "created"
        changed = any(getattr(self.existing, f) != value for f, value in self.given.items())
        return "updated" if changed else "unchanged"


class SheetContacts:
    """The contact people a sheet names, planned row by row, then written with the directory's rows."""

    def __init__(self) -> None:
        self._planned: dict[tuple[str, str], _Contact] = {}
        self._own: dict[tuple[int, str], ContactPerson] = {}

    def load(self, session: Session) -> None:
        """The entries organizations have of their own people: one query for the whole file."""
        own = select(ContactPerson).where(ContactPerson.book_organization_id == ContactPerson.organization_id)
        self._own = {(p.organization_id, folded(p.name)): p for p in session.scalars(own)}

    def plan(
        self,
        line: int,
        organization_key: str,
        organization: Organization | None,
        organization_name: str,
        name: str,
        given: dict[str, str],
    ) -> None:
        """Her row's details; a person named again keeps the first value given for each field."""
        key = (organization_key, folded(name.strip()))
        contact = self._planned.get(key)
        if contact is None:
            existing = self._own.get((organization.id, key[1])) if organization is not None else None
            contact = _Contact(line, organization_key, organization_name, name.strip(), {}, existing)
            self._planned[key] = contact
        for field_, value in given.items():
            if value.strip():
                contact.given.setdefault(field_, value.strip())

    def changes(self) -> list[tuple[int, str, str, str]]:
        """(line, her name, outcome, organization name) of each person, in the import's report."""
        return [(c.line, c.name, c.outcome, c.organization_name) for c in self._planned.values()]

    def write(
        self, session: Session, organizations: dict[str, Organization], actor: Actor, now: datetime
    ) -> None:
        """Create or update the entries (the caller flushed the organizations, and commits)."""
        written: list[tuple[ContactPerson, str]] = []
        for contact in self._planned.values():
            outcome = contact.outcome
            if outcome == "unchanged":
                continue
            person = contact.existing
            if person is None:
                organization_id = organizations[contact.organization_key].id
                person = ContactPerson(
                    book_organization_id=organization_id,
                    organization_id=organization_id,
                    name=contact.name,
                    role="",
                    email="",
                    phone="",
                    languages=[],
                    notes="",
                    created_at=now,
                )
                session.add(person)
            for field_, value in contact.given.items():
                setattr(person, field_, value)
            person.updated_at = now
            written.append((person, "address_book.added" if outcome == "created" else "address_book.updated"))
        session.flush()  # once for the file: the audit entries need the new entries' ids
        for person, action in written:
            audit(session, action, actor, now, contact_person_id=person.id)

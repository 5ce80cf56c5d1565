"""The operations that change an organization's address book, and name a partnership's contacts from it.

Each one checks who may do it, writes its audit entry and commits once, or
raises and changes nothing. The book's team reads it; its coordinators change it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.address_book.errors import BookNotAllowed
from service.address_book.errors import EntryNotFound
from service.address_book.errors import EntryRefused
from service.address_book.models import ContactPerson
from service.address_book.models import PartnershipContact
from service.audit.models import AuditEntry
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.directory.models import Partnership
from service.referrals.actors import Actor


@dataclass(frozen=True)
class PersonDetails:
    """What a book says about someone at a partner organization."""

    name: str
    organization_id: int
    role: str = ""
    email: str = ""
    phone: str = ""
    languages: tuple[str, ...] = ()
    notes: str = ""


def may_read_book(actor: Actor, book_organization_id: int) -> bool:
    """Every member of the organization reads its book: the ties belong to the team, not to one person."""
    return actor.organization_id is not None and actor.organization_id == book_organization_id


def may_edit_book(actor: Actor) -> bool:
    """Her organization's coordinators keep its book."""
    return actor.role == Role.COORDINATOR and actor.organization_id is not None


def entry_in_book(session: Session, actor: Actor, person_id: int) -> ContactPerson:
    """The entry `person_id` of the actor's organization's book; any other is not found (a 404)."""
    person = session.get(ContactPerson, person_id)
    if person is None or not may_read_book(actor, person.book_organization_id):
        raise EntryNotFound(person_id)
    return person


def add_person(
    session: Session, actor: Actor, details: PersonDetails, *, clock: Clock = utcnow
) -> ContactPerson:
    """Write a new entry in the actor's organization's book."""
    if not may_edit_book(actor):
        _refuse(session, BookNotAllowed("add_contact"))
    now = clock()
    person = ContactPerson(book_organization_id=actor.organization_id, created_at=now, updated_at=now)
    set_details(session, person, details)
    session.add(person)
    session.flush()
    audit(session, "address_book.added", actor, now, contact_person_id=person.id)
    session.commit()
    return person


def update_person(
    session: Session, actor: Actor, person_id: int, details: PersonDetails, *, clock: Clock = utcnow
) -> ContactPerson:
    """Change what the book says about someone."""
    person = _editable(session, actor, person_id, "update_contact")
    set_details(session, person, details)
    person.updated_at = clock()
    audit(session, "address_book.updated", actor, person.updated_at, contact_person_id=person.id)
    session.commit()
    return person


def mark_left(session: Session, actor: Actor, person_id: int, *, clock: Clock = utcnow) -> ContactPerson:
    """She left the organization: out of the lists and of the exports, still named where she was a contact."""
    person = _editable(session, actor, person_id, "mark_contact_left")
    if person.left_at is None:
        person.left_at = person.updated_at = clock()
        audit(session, "address_book.left", actor, person.left_at, contact_person_id=person.id)
    session.commit()
    return person


def mark_back(session: Session, actor: Actor, person_id: int, *, clock: Clock = utcnow) -> ContactPerson:
    """She is back at the organization (or was marked as gone by mistake)."""
    person = _editable(session, actor, person_id, "mark_contact_back")
    if person.left_at is not None:
        person.left_at = None
        person.updated_at = clock()
        audit(session, "address_book.returned", actor, person.updated_at, contact_person_id=person.id)
    session.commit()
    return person


def erase_person(session: Session, actor: Actor, person_id: int, *, clock: Clock = utcnow) -> str:
    """Erase an entry for good, when she asks (Québec's Law 25) or it was a mistake; returns her name.

    Unlike `mark_left`, nothing of her stays: the partnerships stop naming her, and the audit
    entries about her keep what was done and by whom, no longer to whom.
    """
    person = _editable(session, actor, person_id, "erase_contact")
    name = person.name
    session.execute(delete(PartnershipContact).where(PartnershipContact.contact_person_id == person.id))
    session.execute(
        update(AuditEntry).where(AuditEntry.contact_person_id == person.id).values(contact_person_id=None)
    )
    session.delete(person)
    audit(session, "address_book.erased", actor, clock())
    session.commit()
    return name


def record_export(session: Session, actor: Actor, file_kind: str, *, clock: Clock = utcnow) -> None:
    """Who took a copy of the book out of Maillage, and in which form (`vcard`, `csv`), is in the log."""
    if actor.organization_id is None:
        _refuse(session, BookNotAllowed("export_contacts"))
    audit(session, f"address_book.exported_{file_kind}", actor, clock())
    session.commit()


def name_partnership_contacts(
    session: Session, actor: Actor, partnership_id: int, person_ids: Iterable[int], *, clock: Clock = utcnow
) -> None:
    """The people of the actor's book who are a partnership's contacts, on either side, from now on.

    Only the actor's organization's choices are replaced: the other side names
    its own from its book. Each person must work at one of the two organizations.
    """
    if not may_edit_book(actor):
        _refuse(session, BookNotAllowed("name_partnership_contacts"))
    partnership = session.get(Partnership, partnership_id)
    sides = {partnership.first_organization_id, partnership.second_organization_id} if partnership else set()
    if partnership is None or actor.organization_id not in sides:
        session.rollback()
        raise EntryNotFound(("partnership", partnership_id))
    wanted = {person_id: _in_book(session, actor, person_id) for person_id in set(person_ids)}
    if any(person.organization_id not in sides for person in wanted.values()):
        _refuse(session, EntryRefused("not_a_side"))
    current = {
        row.contact_person_id: row
        for row in session.scalars(
            select(PartnershipContact)
            .join(ContactPerson, ContactPerson.id == PartnershipContact.contact_person_id)
            .where(
                PartnershipContact.partnership_id == partnership.id,
                ContactPerson.book_organization_id == actor.organization_id,
            )
        )
    }
    now = clock()
    for person_id, row in current.items():
        if person_id not in wanted:
            session.delete(row)
            audit(session, "partnership.contact_removed", actor, now, contact_person_id=person_id)
    for person_id in wanted.keys() - current.keys():
        session.add(PartnershipContact(partnership_id=partnership.id, contact_person_id=person_id))
        audit(session, "partnership.contact_named", actor, now, contact_person_id=person_id)
    try:
        session.commit()
    except IntegrityError:
        # A colleague named the same person at the same moment: hers stands, and nothing of this is kept.
        session.rollback()
        raise EntryRefused("changed_meanwhile") from None


# Helpers ---------------------------------------------------------------------------


def set_details(session: Session, person: ContactPerson, details: PersonDetails) -> None:
    """Copy `details` onto `person`, trimmed; the caller checks who may and commits (the import too)."""
    name = details.name.strip()
    if not name:
        _refuse(session, EntryRefused("name_needed"))
    if session.get(Organization, details.organization_id) is None:
        _refuse(session, EntryRefused("unknown_organization"))
    person.name = name
    person.organization_id = details.organization_id
    person.role = details.role.strip()
    person.email = details.email.strip()
    person.phone = details.phone.strip()
    person.languages = [language.strip() for language in details.languages if language.strip()]
    person.notes = details.notes.strip()


def _editable(session: Session, actor: Actor, person_id: int, action: str) -> ContactPerson:
    person = _in_book(session, actor, person_id)
    if not may_edit_book(actor):
        _refuse(session, BookNotAllowed(action))
    return person


def _in_book(session: Session, actor: Actor, person_id: int) -> ContactPerson:
    try:
        return entry_in_book(session, actor, person_id)
    except EntryNotFound:
        session.rollback()
        raise


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error

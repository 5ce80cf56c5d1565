"""Reading an organization's address book. Only its own team ever reads it (the views check)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.address_book.models import ContactPerson
from service.address_book.models import PartnershipContact
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.queries import folded


def book(
    session: Session, book_organization_id: int, *, text: str = "", include_left: bool = False
) -> list[ContactPerson]:
    """The book's entries by name; `text` keeps those whose name, role, organization, email or phone
    has it (case and accents aside); people who left are out unless `include_left`."""
    query = (
        select(ContactPerson)
        .where(ContactPerson.book_organization_id == book_organization_id)
        .options(selectinload(ContactPerson.organization))
    )
    if not include_left:
        query = query.where(ContactPerson.left_at.is_(None))
    people = list(session.scalars(query))
    # A book holds tens or hundreds of people: matching in Python folds accents the same on every database.
    wanted = folded(text.strip())
    if wanted:
        people = [p for p in people if wanted in folded(_searchable(p))]
    return sorted(people, key=lambda p: (folded(p.name), p.id))


def people_at(session: Session, book_organization_id: int, organization_id: int) -> list[ContactPerson]:
    """The people the book has at `organization_id` and who are still there, by name."""
    query = select(ContactPerson).where(
        ContactPerson.book_organization_id == book_organization_id,
        ContactPerson.organization_id == organization_id,
        ContactPerson.left_at.is_(None),
    )
    return sorted(session.scalars(query), key=lambda p: (folded(p.name), p.id))


def named_contacts(session: Session, partnership_id: int) -> list[ContactPerson]:
    """Everyone named a contact of the partnership, by either side's book, those who left included."""
    query = (
        select(ContactPerson)
        .join(PartnershipContact, PartnershipContact.contact_person_id == ContactPerson.id)
        .where(PartnershipContact.partnership_id == partnership_id)
        .options(selectinload(ContactPerson.organization))
    )
    return sorted(session.scalars(query), key=lambda p: (p.organization_id, folded(p.name), p.id))


def named_by(session: Session, partnership_id: int, book_organization_id: int) -> list[int]:
    """The ids of the people `book_organization_id`'s book names as the partnership's contacts."""
    return list(
        session.scalars(
            select(ContactPerson.id)
            .join(PartnershipContact, PartnershipContact.contact_person_id == ContactPerson.id)
            .where(
                PartnershipContact.partnership_id == partnership_id,
                ContactPerson.book_organization_id == book_organization_id,
            )
        )
    )


def partnerships_of_person(session: Session, person_id: int) -> list[Partnership]:
    """The partnerships she is (or was, if she left) a contact of: her history in the book."""
    query = (
        select(Partnership)
        .join(PartnershipContact, PartnershipContact.partnership_id == Partnership.id)
        .where(PartnershipContact.contact_person_id == person_id)
        .options(selectinload(Partnership.first_organization), selectinload(Partnership.second_organization))
        .order_by(Partnership.id)
    )
    return list(session.scalars(query))


def _searchable(person: ContactPerson) -> str:
    organization: Organization = person.organization
    return " ".join((person.name, person.role, organization.name, person.email, person.phone))

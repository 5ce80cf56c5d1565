"""The address book out of Maillage: vCard for address books and phones, CSV for spreadsheets.

Only the people still at their organization go out: a person who left is
history, not someone to call.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

import vobject
from flask_babel import gettext as _

from service.address_book.models import ContactPerson
from service.web.spreadsheet import csv_text

# vCard 3.0 (RFC 2426): the version Outlook, Gmail, Android and iOS all import.
# Outlook reads a .vcf as the Windows code page unless a property says it is UTF-8, and turns "Hélène"
# into "HÃ©lÃ¨ne": the text properties carry CHARSET=UTF-8, which the others accept and ignore.
TEXT_PROPERTIES = ("fn", "n", "org", "title", "note")


def vcard_text(people: Iterable[ContactPerson]) -> str:
    """One vCard 3.0 per person, in one .vcf file's text."""
    return "".join(_card(person).serialize() for person in people)


def csv_file(people: Iterable[ContactPerson], language: str) -> str:
    """The book as CSV text (separator and byte order mark as `service.web.spreadsheet` makes them)."""
    header = [_("Name"), _("Role"), _("Organization"), _("Email"), _("Phone"), _("Languages"), _("Notes")]
    rows: list[Sequence[object]] = [header]
    for person in people:
        rows.append(
            [
                person.name,
                person.role,
                person.organization.name,
                person.email,
                person.phone,
                ", ".join(person.languages or []),
                person.notes,
            ]
        )
    return csv_text(rows, language)


def _card(person: ContactPerson) -> vobject.base.Component:
    card = vobject.vCard()
    card.add("fn").value = person.name
    # One name field in the book: its last word is taken as the family name, so that phones sort
    # "Marie-Ève Tremblay" under T; a single word is a given name.
    given, _space, family = person.name.rpartition(" ")
    card.add("n").value = (
        vobject.vcard.Name(family=family, given=given) if given else vobject.vcard.Name(given=family)
    )
    card.add("org").value = [person.organization.name]
    if person.role:
        card.add("title").value = person.role
    if person.email:
        email = card.add("email")
        email.value = person.email
        email.type_param = "INTERNET"
    if person.phone:
        phone = card.add("tel")
        phone.value = person.phone
        phone.type_param = "WORK"
    note = _note(person)
    if note:
        card.add("note").value = note
    for name in TEXT_PROPERTIES:
        for line in card.contents.get(name, []):
            line.charset_param = "UTF-8"
    return card


def _note(person: ContactPerson) -> str:
    parts = [person.notes] if person.notes else []
    if person.languages:
        parts.append(_("Languages: %(languages)s", languages=", ".join(person.languages)))
    return "\n".join(parts)

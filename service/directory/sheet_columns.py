"""The directory's fields a spreadsheet column can go to, and a first guess from the headers.

Headers are compared folded (case, accents, punctuation aside) with the words
French and English spreadsheets use for them; the admin corrects the guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence

from service.standards.taxonomy_map import term_key

ORGANIZATION_FIELDS = (
    "name",
    "kind",
    "mandate",
    "territory",
    "clienteles",
    "languages",
    "accessibility",
    "hours",
    "phone",
    "referral_email",
    "capacity_status",
    "public_address",
    "address_confidential",
    "what_to_bring",
)
SERVICE_FIELDS = ("service_name", "service_description", "service_needs")
# The organization's contact person: an entry of her organization's address book
# (service.address_book.sheet_contacts); her email and phone also fill the organization's
# referral email and phone when the file has none.
CONTACT_FIELDS = ("contact_name", "contact_role", "contact_email", "contact_phone")
FIELDS = ORGANIZATION_FIELDS + SERVICE_FIELDS + CONTACT_FIELDS
IGNORED = ""

# Headers as spreadsheets write them, folded by `header_key`.
HEADERS: Mapping[str, tuple[str, ...]] = {
    "name": (
        "name",
        "nom",
        "organisme",
        "organisation",
        "organization",
        "nom de l organisme",
        "nom organisme",
        "nom de l organisation",
        "organization name",
        "organisation name",
        "agency",
        "agency name",
    ),
    "kind": ("kind", "type", "type d organisme", "type of organization", "organization type"),
    "mandate": ("mandate", "mandat", "mission", "description de l organisme", "organization description"),
    "territory": ("territory", "territoire", "territoire desservi", "territory served", "region", "secteur"),
    "clienteles": ("clienteles", "clientele", "clientele cible", "clienteles cibles", "who we serve"),
    "languages": ("languages", "language", "langues", "langue", "langues parlees", "languages spoken"),
    "accessibility": ("accessibility", "accessibilite"),
    "hours": ("hours", "heures", "horaire", "horaires", "heures d ouverture", "opening hours", "schedule"),
    "phone": ("phone", "telephone", "tel", "numero de telephone", "phone number", "telephone de l organisme"),
    "referral_email": (
        "referral email",
        "email",
        "e mail",
        "courriel",
        "adresse courriel",
        "courriel de reference",
        "courriel pour les references",
        "courriel de l organisme",
    ),
    "capacity_status": ("capacity", "capacity status", "capacite", "capacite d accueil", "disponibilite"),
    "public_address": (
        "address",
        "adresse",
        "public address",
        "adresse publique",
        "adresse civique",
        "street address",
    ),
    "address_confidential": (
        "confidential address",
        "address confidential",
        "adresse confidentielle",
        "confidentielle",
        "confidential",
    ),
    "what_to_bring": ("what to bring", "quoi apporter", "a apporter", "documents a apporter", "bring"),
    "service_name": ("service", "service name", "nom du service", "offre de service", "programme", "program"),
    "service_description": ("service description", "description du service", "description"),
    "service_needs": (
        "needs",
        "besoins",
        "besoins couverts",
        "categories",
        "categorie",
        "category",
        "categories 211",
        "taxonomy",
        "taxonomie",
        "taxonomy terms",
        "termes",
    ),
    "contact_name": ("contact", "contact name", "contact person", "personne contact", "nom du contact"),
    "contact_role": ("contact role", "contact title", "fonction", "titre", "poste", "role"),
    "contact_email": ("contact email", "courriel du contact", "courriel contact"),
    "contact_phone": ("contact phone", "telephone du contact", "tel contact", "telephone contact"),
}
PUNCTUATION = re.compile(r"[^\w]+")


def header_key(header: str) -> str:
    """A header folded for comparison: "Nom de l'organisme" and "NOM DE L ORGANISME" are one."""
    return PUNCTUATION.sub(" ", term_key(header)).replace("_", " ").strip()


def guess_mapping(headers: Sequence[str]) -> list[str]:
    """A field for each column, or `IGNORED`; a field goes to the first column that names it."""
    by_header = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
    by_header.update({header_key(name): name for name in FIELDS})
    taken: set[str] = set()
    guessed = []
    for header in headers:
        name = by_header.get(header_key(header), IGNORED)
        if name in taken:
            name = IGNORED
        taken.add(name)
        guessed.append(name)
    return guessed


def mapping_problems(mapping: Sequence[str]) -> list[tuple[str, list[int]]]:
    """What stops an import whatever the rows: (problem code, column indexes) pairs."""
    problems: list[tuple[str, list[int]]] = []
    if "name" not in mapping:
        problems.append(("name_unmapped", []))
    for name in FIELDS:
        columns = [index for index, chosen in enumerate(mapping) if chosen == name]
        if len(columns) > 1:
            problems.append((f"twice:{name}", columns))
    return problems

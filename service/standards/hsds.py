"""The directory as Open Referral HSDS 3 objects, and HSDS objects read back as directory records.

The JSON form is a list of HSDS 3 *organization* objects, each with its
`services` nested the way the HSDS API's organization endpoint nests them
(with `attributes` and `service_at_locations`), and its `phones`,
`contacts`, `locations` and `attributes`. Organization-centred rather than
service-centred, so an organization without a service travels too.

What Maillage keeps and where it goes in HSDS:

- organization name, mandate, referral email: organization `name`,
  `description`, `email` (and a contact titled "Referrals"); its phone:
  `phones[0].number`;
- languages, accessibility, hours: the organization's one location,
  `languages[].code`, `accessibility[].description`, `schedules[].description`;
- kind, territory, clienteles, capacity status: organization `attributes`
  whose term is in the taxonomy `urn:maillage:organization`, with a `value`;
- service name and description: service `name`, `description`; the needs it
  covers: service `attributes` whose term is in the taxonomy `urn:maillage:needs`;
- a need: a taxonomy term, `code`, `name` (French label), `description`
  (English label), `parent_id` (the term of its group).

A woman's shelter keeps its address to itself: an organization's public
address, when it has one, is an organization attribute (`public_address`, one
text, as Maillage keeps it); flagged confidential (`address_confidential`
"true"), Maillage keeps no address and exports none. Its location is only
where languages, accessibility and hours live. Identifiers: organizations and
services keep their HSDS `id` (`external_id`); the ids of a location, phone,
contact or attribute are derived from their organization's, so exporting twice
gives the same file.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.operations import CAPACITY_STATUSES
from service.directory.operations import OrganizationDetails
from service.directory.operations import ServiceDetails
from service.standards.taxonomy_map import TaxonomyMap

HSDS_VERSION = "3.0"
NEEDS_TAXONOMY = "urn:maillage:needs"
ORGANIZATION_TAXONOMY = "urn:maillage:organization"
# Organization fields HSDS has no place for, carried as attributes with a value.
ORGANIZATION_FIELDS = {
    "kind": ("Type d'organisme", "Kind of organization", 64),
    "territory": ("Territoire desservi", "Territory served", 200),
    "clienteles": ("Clientèles", "Who the organization serves", None),
    "capacity_status": ("Capacité d'accueil", "Capacity status", 16),
    # A street address travels whole, as Maillage keeps it (one text), and never once flagged
    # confidential: Maillage keeps none then, and the flag travels alone ("true").
    "public_address": ("Adresse publique", "Public address", 300),
    "address_confidential": ("Adresse confidentielle", "Confidential address", 5),
    "what_to_bring": ("Quoi apporter", "What to bring", 2000),
}
OTHER_GROUP = "other"
# Fixed, so that two Maillage installations derive the same ids for the same needs.
NAMESPACE = uuid.UUID("2abb48ec-ddff-455f-8cd5-879c00b114fa")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def derived_id(*parts: str) -> str:
    """A stable UUID for a record that has no identifier of its own in Maillage."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def need_term_id(code: str) -> str:
    return derived_id("need", code)


def group_term_id(group: str) -> str:
    return derived_id("need-group", group)


# Export ---------------------------------------------------------------------------


def need_term(need: Need) -> dict[str, Any]:
    return {
        "id": need_term_id(need.code),
        "code": need.code,
        "name": need.label_fr,
        "description": need.label_en,
        "language": "fr",
        "taxonomy": NEEDS_TAXONOMY,
        "parent_id": group_term_id(need.group),
    }


def group_term(group: str) -> dict[str, Any]:
    return {
        "id": group_term_id(group),
        "code": group,
        "name": group,
        "description": group,
        "taxonomy": NEEDS_TAXONOMY,
    }


def field_term(name: str) -> dict[str, Any]:
    label_fr, label_en, _ = ORGANIZATION_FIELDS[name]
    return {
        "id": derived_id("organization-field", name),
        "code": name,
        "name": label_fr,
        "description": label_en,
        "language": "fr",
        "taxonomy": ORGANIZATION_TAXONOMY,
    }


def taxonomy_terms(session: Session) -> list[dict[str, Any]]:
    """Every term Maillage uses: need groups, needs (active or not), and organization fields."""
    needs = list(session.scalars(select(Need).order_by(Need.group, Need.code)))
    groups = sorted({need.group for need in needs})
    return [
        *(group_term(group) for group in groups),
        *(need_term(need) for need in needs),
        *(field_term(name) for name in ORGANIZATION_FIELDS),
    ]


def export_directory(session: Session) -> list[dict[str, Any]]:
    """Every organization of the directory as an HSDS 3 organization object, by name."""
    query = (
        select(Organization)
        .order_by(Organization.name)
        .options(selectinload(Organization.services).selectinload(Service.needs))
    )
    return [organization_object(organization) for organization in session.scalars(query)]


def organization_object(organization: Organization) -> dict[str, Any]:
    key = organization.external_id
    location_id = derived_id(key, "location")
    attributes = []
    for name in ORGANIZATION_FIELDS:
        value = _field_value(organization, name)
        if value:
            attributes.append(
                {
                    "id": derived_id(key, "attribute", name),
                    "link_id": key,
                    "link_entity": "organization",
                    "link_type": name,
                    "taxonomy_term_id": field_term(name)["id"],
                    "taxonomy_term": field_term(name),
                    "value": value,
                }
            )
    found: dict[str, Any] = {
        "id": key,
        "name": organization.name,
        "description": organization.mandate,
        "phones": (
            [{"id": derived_id(key, "phone"), "organization_id": key, "number": organization.phone}]
            if organization.phone
            else []
        ),
        "contacts": (
            [
                {
                    "id": derived_id(key, "contact"),
                    "organization_id": key,
                    "title": "Referrals",
                    "email": organization.referral_email,
                }
            ]
            if organization.referral_email
            else []
        ),
        "locations": [
            {
                "id": location_id,
                "organization_id": key,
                "location_type": "physical",
                "name": organization.name,
                "languages": [
                    {"id": derived_id(key, "language", code), "location_id": location_id, "code": code}
                    for code in organization.languages
                ],
                "accessibility": _described(key, "accessibility", location_id, organization.accessibility),
                "schedules": _described(key, "schedule", location_id, organization.hours),
            }
        ],
        "attributes": attributes,
        "services": [
            service_object(service, location_id)
            for service in sorted(organization.services, key=lambda s: (s.name, s.id))
        ],
    }
    if organization.referral_email:
        # HSDS wants an address or no field at all, not null.
        found["email"] = organization.referral_email
    return found


def _field_value(organization: Organization, name: str) -> str:
    """The text of an organization field carried as an attribute; empty: no attribute."""
    if name == "address_confidential":
        return "true" if organization.address_confidential else ""
    if name == "public_address" and organization.address_confidential:
        return ""
    return getattr(organization, name) or ""


def _described(key: str, kind: str, location_id: str, text: str) -> list[dict[str, Any]]:
    if not text:
        return []
    return [{"id": derived_id(key, kind), "location_id": location_id, "description": text}]


def service_object(service: Service, location_id: str) -> dict[str, Any]:
    key = service.external_id
    return {
        "id": key,
        "organization_id": service.organization.external_id,
        "name": service.name,
        "description": service.description,
        "status": "active",
        "attributes": [
            {
                "id": derived_id(key, "need", need.code),
                "link_id": key,
                "link_entity": "service",
                "link_type": "need",
                "taxonomy_term_id": need_term_id(need.code),
                "taxonomy_term": need_term(need),
            }
            for need in sorted(service.needs, key=lambda n: n.code)
        ],
        "service_at_locations": [
            {"id": derived_id(key, "at", location_id), "service_id": key, "location_id": location_id}
        ],
    }


# Reading ----------------------------------------------------------------------------


class DirectoryFileError(ValueError):
    """The file as a whole cannot be read as an HSDS directory; nothing was imported."""


@dataclass(frozen=True)
class Refusal:
    """A record left out of an import, and why."""

    kind: str  # "need", "organization" or "service"
    record: str  # its HSDS id, or its place in the file when it has none
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.record}: {self.reason}"


@dataclass(frozen=True)
class NeedRecord:
    term_id: str
    code: str
    label_fr: str
    label_en: str
    group: str


@dataclass(frozen=True)
class OrganizationRecord:
    """An organization of the file: its HSDS id, and what the directory would say about it."""

    external_id: str
    details: OrganizationDetails


@dataclass(frozen=True)
class ServiceRecord:
    """A service of the file: its HSDS id and its organization's, and what the directory would say."""

    external_id: str
    organization_external_id: str
    details: ServiceDetails


@dataclass
class DirectoryRecords:
    """What a file holds, checked record by record: what may be imported and what is refused."""

    needs: list[NeedRecord] = field(default_factory=list)
    organizations: list[OrganizationRecord] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Terms of other taxonomies (211's...) the mapping file does not name: term -> its services' ids.
    unmapped: dict[str, list[str]] = field(default_factory=dict)


class Malformed(ValueError):
    """One record is wrong; the message says which field and how."""


def read_directory(
    organizations: object,
    terms: Iterable[object] = (),
    known_groups: Iterable[str] = (),
    loose_services: Iterable[object] = (),
    taxonomy: TaxonomyMap | None = None,
) -> DirectoryRecords:
    """Check HSDS organization objects (and extra taxonomy terms) and turn them into records.

    `known_groups` are the need groups the database has, to name a need's group
    from its `parent_id` when the group's own term is not in the file.
    `loose_services` are services of a table whose organization is not in the
    file: their `organization_id` must name one the directory already has.
    `taxonomy` reads other taxonomies' terms as needs; a term it does not name
    goes to `unmapped`.
    """
    if not isinstance(organizations, list):
        raise DirectoryFileError("expected a list of HSDS organization objects")
    records = DirectoryRecords()
    foreign = ForeignTerms(taxonomy or TaxonomyMap({}), records.unmapped)
    all_terms = _collect_terms(organizations, terms)
    groups = {group_term_id(g): g for g in {*known_groups, OTHER_GROUP}}
    parents = {t.get("parent_id") for t in all_terms.values() if t.get("parent_id")}
    for term_id, term in all_terms.items():
        if term.get("taxonomy") == NEEDS_TAXONOMY and term_id in parents and not term.get("parent_id"):
            groups[term_id] = str(term.get("code") or "")
    need_terms: dict[str, str | None] = {}  # term id -> need code, None when refused
    for term_id, term in all_terms.items():
        if term.get("taxonomy") != NEEDS_TAXONOMY or term_id in groups:
            continue
        try:
            need = _need(term_id, term, groups)
        except Malformed as error:
            records.refused.append(Refusal("need", _name(term, term_id), str(error)))
            need_terms[term_id] = None
            continue
        records.needs.append(need)
        need_terms[term_id] = need.code
    seen: set[str] = set()
    for position, item in enumerate(organizations, 1):
        where = f"#{position}"
        try:
            organization = _organization(item, where, records.notes)
            if organization.external_id in seen:
                raise Malformed("id: used by another organization of the file")
        except Malformed as error:
            records.refused.append(Refusal("organization", _name(item, where), str(error)))
            services = item.get("services") if isinstance(item, dict) else None
            for service in services if isinstance(services, list) else []:
                reason = "its organization was refused"
                records.refused.append(Refusal("service", _name(service, where), reason))
            continue
        seen.add(organization.external_id)
        records.organizations.append(organization)
        for index, service_item in enumerate(_list(item, "services"), 1):
            service_where = f"#{index} of organization {organization.external_id}"
            try:
                records.services.append(
                    _service(service_item, organization.external_id, all_terms, need_terms, foreign)
                )
            except Malformed as error:
                records.refused.append(Refusal("service", _name(service_item, service_where), str(error)))
    for position, item in enumerate(loose_services, 1):
        try:
            owner = _text(item, "organization_id", 64, required=True) if isinstance(item, dict) else ""
            records.services.append(_service(item, owner, all_terms, need_terms, foreign))
        except Malformed as error:
            records.refused.append(Refusal("service", _name(item, f"#{position}"), str(error)))
    return records


def _name(item: object, fallback: str) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip():
        return item["id"].strip()
    return fallback


def _collect_terms(organizations: list, extra: Iterable[object]) -> dict[str, Mapping[str, Any]]:
    """Every taxonomy term of the file by id: those nested in attributes, and those given apart."""
    found: dict[str, Mapping[str, Any]] = {}

    def add(term: object) -> None:
        if isinstance(term, dict) and isinstance(term.get("id"), str) and term["id"]:
            found.setdefault(term["id"], term)

    for term in extra:
        add(term)

    def items(holder: object, key: str) -> list:
        # A malformed record is refused later, with its reason; here it just has no terms.
        value = holder.get(key) if isinstance(holder, dict) else None
        return value if isinstance(value, list) else []

    for organization in organizations:
        for holder in [organization, *items(organization, "services")]:
            for attribute in items(holder, "attributes"):
                if isinstance(attribute, dict):
                    add(attribute.get("taxonomy_term"))
    return found


def _list(item: Mapping[str, Any], key: str) -> list:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{key}: must be a list")
    return value


def _text(item: Mapping[str, Any], key: str, limit: int | None = None, *, required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Malformed(f"{key}: must be text")
    value = value.strip()
    if required and not value:
        raise Malformed(f"{key}: required but missing")
    if limit is not None and len(value) > limit:
        raise Malformed(f"{key}: at most {limit} characters, got {len(value)}")
    return value


def _identifier(item: object) -> str:
    if not isinstance(item, dict):
        raise Malformed("not an object")
    return _text(item, "id", 64, required=True)


def _need(term_id: str, term: Mapping[str, Any], groups: Mapping[str, str]) -> NeedRecord:
    code = _text(term, "code", 64, required=True)
    if not CODE.match(code):
        raise Malformed(f"code: {code!r} must be lowercase letters, digits and _, starting with a letter")
    label_fr = _text(term, "name", 200, required=True)
    label_en = _text(term, "description", 200) or label_fr
    group = groups.get(str(term.get("parent_id") or ""), OTHER_GROUP)
    if len(group) > 32 or not CODE.match(group):
        raise Malformed(f"parent_id: the group {group!r} is not a valid group code")
    return NeedRecord(term_id, code, label_fr, label_en, group)


def _organization(item: object, where: str, notes: list[str]) -> OrganizationRecord:
    external_id = _identifier(item)
    assert isinstance(item, dict)  # noqa: S101 - _identifier refused anything else
    name = _text(item, "name", 200, required=True)
    email = _email(_text(item, "email", 254))
    contacts = [c for c in _list(item, "contacts") if isinstance(c, dict)]
    if not email:
        email = next((_email(_text(c, "email", 254)) for c in contacts if c.get("email")), "")
    phones = [p for p in _list(item, "phones") if isinstance(p, dict)]
    phone = _text(phones[0], "number", 40) if phones else ""
    locations = [loc for loc in _list(item, "locations") if isinstance(loc, dict)]
    if len(locations) > 1:
        notes.append(f"organization {external_id}: {len(locations)} locations; Maillage keeps one, the first")
    location = locations[0] if locations else {}
    languages = tuple(
        _text(language, "code", 16, required=True)
        for language in _list(location, "languages")
        if isinstance(language, dict)
    )
    described = {
        key: "\n".join(
            _text(entry, "description") for entry in _list(location, key) if isinstance(entry, dict)
        ).strip()
        for key in ("accessibility", "schedules")
    }
    fields: dict[str, str] = {}
    for attribute in _list(item, "attributes"):
        term = attribute.get("taxonomy_term") if isinstance(attribute, dict) else None
        if not isinstance(term, dict) or term.get("taxonomy") != ORGANIZATION_TAXONOMY:
            continue
        code = term.get("code")
        if code in ORGANIZATION_FIELDS:
            limit = ORGANIZATION_FIELDS[code][2]
            fields[code] = _text(attribute, "value", limit)
    capacity = fields.get("capacity_status") or None
    if capacity is not None and capacity not in CAPACITY_STATUSES:
        raise Malformed(f"capacity_status: {capacity!r} is not one of {', '.join(CAPACITY_STATUSES)}")
    details = OrganizationDetails(
        name=name,
        mandate=_text(item, "description"),
        kind=fields.get("kind", ""),
        territory=fields.get("territory", ""),
        clienteles=fields.get("clienteles", ""),
        languages=languages,
        accessibility=described["accessibility"],
        hours=_limited("schedules", described["schedules"], 200),
        phone=phone,
        referral_email=email,
        capacity_status=capacity,
        public_address=fields.get("public_address", ""),
        address_confidential=fields.get("address_confidential", "").strip().lower() in ("true", "yes", "1"),
        what_to_bring=fields.get("what_to_bring", ""),
    )
    return OrganizationRecord(external_id, details)


def _limited(key: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise Malformed(f"{key}: at most {limit} characters, got {len(value)}")
    return value


def _email(value: str) -> str:
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise Malformed(f"email: {value!r} is not an email address ({error})") from None


def _service(
    item: object,
    organization_id: str,
    terms: Mapping[str, Mapping[str, Any]],
    need_terms: Mapping[str, str | None],
    foreign: ForeignTerms,
) -> ServiceRecord:
    external_id = _identifier(item)
    assert isinstance(item, dict)  # noqa: S101 - _identifier refused anything else
    given = item.get("organization_id")
    if given not in (None, "", organization_id):
        raise Malformed(f"organization_id: {given!r} is not the organization it is listed under")
    status = _text(item, "status") or "active"
    if status not in ("active", "temporarily closed"):
        raise Malformed(f"status: {status!r}; Maillage lists only active or temporarily closed services")
    codes = []
    for attribute in _list(item, "attributes"):
        if not isinstance(attribute, dict):
            raise Malformed("attributes: each must be an object")
        term_id = attribute.get("taxonomy_term_id") or (attribute.get("taxonomy_term") or {}).get("id")
        if term_id not in need_terms:
            # Another taxonomy's term (e.g. 211's): the mapping file says which needs it means.
            codes += foreign.needs(term_id, terms.get(term_id), external_id)
            continue
        if need_terms[term_id] is None:
            code = (terms.get(term_id) or {}).get("code", term_id)
            raise Malformed(f"attributes: its need {code!r} was refused")
        codes.append(need_terms[term_id])
    details = ServiceDetails(
        name=_text(item, "name", 200, required=True),
        description=_text(item, "description"),
        need_codes=tuple(sorted(set(codes))),
    )
    return ServiceRecord(external_id, organization_id, details)


@dataclass
class ForeignTerms:
    """Reads other taxonomies' terms through the mapping file, and keeps those it does not name."""

    taxonomy: TaxonomyMap
    unmapped: dict[str, list[str]]

    def needs(self, term_id: object, term: Mapping[str, Any] | None, service_id: str) -> list[str]:
        term = term or {}
        code, name = term.get("code"), term.get("name")
        found = self.taxonomy.needs_for(*(v for v in (code, name, term_id) if isinstance(v, str)))
        if found is not None:
            return list(found)
        shown = " — ".join(str(v) for v in (code, name) if v) or str(term_id)
        self.unmapped.setdefault(shown, []).append(service_id)
        return []

"""Importing organizations and their services from a spreadsheet: a plan first, then all of it or nothing.

Each row names an organization and, optionally, one of its services; an
organization with several services comes on several rows. Organizations are
matched by name case aside and services by name within their organization, as
the directory's pages match them, so importing the same file twice changes
nothing the second time. An empty cell means "not given": it leaves what the
directory says. Import adds and updates; it never removes an organization, a
service or a need the file does not mention.

The plan (the dry run) says row by row what would be created, updated and
refused, and why; committing writes the whole plan in one transaction, and only
a plan with no refusal: one bad row and nothing is written.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import lru_cache

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.address_book.sheet_contacts import SheetContacts
from service.clock import Clock
from service.clock import utcnow
from service.directory.errors import DirectoryNotAllowed
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.operations import OrganizationDetails
from service.directory.operations import ServiceDetails
from service.directory.operations import may_create_organization
from service.directory.operations import set_details
from service.directory.operations import set_service
from service.directory.sheet_columns import ORGANIZATION_FIELDS
from service.directory.sheet_columns import mapping_problems
from service.directory.sheet_reading import Sheet
from service.referrals.actors import Actor
from service.standards.taxonomy_map import TaxonomyMap
from service.standards.taxonomy_map import term_key

log = logging.getLogger(__name__)

# The directory's own limits (service.directory.models), checked here so a row is refused with its reason.
LIMITS = {
    "name": 200,
    "kind": 64,
    "territory": 200,
    "hours": 200,
    "phone": 40,
    "contact_phone": 40,
    "contact_name": 200,
    "contact_role": 200,
    "service_name": 200,
    "public_address": 300,
    "what_to_bring": 2000,
}
CAPACITY_WORDS = {
    "open": ("open", "ouvert", "ouverte", "disponible", "places disponibles", "accepting"),
    "waitlist": ("waitlist", "waiting list", "liste d'attente", "liste d attente", "attente"),
    "full": ("full", "complet", "complete", "plein", "pleine"),
}
CAPACITY_BY_WORD = {term_key(word): status for status, words in CAPACITY_WORDS.items() for word in words}
# "Adresse confidentielle" cells: yes or no, as people write them.
CONFIDENTIAL_WORDS = {
    True: ("yes", "oui", "true", "vrai", "x", "1", "confidential", "confidentielle"),
    False: ("no", "non", "false", "faux", "0", "publique", "public"),
}
CONFIDENTIAL_BY_WORD = {term_key(word): flag for flag, words in CONFIDENTIAL_WORDS.items() for word in words}
LIST_SEPARATORS = re.compile(r"[;,|/\n]+")
TERM_SEPARATORS = re.compile(r"[;,|\n]+")


@dataclass(frozen=True)
class Problem:
    """A row refused, or the file as a whole (`line` None): the field and a code `sheet_wording` words."""

    line: int | None
    field: str
    code: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """A record the import would create or update, at the first row naming it."""

    line: int
    kind: str  # "organization", "service" or "contact" (a person, into her organization's address book)
    name: str
    outcome: str  # "created", "updated" or "unchanged"
    organization: str = ""  # a service's or a contact person's organization


@dataclass
class _OrganizationPlan:
    line: int
    name: str
    existing: Organization | None
    given: dict[str, object]  # the file's values, field by field, from the first row giving each
    given_at: dict[str, int]
    outcome: str = ""


@dataclass
class _ServicePlan:
    line: int
    organization_key: str
    name: str
    existing: Service | None
    description: str = ""
    description_at: int = 0
    need_codes: set[str] = field(default_factory=set)


@dataclass
class SheetPlan:
    """What importing the sheet would do; `written` once committed."""

    changes: list[Change] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)
    unmapped: dict[str, list[int]] = field(default_factory=dict)  # term -> the rows naming it
    empty_rows: int = 0
    written: bool = False
    _contacts: SheetContacts = field(default_factory=SheetContacts)
    _organizations: dict[str, _OrganizationPlan] = field(default_factory=dict)
    _services: dict[tuple[str, str], _ServicePlan] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> int:
        return Counter((c.kind, c.outcome) for c in self.changes)[(kind, outcome)]

    @property
    def shown_changes(self) -> list[Change]:
        """The creations and updates, by row: what the admin checks before committing."""
        return [c for c in self.changes if c.outcome != "unchanged"]


class _RowRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


# Planning (the dry run) ----------------------------------------------------------------


def plan_import(session: Session, sheet: Sheet, mapping: Sequence[str], taxonomy: TaxonomyMap) -> SheetPlan:
    """What importing `sheet` with `mapping` (a field or "" per column) would do; writes nothing."""
    plan = SheetPlan(empty_rows=sheet.empty_rows)
    for problem, columns in mapping_problems(mapping):
        plan.refused.append(
            Problem(None, problem.partition(":")[2], problem.partition(":")[0], {"columns": columns})
        )
    if plan.refused:
        return plan
    known = {o.name.strip().lower(): o for o in session.scalars(_organizations_query())}
    plan._contacts.load(session)
    needs = _NeedReader(list(session.scalars(select(Need))), taxonomy)
    for line, cells in sheet.rows:
        given = {name: cells[index] for index, name in enumerate(mapping) if name and cells[index]}
        try:
            _plan_row(plan, known, needs, line, given)
        except _RowRefused as refusal:
            plan.refused += refusal.problems
    changes = []
    for organization in plan._organizations.values():
        change = _organization_change(organization)
        organization.outcome = change.outcome
        changes.append(change)
    changes += [_service_change(plan, service) for service in plan._services.values()]
    changes += [
        Change(line, "contact", name, outcome, organization)
        for line, name, outcome, organization in plan._contacts.changes()
    ]
    plan.changes = sorted(
        changes, key=lambda c: (c.line, ("organization", "service", "contact").index(c.kind))
    )
    return plan


def _organizations_query():  # type: ignore[no-untyped-def]
    return select(Organization).options(selectinload(Organization.services).selectinload(Service.needs))


def _plan_row(
    plan: SheetPlan, known: dict[str, Organization], needs: _NeedReader, line: int, given: dict[str, str]
) -> None:
    values, problems = _checked(line, given)
    service_name = values.pop("service_name", "")
    description = values.pop("service_description", "")
    terms = values.pop("service_needs", [])
    contact_email, contact_phone = values.pop("contact_email", ""), values.pop("contact_phone", "")
    contact_name, contact_role = values.pop("contact_name", ""), values.pop("contact_role", "")
    if (description or terms) and not service_name:
        problems.append(Problem(line, "service_name", "required_with_service"))
    name = str(values.get("name", ""))
    if not name:
        problems.append(Problem(line, "name", "required"))
    if problems:
        raise _RowRefused(problems)
    # Her email and phone also stand for the organization's when the file gives none: partners need one.
    if contact_email and "referral_email" not in values:
        values["referral_email"] = contact_email
    if contact_phone and "phone" not in values:
        values["phone"] = contact_phone
    key = name.lower()
    organization = plan._organizations.get(key)
    conflicts = []
    if organization is not None:
        for name_, value in values.items():
            if name_ != "name" and name_ in organization.given and organization.given[name_] != value:
                first = organization.given_at[name_]
                conflicts.append(Problem(line, name_, "differs", {"first_line": first}))
    service_key = (key, str(service_name).lower())
    service = plan._services.get(service_key) if service_name else None
    if service is not None and description and service.description and service.description != description:
        conflicts.append(
            Problem(line, "service_description", "differs", {"first_line": service.description_at})
        )
    if conflicts:
        raise _RowRefused(conflicts)
    codes = needs.codes(terms, line, plan.unmapped)
    if organization is None:
        organization = _OrganizationPlan(line, name, known.get(key), {}, {})
        plan._organizations[key] = organization
    for name_, value in values.items():
        organization.given.setdefault(name_, value)
        organization.given_at.setdefault(name_, line)
    if service_name:
        if service is None:
            existing = organization.existing
            match = (
                next((s for s in existing.services if s.name.strip().lower() == service_key[1]), None)
                if existing is not None
                else None
            )
            service = _ServicePlan(line, key, str(service_name), match)
            plan._services[service_key] = service
        if description and not service.description:
            service.description, service.description_at = str(description), line
        service.need_codes |= codes
    if contact_name:
        given = {"role": str(contact_role), "email": str(contact_email), "phone": str(contact_phone)}
        plan._contacts.plan(line, key, organization.existing, organization.name, str(contact_name), given)


def _checked(line: int, given: dict[str, str]) -> tuple[dict, list[Problem]]:
    """The row's values in the directory's terms, and the problems of those that cannot be."""
    values: dict[str, object] = {}
    problems = []
    for name, text in given.items():
        limit = LIMITS.get(name)
        if limit is not None and len(text) > limit:
            problems.append(Problem(line, name, "too_long", {"limit": limit, "length": len(text)}))
            continue
        try:
            values[name] = _value(name, text)
        except ValueError as error:
            problems.append(Problem(line, name, str(error), {"value": text[:80]}))
    return values, problems


def _value(name: str, text: str) -> object:
    if name in ("referral_email", "contact_email"):
        return _email(text)
    if name == "capacity_status":
        try:
            return CAPACITY_BY_WORD[term_key(text)]
        except KeyError:
            raise ValueError("capacity_unknown") from None
    if name == "address_confidential":
        try:
            return CONFIDENTIAL_BY_WORD[term_key(text)]
        except KeyError:
            raise ValueError("confidential_unknown") from None
    if name == "what_to_bring":
        # One item a line, as the directory keeps them; a cell lists them with ; or new lines.
        return "\n".join(part.strip() for part in re.split(r"[;\n]+", text) if part.strip())
    if name == "languages":
        return tuple(part.strip() for part in LIST_SEPARATORS.split(text) if part.strip())
    if name == "service_needs":
        return [part.strip() for part in TERM_SEPARATORS.split(text) if part.strip()]
    return text


@lru_cache(maxsize=4096)
def _email(text: str) -> str:
    """The address normalized; cached, since an organization's comes again on each of its rows."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("invalid_email") from None


class _NeedReader:
    """A category cell's terms as need codes: Maillage's own codes and labels, then the mapping file."""

    def __init__(self, needs: list[Need], taxonomy: TaxonomyMap) -> None:
        self.known = {need.code for need in needs}
        self.words = {term_key(need.code): need.code for need in needs}
        for need in needs:
            self.words[term_key(need.label_fr)] = need.code
            self.words[term_key(need.label_en)] = need.code
        self.taxonomy = taxonomy

    def codes(self, terms: list[str], line: int, unmapped: dict[str, list[int]]) -> set[str]:
        found: set[str] = set()
        for term in terms:
            own = self.words.get(term_key(term))
            mapped = (own,) if own else self.taxonomy.needs_for(term)
            if mapped is None:
                unmapped.setdefault(term, []).append(line)
                continue
            # A need the mapping file names but the directory lacks counts as no mapping: listed.
            known = {code for code in mapped if code in self.known}
            if mapped and not known:
                unmapped.setdefault(term, []).append(line)
            found |= known
        return found


def _details(existing: Organization | None, name: str, given: dict[str, object]) -> OrganizationDetails:
    """What the directory would say: its current details, with the file's values over them."""
    current: dict[str, object] = {"name": name}
    if existing is not None:
        current = {f: getattr(existing, f) or "" for f in ORGANIZATION_FIELDS}
        current["languages"] = tuple(existing.languages or ())
        current["capacity_status"] = existing.capacity_status
        current["address_confidential"] = existing.address_confidential
    merged = {**current, **{k: v for k, v in given.items() if k != "name"}}
    return replace(OrganizationDetails(name=name), **merged)


def _organization_change(plan: _OrganizationPlan) -> Change:
    existing = plan.existing
    if existing is None:
        return Change(plan.line, "organization", plan.name, "created")
    details = _details(existing, existing.name, plan.given)
    before = _details(existing, existing.name, {})
    outcome = "updated" if _trimmed(details) != _trimmed(before) else "unchanged"
    return Change(plan.line, "organization", existing.name, outcome)


def _trimmed(details: OrganizationDetails) -> OrganizationDetails:
    """Details as `set_details` would store them: comparing these says whether a write changes anything."""
    scratch = Organization()
    set_details(scratch, details)
    return replace(
        details,
        **{f: getattr(scratch, f) for f in ORGANIZATION_FIELDS if f not in ("languages", "capacity_status")},
        languages=tuple(scratch.languages),
    )


def _service_change(plan: SheetPlan, service: _ServicePlan) -> Change:
    organization = plan._organizations[service.organization_key]
    owner = organization.existing.name if organization.existing is not None else organization.name
    existing = service.existing
    if existing is None:
        return Change(service.line, "service", service.name, "created", owner)
    changed = (service.description and service.description.strip() != existing.description) or not (
        service.need_codes <= {need.code for need in existing.needs}
    )
    return Change(service.line, "service", existing.name, "updated" if changed else "unchanged", owner)


# Committing ------------------------------------------------------------------------------


def import_sheet(
    session: Session,
    actor: Actor,
    sheet: Sheet,
    mapping: Sequence[str],
    taxonomy: TaxonomyMap,
    *,
    dry_run: bool,
    clock: Clock = utcnow,
) -> SheetPlan:
    """Plan the import of `sheet` (the regional admin only) and, unless `dry_run`, commit all of it.

    Nothing is written when any row is refused: the plan says why, row by row.
    """
    if not may_create_organization(actor):
        raise DirectoryNotAllowed("import_sheet")
    plan = plan_import(session, sheet, mapping, taxonomy)
    if not dry_run:
        commit_plan(session, plan, clock=clock, actor=actor)
    return plan


def commit_plan(
    session: Session, plan: SheetPlan, *, clock: Clock = utcnow, actor: Actor | None = None
) -> None:
    """Write the plan in one transaction; a plan with a refusal writes nothing.

    `actor` is who the audit log names for the address book entries written (the system when none).
    """
    if plan.refused:
        session.rollback()
        return
    now = clock()
    try:
        written: dict[str, Organization] = {}
        for key, organization in plan._organizations.items():
            existing = organization.existing
            if existing is None:
                row = Organization(created_at=now)
                set_details(row, _details(None, organization.name, organization.given))
                session.add(row)
            else:
                row = existing
                if organization.outcome == "updated":
                    set_details(row, _details(existing, existing.name, organization.given))
            written[key] = row
        session.flush()
        needs = {need.code: need for need in session.scalars(select(Need))}
        for service in plan._services.values():
            _write_service(session, service, written[service.organization_key], needs)
        plan._contacts.write(session, written, actor or Actor.system(), now)
        session.commit()
    except IntegrityError:
        # Someone added an organization of the same name meanwhile: nothing of the file is kept.
        session.rollback()
        plan.refused.append(Problem(None, "", "directory_changed"))
        return
    except Exception:
        session.rollback()
        raise
    plan.written = True
    log.info(
        "spreadsheet import: %d organization(s) created, %d updated; %d service(s) created, %d updated",
        plan.count("organization", "created"),
        plan.count("organization", "updated"),
        plan.count("service", "created"),
        plan.count("service", "updated"),
    )


def _write_service(
    session: Session, service: _ServicePlan, organization: Organization, needs: dict[str, Need]
) -> None:
    """Write one service through `set_service`; its needs from `needs`, loaded once for the whole file.

    `set_service` would look the needs up itself, one query per service, each one flushing the
    services added before it: 33 s instead of 3 for 5,000 rows (bench/import.py).
    """
    existing = service.existing
    if existing is None:
        row = Service(organization_id=organization.id)
        set_service(session, row, ServiceDetails(service.name, service.description))
        row.needs = [needs[code] for code in sorted(service.need_codes) if code in needs]
        session.add(row)
        return
    codes = {need.code for need in existing.needs}
    description = service.description.strip() or existing.description
    if description == existing.description and service.need_codes <= codes:
        return
    set_service(session, existing, ServiceDetails(existing.name, description))
    existing.needs = [needs[code] for code in sorted(codes | service.need_codes) if code in needs]

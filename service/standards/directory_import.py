"""Importing an Open Referral (HSDS) directory: each record whole or not at all, then one commit.

Organizations and services are written the way the directory's pages write
them (`directory.operations`: `set_details`, `set_service`, names unique case
aside). Each need, organization and service is written inside its own
savepoint: a record the directory or the database refuses (e.g. a name
another organization has) rolls back alone and is reported with its reason,
the others stay. Everything is committed once at the end, so an import that
stops half-way (a crash, a lost connection) leaves the directory as it was;
running it again is safe, since records are matched by their HSDS id and an
unchanged record is not written.

Import adds and updates; it never deletes what the file does not mention.
A record matched by name rather than by id (an organization created in
Maillage, a service of it) takes the file's id, so later imports match it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.operations import organization_named
from service.directory.operations import set_details
from service.directory.operations import set_service
from service.standards.hsds import DirectoryFileError
from service.standards.hsds import DirectoryRecords
from service.standards.hsds import NeedRecord
from service.standards.hsds import OrganizationRecord
from service.standards.hsds import Refusal
from service.standards.hsds import ServiceRecord
from service.standards.hsds import read_directory
from service.standards.tabular import DESCRIPTOR
from service.standards.tabular import read_package
from service.standards.taxonomy_map import TaxonomyMap
from service.standards.taxonomy_map import configured_map

KINDS = ("need", "organization", "service")


@dataclass
class ImportReport:
    """What an import did, per kind of record, and what it refused and why."""

    counts: dict[str, Counter] = field(default_factory=lambda: {kind: Counter() for kind in KINDS})
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Other taxonomies' terms no need was found for (term -> the ids of its services): see `taxonomy_map`.
    unmapped: dict[str, list[str]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> int:
        return self.counts[kind][outcome]


def read_file(path: Path) -> tuple[object, list, list]:
    """(organizations, taxonomy terms, loose services) of an HSDS file, not checked yet.

    The file is a JSON list of organizations, or a tabular data package given
    by its folder or its `datapackage.json`.
    """
    if path.is_dir() or path.name == DESCRIPTOR:
        return read_package(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectoryFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DirectoryFileError(f"{path}: not a readable JSON file ({error})") from None
    if isinstance(data, dict) and "resources" in data:
        return read_package(path)
    return data, [], []


def import_file(
    session: Session,
    path: Path,
    *,
    dry_run: bool = False,
    clock: Clock = utcnow,
    taxonomy: TaxonomyMap | None = None,
) -> ImportReport:
    """Read `path` and import it; `dry_run` reports what would happen and writes nothing."""
    organizations, terms, loose = read_file(path)
    return import_objects(
        session, organizations, terms, loose, dry_run=dry_run, clock=clock, taxonomy=taxonomy
    )


def import_objects(
    session: Session,
    organizations: object,
    terms: Iterable[object] = (),
    loose_services: Iterable[object] = (),
    *,
    dry_run: bool = False,
    clock: Clock = utcnow,
    taxonomy: TaxonomyMap | None = None,
) -> ImportReport:
    """Check HSDS organization objects (see `hsds.read_directory`) and import what passes.

    Other taxonomies' terms are read through `taxonomy`, the installation's mapping file by default.
    """
    known_groups = list(session.scalars(select(Need.group).distinct()))
    taxonomy = configured_map() if taxonomy is None else taxonomy
    records = read_directory(organizations, terms, known_groups, loose_services, taxonomy)
    return import_records(session, records, dry_run=dry_run, clock=clock)


def import_records(
    session: Session, records: DirectoryRecords, *, dry_run: bool = False, clock: Clock = utcnow
) -> ImportReport:
    """Write checked records into the directory; see the module's docstring for the guarantees."""
    report = ImportReport(
        refused=list(records.refused), notes=list(records.notes), unmapped=dict(records.unmapped)
    )
    now = clock()
    try:
        for need in records.needs:
            _in_savepoint(session, report, "need", need.code, lambda n=need: _put_need(session, n))
        refused_organizations = {r.record for r in report.refused if r.kind == "organization"}
        for organization in records.organizations:
            written = _in_savepoint(
                session,
                report,
                "organization",
                organization.external_id,
                lambda o=organization: _put_organization(session, o, now),
            )
            if not written:
                refused_organizations.add(organization.external_id)
        for service in records.services:
            if service.organization_external_id in refused_organizations:
                report.refused.append(Refusal("service", service.external_id, "its organization was refused"))
                continue
            _in_savepoint(
                session, report, "service", service.external_id, lambda s=service: _put_service(session, s)
            )
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def _in_savepoint(
    session: Session, report: ImportReport, kind: str, record: str, write: Callable[[], str]
) -> bool:
    """Run `write` in a savepoint; count its outcome, or roll it back alone and record why."""
    try:
        with session.begin_nested():
            outcome = write()
            session.flush()
    except (SQLAlchemyError, RecordRefused) as error:
        reason = error.reason if isinstance(error, RecordRefused) else _database_reason(error)
        report.refused.append(Refusal(kind, record, reason))
        return False
    report.counts[kind][outcome] += 1
    return True


def _database_reason(error: SQLAlchemyError) -> str:
    # The driver's message may quote the row's values: say what kind of rule failed, not the row.
    if isinstance(error, IntegrityError):
        return "the database refused it: a name or id another record already has, or a missing link"
    return f"the database refused it ({type(error).__name__})"


class RecordRefused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _changed(row: object, values: dict[str, object]) -> bool:
    different = {key: value for key, value in values.items() if getattr(row, key) != value}
    for key, value in different.items():
        setattr(row, key, value)
    return bool(different)


def _put_need(session: Session, record: NeedRecord) -> str:
    values = {"group": record.group, "label_fr": record.label_fr, "label_en": record.label_en}
    need = session.get(Need, record.code)
    if need is None:
        session.add(Need(code=record.code, active=True, **values))
        return "created"
    return "updated" if _changed(need, values) else "unchanged"


def _put_organization(session: Session, record: OrganizationRecord, now: datetime) -> str:
    name = record.details.name
    organization = session.scalar(
        select(Organization).where(Organization.external_id == record.external_id)
    ) or organization_named(session, name)
    if organization is None:
        organization = Organization(created_at=now, external_id=record.external_id)
        set_details(organization, record.details)
        session.add(organization)
        return "created"
    if organization_named(session, name, other_than=organization.id) is not None:
        raise RecordRefused("name: another organization of the directory has it (case aside)")
    organization.external_id = record.external_id
    set_details(organization, record.details)
    return "updated" if session.is_modified(organization) else "unchanged"


def _put_service(session: Session, record: ServiceRecord) -> str:
    organization = session.scalar(
        select(Organization).where(Organization.external_id == record.organization_external_id)
    )
    if organization is None:
        unknown = record.organization_external_id
        raise RecordRefused(f"organization_id: {unknown!r} is neither in the file nor in the directory")
    details = record.details
    # `set_service` keeps only the needs the taxonomy has: refused here rather than silently dropped.
    known = set(session.scalars(select(Need.code).where(Need.code.in_(details.need_codes))))
    missing = set(details.need_codes) - known
    if missing:
        raise RecordRefused(f"attributes: unknown needs {', '.join(sorted(missing))}")
    service = session.scalar(select(Service).where(Service.external_id == record.external_id))
    if service is None:
        service = session.scalar(
            select(Service).where(Service.organization_id == organization.id, Service.name == details.name)
        )
    if service is None:
        service = Service(external_id=record.external_id, organization_id=organization.id)
        set_service(session, service, details)
        session.add(service)
        return "created"
    service.external_id = record.external_id
    service.organization_id = organization.id
    # Flushing before the needs are set would hide the other changes from `is_modified`.
    with session.no_autoflush:
        set_service(session, service, details)
    return "updated" if session.is_modified(service) else "unchanged"

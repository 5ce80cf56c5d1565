"""HSDS as a tabular data package: one CSV file per table and a `datapackage.json` describing them.

Writing flattens the nested HSDS objects of `hsds.export_directory` into
tables, each child row carrying its parent's id; reading nests the rows back
into the same objects, so both forms go through one import.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from service.standards.hsds import HSDS_VERSION
from service.standards.hsds import DirectoryFileError

DESCRIPTOR = "datapackage.json"

# The tables Maillage writes, their columns in order, and the type of the non-text ones.
TABLES: dict[str, tuple[str, ...]] = {
    "organization": ("id", "name", "description", "email"),
    "service": ("id", "organization_id", "name", "description", "status"),
    "location": ("id", "organization_id", "location_type", "name"),
    "service_at_location": ("id", "service_id", "location_id"),
    "phone": ("id", "organization_id", "number"),
    "contact": ("id", "organization_id", "title", "email"),
    "language": ("id", "location_id", "code"),
    "accessibility": ("id", "location_id", "description"),
    "schedule": ("id", "location_id", "description"),
    "taxonomy_term": ("id", "code", "name", "description", "language", "taxonomy", "parent_id"),
    "attribute": ("id", "link_id", "link_entity", "link_type", "taxonomy_term_id", "value"),
}
# Where each nested list of an HSDS object goes: (its key, its table).
ORGANIZATION_LISTS = (("phones", "phone"), ("contacts", "contact"), ("locations", "location"))
LOCATION_LISTS = (("languages", "language"), ("accessibility", "accessibility"), ("schedules", "schedule"))


def flatten(organizations: list[dict[str, Any]], terms: list[dict[str, Any]]) -> dict[str, list[dict]]:
    """HSDS organization objects (and the whole taxonomy) as rows, by table."""
    tables: dict[str, list[dict]] = {name: [] for name in TABLES}
    tables["taxonomy_term"] = list(terms)
    for organization in organizations:
        tables["organization"].append(organization)
        for key, table in ORGANIZATION_LISTS:
            tables[table] += organization[key]
        for location in organization["locations"]:
            for key, table in LOCATION_LISTS:
                tables[table] += location[key]
        tables["attribute"] += organization["attributes"]
        for service in organization["services"]:
            tables["service"].append(service)
            tables["attribute"] += service["attributes"]
            tables["service_at_location"] += service["service_at_locations"]
    return tables


def write_package(folder: Path, organizations: list[dict[str, Any]], terms: list[dict[str, Any]]) -> None:
    """Write the CSV files and their `datapackage.json` into `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for table, rows in flatten(organizations, terms).items():
        columns = TABLES[table]
        with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
        resources.append(
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": [{"name": c, "type": "string"} for c in columns]},
            }
        )
    descriptor = {
        "name": "maillage-directory",
        "title": "Maillage directory (Open Referral HSDS)",
        "profile": "tabular-data-package",
        "hsds_version": HSDS_VERSION,
        "resources": resources,
    }
    (folder / DESCRIPTOR).write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", "utf-8")


def read_package(path: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(organizations, taxonomy terms, services of organizations not in the package) from a package.

    `path` is the `datapackage.json` or its folder. Tables the descriptor does
    not list are empty; a missing organization table is an error.
    """
    descriptor_path = path / DESCRIPTOR if path.is_dir() else path
    folder = descriptor_path.parent
    try:
        descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectoryFileError(f"{descriptor_path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DirectoryFileError(f"{descriptor_path}: not a readable JSON data package ({error})") from None
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    if not isinstance(resources, list):
        raise DirectoryFileError(f"{descriptor_path}: a data package lists its tables in 'resources'")
    paths = {
        r["name"]: folder / r["path"]
        for r in resources
        if isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("path"), str)
    }
    if "organization" not in paths:
        raise DirectoryFileError(f"{descriptor_path}: no 'organization' table among its resources")
    tables = {name: _rows(paths[name], folder) if name in paths else [] for name in TABLES}
    return nest(tables)


def _rows(path: Path, folder: Path) -> list[dict[str, Any]]:
    if folder.resolve() not in path.resolve().parents:
        raise DirectoryFileError(f"{path}: a table must be inside the package's folder")
    try:
        with path.open(encoding="utf-8-sig", newline="") as source:
            # An empty cell reads as "not given", as it would be missing from a JSON object.
            return [
                {key: (value or None) for key, value in row.items() if key is not None}
                for row in csv.DictReader(source)
            ]
    except FileNotFoundError:
        raise DirectoryFileError(f"{path}: listed in the data package but missing") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DirectoryFileError(f"{path}: not a readable UTF-8 CSV file ({error})") from None


def nest(tables: dict[str, list[dict]]) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows by table back into HSDS organization objects; see `read_package`."""
    terms = {row["id"]: row for row in tables["taxonomy_term"] if row.get("id")}
    by_parent: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for key, table in ORGANIZATION_LISTS:
        for row in tables[table]:
            by_parent[(key, row.get("organization_id") or "")].append(row)
    for key, table in LOCATION_LISTS:
        for row in tables[table]:
            by_parent[(key, row.get("location_id") or "")].append(row)
    for row in tables["attribute"]:
        attribute = dict(row)
        attribute["taxonomy_term"] = terms.get(row.get("taxonomy_term_id") or "")
        by_parent[("attributes", row.get("link_id") or "")].append(attribute)
    for row in tables["service_at_location"]:
        by_parent[("service_at_locations", row.get("service_id") or "")].append(row)
    services_of: dict[str, list[dict]] = defaultdict(list)
    for row in tables["service"]:
        service = dict(row)
        service["attributes"] = by_parent[("attributes", row.get("id") or "")]
        service["service_at_locations"] = by_parent[("service_at_locations", row.get("id") or "")]
        services_of[row.get("organization_id") or ""].append(service)
    organizations = []
    for row in tables["organization"]:
        key = row.get("id") or ""
        organization = dict(row)
        for name, _ in ORGANIZATION_LISTS:
            organization[name] = [dict(r) for r in by_parent[(name, key)]] if key else []
        for location in organization["locations"]:
            for name, _ in LOCATION_LISTS:
                location[name] = by_parent[(name, location.get("id") or "")]
        organization["attributes"] = by_parent[("attributes", key)] if key else []
        organization["services"] = services_of.pop(key, []) if key else []
        organizations.append(organization)
    loose = [service for services in services_of.values() for service in services]
    return organizations, list(terms.values()), loose

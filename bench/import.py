# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""The directory's spreadsheet import on a 5,000-row file: read, check (dry run), commit, and again.

A generated file of `--rows` rows (default 5,000): fictional organizations of
three services each, as Excel in French Canada writes a CSV (semicolons,
Windows-1252), with emails, phones, capacity words, languages and categories
mixing Maillage's need labels, 211 terms the shipped mapping file knows and a
few it does not. The same rows are also written as an XLSX workbook (openpyxl).

Timed, each once, as the page and `maillage directory import-sheet` run them
(`service.directory.sheet_import`): reading the CSV, reading the XLSX, the dry
run (the plan against the directory), the first import (the plan, then the
commit of every organization and service in one transaction), and the same file
imported again (a plan in which every record is unchanged, and a commit that
writes nothing). Target: the first import, reading included, under 10 s.

    .venv/bin/python bench/import.py [--rows N] [--url URL | --sqlite]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the
local test server); the benchmark creates a database of its own there and drops
it. `--sqlite` uses a scratch SQLite file instead (the embedded default). The
exit code is 0 whether the target is met or missed; non-zero only when it
cannot run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/transitions.py and comes first on the import path:
# drop it, or the engine's `import transitions` imports that script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))  # last: our helpers, after every library

import argparse
import io
import os
import random
import time
from datetime import UTC
from datetime import datetime

from openpyxl import Workbook
from scratch_database import bench_database
from scratch_database import database_arguments
from scratch_database import shown
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.db import make_engine
from service.db import session_factory
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.needs import seed_needs
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_import import import_sheet
from service.directory.sheet_reading import read_sheet
from service.referrals.actors import Actor
from service.standards.taxonomy_map import configured_map

TARGET_SECONDS = 10.0
HEADER = (
    "Nom de l'organisme",
    "Type d'organisme",
    "Territoire desservi",
    "Langues",
    "Téléphone",
    "Courriel",
    "Capacité d'accueil",
    "Nom du service",
    "Description du service",
    "Catégories",
    "Personne contact",
)
CATEGORIES = (
    "Hébergement d'urgence (maison d'hébergement)",
    "Domestic Violence Shelters",
    "Food Pantries",
    "Francisation",
    "Legal Aid",
    "Santé mentale",
    "Logement",
    "Child Care",
    "Tricot solidaire",  # no entry in the mapping file: listed, not imported
)
CAPACITY = ("ouvert", "liste d'attente", "complet", "")


def rows(count: int, seed: int = 13) -> list[list[str]]:
    """`count` rows: fictional organizations of three services each."""
    chance = random.Random(seed)
    found = []
    for index in range(count):
        number = index // 3
        found.append(
            [
                f"Organisme fictif n° {number:05d}",
                ("Maison d'hébergement", "Centre de femmes", "Banque alimentaire")[number % 3],
                "Laval",
                "français, English",
                f"450-555-{number % 10000:04d}",
                f"accueil{number}@organisme-fictif.example",
                CAPACITY[number % len(CAPACITY)],
                f"Service {index % 3 + 1}",
                f"Description du service {index % 3 + 1} de l'organisme fictif n° {number}",
                "; ".join(chance.sample(CATEGORIES, 2)),
                "Personne Fictive",
            ]
        )
    return found


def as_french_excel_csv(table: list[list[str]]) -> bytes:
    quoted = ['"' + cell.replace('"', '""') + '"' if ";" in cell else cell for cell in HEADER]
    lines = [";".join(quoted)]
    for row in table:
        lines.append(";".join('"' + cell.replace('"', '""') + '"' if ";" in cell else cell for cell in row))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def as_xlsx(table: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(HEADER))
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def timed(work):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    database_arguments(parser)
    args = parser.parse_args(argv)
    table = rows(args.rows)
    csv_bytes, xlsx_bytes = as_french_excel_csv(table), as_xlsx(table)
    limit = 50 * 1024 * 1024
    admin = Actor(user_id=None, organization_id=None, role=Role.REGIONAL_ADMIN)
    taxonomy = configured_map()
    with bench_database(args.url, args.sqlite) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as session:
            seed_needs(session)
        sheet, read_csv = timed(lambda: read_sheet(csv_bytes, "annuaire.csv", max_bytes=limit))
        xlsx_sheet, read_xlsx = timed(lambda: read_sheet(xlsx_bytes, "annuaire.xlsx", max_bytes=limit))
        assert xlsx_sheet.rows == sheet.rows, "the CSV and the XLSX read differently"
        mapping = guess_mapping(sheet.headers)
        now = datetime(2026, 12, 1, 15, tzinfo=UTC)

        def run(dry_run: bool):  # type: ignore[no-untyped-def]
            with sessions() as session:
                return import_sheet(
                    session, admin, sheet, mapping, taxonomy, dry_run=dry_run, clock=lambda: now
                )

        checked, dry_seconds = timed(lambda: run(True))
        first, first_seconds = timed(lambda: run(False))
        again, again_seconds = timed(lambda: run(False))
        with sessions() as session:
            organizations = session.scalar(select(func.count()).select_from(Organization))
            services = session.scalar(select(func.count()).select_from(Service))
        engine.dispose()
        where = "SQLite (scratch file)" if args.sqlite else shown(url)

    print(f"Spreadsheet import of {args.rows} rows on {where}")
    csv_size, xlsx_size = len(csv_bytes) / 1024, len(xlsx_bytes) / 1024
    print(f"  CSV {csv_size:.0f} kB read in {read_csv:.2f} s; XLSX {xlsx_size:.0f} kB in {read_xlsx:.2f} s")
    refused, unmapped = len(checked.refused), len(checked.unmapped)
    print(f"  dry run:       {dry_seconds:6.2f} s  ({refused} refused, {unmapped} unmapped term(s))")
    print(
        f"  first import:  {first_seconds:6.2f} s  ({first.count('organization', 'created')} organizations, "
        f"{first.count('service', 'created')} services created; written: {first.written})"
    )
    unchanged = all(change.outcome == "unchanged" for change in again.changes)
    print(f"  same file again: {again_seconds:4.2f} s  (every record unchanged: {unchanged})")
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    total = read_csv + first_seconds
    verdict = "PASS" if total < TARGET_SECONDS else "MISS"
    print(
        f"{verdict}  reading and importing {args.rows} rows: {total:.2f} s (target < {TARGET_SECONDS:.0f} s)"
    )
    expected = first.written and organizations == first.count("organization", "created")
    expected = expected and services == first.count("service", "created")
    print(
        f"{'PASS' if expected else 'MISS'}  the directory holds what the import said it created "
        f"({organizations} organizations, {services} services)"
    )
    print(
        f"{'PASS' if unchanged and again.written else 'MISS'}  importing the same file again changes nothing"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Copy the database out to one file, and back: `pg_dump`/`pg_restore` for PostgreSQL, the
online backup API for SQLite. Both copy a consistent snapshot while the app keeps running.

The PostgreSQL password goes to the tools through PGPASSWORD, never their command line (which
every user of the machine can read in the process list). What the tools say on failure is
passed on without its DETAIL and CONTEXT lines: those may quote a row.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url

from service.backups.errors import ToolFailed
from service.backups.errors import WrongDatabaseKind

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
FILE_NAMES = {POSTGRESQL: "database.pgdump", SQLITE: "database.sqlite3"}


def kind_of(url: str) -> str:
    """`postgresql` or `sqlite`: the two databases Maillage runs on."""
    backend = make_url(url).get_backend_name()
    if backend not in FILE_NAMES:
        raise WrongDatabaseKind(backend)
    return backend


def dump(url: str, folder: Path) -> Path:
    """A consistent copy of the database at `url`, written into `folder`; its path."""
    kind = kind_of(url)
    target = folder / FILE_NAMES[kind]
    if kind == POSTGRESQL:
        _run("pg_dump", url, ["--format=custom", "--no-owner", "--no-privileges", f"--file={target}"])
    else:
        _sqlite_copy(_sqlite_path(url), target)
    return target


def restore(url: str, copy: Path) -> None:
    """Replace the database at `url` by `copy` (made by `dump` for the same kind of database)."""
    kind = kind_of(url)
    if kind == POSTGRESQL:
        # One transaction: a restore that fails leaves the database as it was.
        options = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
        _run("pg_restore", url, [*options, "--exit-on-error", str(copy)])
    else:
        _sqlite_copy(copy, _sqlite_path(url))


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise WrongDatabaseKind("sqlite in memory")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    # The backup API copies page by page under SQLite's own locks, WAL included: a file copy
    # taken while the worker writes could be torn.
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target, timeout=30)) as writing:
        reading.backup(writing)


def _run(tool: str, url: str, options: list[str]) -> None:
    program = shutil.which(tool)
    if program is None:
        raise ToolFailed(f"{tool} not found: install PostgreSQL's client programs")
    address, password = _libpq_address(make_url(url))
    environment = dict(os.environ)
    if password is not None:
        environment["PGPASSWORD"] = password
    finished = subprocess.run(  # noqa: S603 - a fixed program, the address as one argument
        [program, *options, f"--dbname={address}"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise ToolFailed(f"{tool}: {_without_data(finished.stderr) or f'exit {finished.returncode}'}")


def _libpq_address(url: URL) -> tuple[str, str | None]:
    """The libpq form of a SQLAlchemy URL (no driver name), and its password apart."""
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), url.password


def _without_data(said: str) -> str:
    lines = []
    for line in said.strip().splitlines():
        if line.lstrip().startswith(("DETAIL", "CONTEXT", "LINE", "HINT", "QUERY", "Command was")):
            continue
        lines.append(line.strip())
    return " ".join(lines[-3:])

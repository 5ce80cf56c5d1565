"""A PostgreSQL database of a benchmark's own: created and migrated, dropped on the way out."""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from service import migrate
from service.accounts.models import Role
from service.accounts.models import User
from service.db import make_engine
from service.db import session_factory
from service.directory.models import Organization


@contextmanager
def own_database(server_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new, migrated database on the server at `server_url`, dropped on the way out unless `keep`."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"maillage_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        raise SystemExit(f"cannot create a database on {shown(server_url)}: {error.orig}") from None
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def database_arguments(parser: argparse.ArgumentParser) -> None:
    """`--url` and `--sqlite`, which `bench_database` takes."""
    parser.add_argument("--url", help="a PostgreSQL server (default: the local test server)")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file instead")


@contextmanager
def bench_database(url: str | None, sqlite: bool) -> Iterator[str]:
    """A migrated database of the benchmark's own: a scratch SQLite file with `sqlite` (the
    embedded default), else one on the PostgreSQL server at `url` (default:
    $MAILLAGE_BENCH_POSTGRES_URL, else the local test server). Gone on the way out."""
    if sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = f"sqlite:///{Path(folder) / 'bench.db'}"
            migrate.upgrade(path)
            yield path
        return
    with own_database(url or os.environ.get("MAILLAGE_BENCH_POSTGRES_URL") or DEFAULT_SERVER) as path:
        yield path


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def two_organizations(engine: Engine, now: datetime) -> dict[str, tuple[int, int]]:
    """A fictional sending and receiving organization, each with one caseworker: side -> (org id, user id)."""
    ids = {}
    with session_factory(engine)() as session:
        for side in ("sender", "receiver"):
            organization = Organization(name=f"Organisme fictif {side}", created_at=now)
            session.add(organization)
            session.flush()
            user = User(
                email=f"{side}@example.org",
                name=f"Intervenante {side}",
                organization_id=organization.id,
                role=Role.CASEWORKER,
                created_at=now,
            )
            session.add(user)
            session.flush()
            ids[side] = (organization.id, user.id)
        session.commit()
    return ids

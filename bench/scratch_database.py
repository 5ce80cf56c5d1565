"""A PostgreSQL database of a benchmark's own: created and migrated, dropped on the way out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from service import migrate
from service.db import make_engine


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A new, migrated database on the server at `server_url`, dropped on the way out."""
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
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)

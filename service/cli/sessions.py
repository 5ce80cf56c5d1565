"""A database session for one command, with database trouble turned into a plain message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from service.cli.language import _
from service.config import settings
from service.db import make_engine
from service.db import session_factory


@contextmanager
def command_session() -> Iterator[Session]:
    """A session on the configured database; a missing schema or server is a `ClickException`."""
    engine = make_engine(settings().resolved_database_url())
    where = engine.url.render_as_string(hide_password=True)
    try:
        with session_factory(engine)() as session:
            yield session
    except (OperationalError, ProgrammingError) as error:
        raise click.ClickException(
            _(
                "the database at %(where)s is not ready (%(error)s); run `maillage db upgrade` first",
                where=where,
                error=type(error.orig).__name__,
            )
        ) from None
    finally:
        engine.dispose()

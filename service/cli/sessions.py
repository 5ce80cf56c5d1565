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
from service.notifications.publishing import publish_after_commit
from worker.publishing import SendAtOnce


@contextmanager
def command_session() -> Iterator[Session]:
    """A session on the configured database; a missing schema or server is a `ClickException`."""
    config = settings()
    engine = make_engine(config.resolved_database_url())
    where = engine.url.render_as_string(hide_password=True)
    sessions = session_factory(engine)
    # What a command queues (a demo's referrals) is handed to a running worker at once, as the web does.
    publish_after_commit(sessions, SendAtOnce(config))
    try:
        with sessions() as session:
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

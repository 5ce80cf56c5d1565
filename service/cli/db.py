"""`maillage db ...`: the database schema."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from service import migrate
from service.cli.language import Command
from service.cli.language import Group
from service.cli.language import _
from service.cli.language import _l
from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.directory.needs import seed_needs


@click.group(cls=Group, help=_l("Create or update the database."))
def db() -> None:
    pass


@db.command(
    cls=Command, help=_l("Bring the database to the newest schema and add the shipped needs taxonomy.")
)
def upgrade() -> None:
    config = settings()
    url = config.resolved_database_url()
    if url.startswith("sqlite:///"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            migrate.upgrade(connection=connection)
        with session_factory(engine)() as session:
            added = seed_needs(session)
    except SQLAlchemyError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise click.ClickException(
            _("the database at %(where)s could not be upgraded: %(error)s", where=where, error=error)
        ) from None
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    click.echo(_("Database up to date (%(where)s); %(added)s needs added.", where=where, added=added))

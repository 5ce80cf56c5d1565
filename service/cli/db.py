"""`maillage db ...`: the database schema."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from service import migrate
from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.directory.needs import seed_needs


@click.group()
def db() -> None:
    """Create or update the database."""


@db.command()
def upgrade() -> None:
    """Bring the database to the newest schema and add the shipped needs taxonomy."""
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
        raise click.ClickException(f"the database at {where} could not be upgraded: {error}") from None
    finally:
        engine.dispose()
    click.echo(
        f"Database up to date ({engine.url.render_as_string(hide_password=True)}); {added} needs added."
    )

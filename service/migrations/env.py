"""Alembic's entry point: runs migrations on the connection or URL `service.migrate` gives it."""

from alembic import context

import service.models
from service.db import make_engine

config = context.config
target_metadata = service.models.Base.metadata


def run_on(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        run_on(connection)
    engine.dispose()

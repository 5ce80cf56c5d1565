"""What `/readyz` checks: each check takes what it needs and answers "ok" or a short reason code.

A reason is a fixed word, never an exception's text: a driver's message may hold a URL
with its password, or a row's values. Domain code: no Flask.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from functools import cache
from pathlib import Path

import redis
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from kombu import Connection as BrokerConnection
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from service import migrate
from service.db import make_engine
from service.health.heartbeats import BEAT
from service.health.models import Heartbeat
from service.notifications.models import OutboxMessage
from service.notifications.outbox import PENDING

log = logging.getLogger(__name__)

OK = "ok"
# Each check's own bound (drivers' timeouts), shorter than the wait for all of them (`run_checks`):
# a server that hangs costs /readyz this long, not the prober's patience.
DRIVER_TIMEOUT = 2
CHECKS_TIMEOUT = 1.5

Check = Callable[[], str]


def run_checks(checks: Mapping[str, Check], *, timeout: float = CHECKS_TIMEOUT) -> dict[str, str]:
    """Run the checks side by side: each answers its reason, or "timeout" past `timeout`, or
    "failed" if it raised."""
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        wait(futures.values(), timeout=timeout)
        results = {}
        for name, future in futures.items():
            if not future.done():
                results[name] = "timeout"
            elif future.exception() is not None:
                # The type only: the text may hold a password or a row.
                log.warning("readiness check %s failed: %s", name, type(future.exception()).__name__)
                results[name] = "failed"
            else:
                results[name] = future.result()
        return results
    finally:
        # A check still hanging ends on its driver's timeout; the answer does not wait for it.
        pool.shutdown(wait=False, cancel_futures=True)


def probe_engine(url: str) -> Engine:
    """An engine for the checks: a fresh connection each time (a restarted server is seen at once),
    and timeouts short enough for a prober."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": DRIVER_TIMEOUT}
    elif url.startswith("postgresql"):
        milliseconds = int(DRIVER_TIMEOUT * 1000)
        connect_args = {"connect_timeout": DRIVER_TIMEOUT, "options": f"-c statement_timeout={milliseconds}"}
    else:
        connect_args = {}
    return make_engine(url, poolclass=NullPool, connect_args=connect_args)


def on_connection(engine: Engine, check: Callable[[Connection], str]) -> Check:
    """`check` run on a connection of its own: "unreachable" when none is had, "failed" when the
    check's query fails (a table missing)."""

    def run() -> str:
        if engine.dialect.name == "sqlite" and not _sqlite_file_exists(engine):
            return "unreachable"  # connecting would make an empty database
        try:
            connection = engine.connect()
        except SQLAlchemyError as error:
            log.warning("readiness check: no database connection (%s)", type(error).__name__)
            return "unreachable"
        try:
            with connection:
                return check(connection)
        except SQLAlchemyError as error:
            log.warning("readiness check: database error %s", type(error).__name__)
            return "failed"

    return run


def _sqlite_file_exists(engine: Engine) -> bool:
    database = engine.url.database
    return not database or database == ":memory:" or os.path.exists(database)


@dataclass(frozen=True)
class Revisions:
    heads: frozenset[str]
    known: frozenset[str]


@cache
def shipped_revisions() -> Revisions:
    """The migrations this code ships with: their newest revisions, and all of them."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    return Revisions(
        heads=frozenset(scripts.get_heads()),
        known=frozenset(script.revision for script in scripts.walk_revisions()),
    )


def check_schema(connection: Connection) -> str:
    """Whether the database is at the shipped migrations' head: "ok"; "not_migrated" when behind
    (or never migrated); "unknown_revision" when newer code migrated it."""
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    shipped = shipped_revisions()
    if current == shipped.heads:
        return OK
    return "not_migrated" if current <= shipped.known else "unknown_revision"


def check_outbox(connection: Connection, *, now: datetime, max_age: timedelta) -> str:
    """Whether the oldest pending message was written within `max_age`: "ok", else "stale" (emails
    are not leaving: no worker, no beat, a mail server refusing them)."""
    oldest = connection.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
    )
    return OK if oldest is None or now - oldest <= max_age else "stale"


def check_beat(connection: Connection, *, now: datetime, max_age: timedelta) -> str:
    """Whether beat's relay ran within `max_age`: "ok", else "never_seen" or "stale"."""
    seen = connection.scalar(select(Heartbeat.seen_at).where(Heartbeat.name == BEAT))
    if seen is None:
        return "never_seen"
    return OK if now - seen <= max_age else "stale"


def check_broker(broker_url: str | None, folder: Path) -> str:
    """Whether the broker answers: "ok" when Redis answers a ping, the embedded broker's folder
    may be written, another transport (RabbitMQ) takes a connection; else "unreachable"."""
    if not broker_url:
        messages = folder / "messages"
        return OK if messages.is_dir() and os.access(messages, os.W_OK) else "unreachable"
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(
            broker_url, socket_connect_timeout=DRIVER_TIMEOUT, socket_timeout=DRIVER_TIMEOUT
        )
        try:
            client.ping()
        except redis.RedisError as error:
            log.warning("readiness check: broker error %s", type(error).__name__)
            return "unreachable"
        finally:
            client.close()
        return OK
    with BrokerConnection(broker_url, connect_timeout=DRIVER_TIMEOUT) as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except BrokerUnavailable as error:  # what kombu makes of each transport's errors
            log.warning("readiness check: broker error %s", type(error).__name__)
            return "unreachable"
    return OK

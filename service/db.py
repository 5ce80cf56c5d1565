"""The database: declarative base, column types we share, engine and sessions."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import Engine
from sqlalchemy import MetaData
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator

# Named constraints, so Alembic migrations can name what they alter or drop.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; SQLite keeps no time zone, so we put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (the clock gives UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012 - read once by SQLAlchemy


def make_engine(url: str, *, write_at_begin: bool = False, **options: Any) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout.

    `write_at_begin` (SQLite only) starts every transaction as a writer
    (`BEGIN IMMEDIATE`). The web app wants it: a request reads, then writes (an
    audit entry, a state change), and SQLite refuses, without waiting, to turn
    a read into a write once another process (the worker) has committed since.
    Taking the write lock first makes the request wait its turn instead.
    """
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    # Parameters may hold personal data: keep them out of error messages and logs.
    options.setdefault("hide_parameters", True)
    if not url.startswith("sqlite"):
        # A pooled connection dies unseen when PostgreSQL restarts (an upgrade, a failover): test it
        # before use, or the first request after a quiet restart fails (tests/service/
        # test_database_restart.py). A round trip on checkout: 0.3 ms on loopback (55 → 376 µs).
        options.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin_writing if write_at_begin else _sqlite_begin)
    return engine


def without_parallel_workers(session: Session) -> None:
    """Plan this transaction's statements without parallel workers (PostgreSQL; nothing elsewhere).

    For a page's short scans of one organization's rows. Their filters, a clause per protocol, can
    look costly enough that PostgreSQL starts two workers, which takes longer than the scan itself:
    a dashboard's part took 14.9 ms with them, 6-9 ms without, on 2 loaded cores, when its filter
    also named the partnership requests' protocols. A guard for the protocols to come.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say when transactions begin, so
    # that savepoints and our one-commit operations behave as on PostgreSQL.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    if cursor.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_writing(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine` that know every table, whatever their caller imported: a row may name
    one of another area (an audit entry its API key), and the worker imports no API module."""
    import service.models  # noqa: F401 - imported here: service.models imports this module

    return sessionmaker(engine, expire_on_commit=False)

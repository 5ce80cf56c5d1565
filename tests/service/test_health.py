"""`/healthz` says the process answers, and nothing more; `/readyz` says whether Maillage can do its
work (database migrated, broker, emails leaving, beat ticking), by check names and reason codes only."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import Session

import worker.tasks
from service import migrate
from service.app import create_app
from service.config import Settings
from service.config import settings
from service.db import make_engine
from service.health.checks import check_beat
from service.health.checks import check_outbox
from service.health.checks import run_checks
from service.health.checks import shipped_revisions
from service.health.heartbeats import BEAT
from service.health.heartbeats import note_seen
from service.health.models import Heartbeat
from service.notifications.models import OutboxMessage
from service.web.health import QuietProbes
from tests.conftest import Clock
from tests.conftest import missing_server
from tests.conftest import new_postgresql_database
from tests.conftest import sign_in
from worker.app import broker

REDIS_URL = os.environ.get("MAILLAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
CHECKS = {"database", "broker", "outbox", "beat"}
# What a check may answer: fixed words, never a driver's message.
REASONS = {
    "ok",
    "unreachable",
    "timeout",
    "failed",
    "not_migrated",
    "unknown_revision",
    "stale",
    "never_seen",
}


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this module's own: /readyz reads it on connections of its own, so
    the tests' rows are committed, and removed after each test (`database`)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('health') / 'maillage.db'}"
        migrate.upgrade(url)
        yield url
    else:
        with new_postgresql_database() as url:
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    with engine.begin() as connection:
        connection.execute(delete(OutboxMessage))
        connection.execute(delete(Heartbeat))
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head()})
    engine.dispose()


def head() -> str:
    (revision,) = shipped_revisions().heads
    return revision


@pytest.fixture
def make_app(clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Flask]:
    """The web app as deployed (CSRF and rate limits on), on `database_url` and the given broker
    (the embedded one, in the data folder, by default), reading the test's clock."""

    def make(database_url: str, broker_url: str | None = None) -> Flask:
        monkeypatch.setenv("MAILLAGE_ENV", "development")
        monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
        if broker_url:
            monkeypatch.setenv("MAILLAGE_BROKER_URL", broker_url)
        else:
            monkeypatch.delenv("MAILLAGE_BROKER_URL", raising=False)
        settings.cache_clear()
        try:
            return create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": clock})
        finally:
            settings.cache_clear()

    return make


@pytest.fixture
def embedded_broker(tmp_path: Path) -> None:
    """The embedded broker's folders, as the worker makes them when it starts."""
    broker(Settings(data_dir=tmp_path / "instance"))


def beat_seen(engine: Engine, at) -> None:
    with Session(engine) as session:
        note_seen(session, BEAT, at)
        session.commit()


def pending_message(engine: Engine, written_at, *, status: str = "pending") -> None:
    with Session(engine) as session:
        session.add(
            OutboxMessage(
                dedupe_key=f"health-{written_at.isoformat()}-{status}",
                template="referral_received",
                status=status,
                attempts=0,
                created_at=written_at,
                available_at=written_at,
            )
        )
        session.commit()


def readiness(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.headers.get_all("Set-Cookie") == []
    # Names and reason codes: nothing a driver said, nothing about anyone.
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == CHECKS
    assert set(body["checks"].values()) <= REASONS
    return response.status_code, body["checks"]


# /healthz -----------------------------------------------------------------------------------


def test_healthz_answers_with_the_database_away_and_sets_no_cookie(make_app):
    app = make_app(f"postgresql+psycopg://maillage:hunter2@127.0.0.1:{closed_port()}/maillage")

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers.get_all("Set-Cookie") == []


def test_healthz_for_a_signed_in_browser_reads_no_database_and_sets_no_cookie(
    app, client, network, session, engine
):
    sign_in(client, network.shelter.coordinator, session)
    statements = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert statements == []
    assert response.headers.get_all("Set-Cookie") == []


# /readyz ------------------------------------------------------------------------------------


def test_readyz_is_200_on_a_migrated_database_with_its_broker_emails_leaving_and_beat_ticking(
    database, database_url, make_app, embedded_broker, clock
):
    beat_seen(database, clock.now - timedelta(seconds=10))
    pending_message(database, clock.now - timedelta(minutes=1))

    status, checks = readiness(make_app(database_url))

    assert (status, checks) == (200, dict.fromkeys(CHECKS, "ok"))


def test_readyz_reaches_redis_when_it_is_the_broker(database, database_url, make_app, clock):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        missing_server(f"Redis at {REDIS_URL}")
    beat_seen(database, clock.now)

    assert readiness(make_app(database_url, REDIS_URL)) == (200, dict.fromkeys(CHECKS, "ok"))


def test_readyz_is_503_when_redis_is_away(database, database_url, make_app, clock):
    beat_seen(database, clock.now)

    status, checks = readiness(make_app(database_url, f"redis://127.0.0.1:{closed_port()}/0"))

    assert status == 503
    assert checks == {"database": "ok", "broker": "unreachable", "outbox": "ok", "beat": "ok"}


def test_readyz_is_503_when_the_embedded_brokers_folder_is_missing(database, database_url, make_app, clock):
    beat_seen(database, clock.now)

    assert readiness(make_app(database_url))[1]["broker"] == "unreachable"


def test_readyz_is_503_when_the_database_is_at_an_older_revision_or_a_newer_one(
    database, database_url, make_app, embedded_broker, clock
):
    beat_seen(database, clock.now)
    app = make_app(database_url)
    with database.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0013'"))
    assert readiness(app) == (503, {"database": "not_migrated", "broker": "ok", "outbox": "ok", "beat": "ok"})

    with database.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    assert readiness(app)[1]["database"] == "unknown_revision"


def test_readyz_is_503_when_the_database_is_unreachable_and_says_nothing_of_its_address(
    make_app, embedded_broker
):
    app = make_app(f"postgresql+psycopg://maillage:hunter2@127.0.0.1:{closed_port()}/maillage")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"
    assert "hunter2" not in response.text
    assert "127.0.0.1" not in response.text


def test_readyz_answers_when_the_database_server_hangs(make_app, embedded_broker):
    # A server that takes the connection and never says a word: the probe is not left waiting.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = make_app(f"postgresql+psycopg://maillage@127.0.0.1:{silent.getsockname()[1]}/maillage")

        status, checks = readiness(app)

    assert status == 503
    assert checks["database"] in {"timeout", "unreachable"}


def test_readyz_is_503_when_the_oldest_pending_email_waits_past_the_threshold(
    database, database_url, make_app, embedded_broker, clock
):
    pending_message(database, clock.now - timedelta(hours=2), status="sent")  # sent long ago: fine
    pending_message(database, clock.now)
    app = make_app(database_url)

    clock.advance(minutes=9)
    beat_seen(database, clock.now)
    assert readiness(app) == (200, dict.fromkeys(CHECKS, "ok"))

    clock.advance(minutes=2)
    beat_seen(database, clock.now)
    assert readiness(app) == (503, {"database": "ok", "broker": "ok", "outbox": "stale", "beat": "ok"})


def test_readyz_is_503_until_beat_is_seen_and_when_it_was_seen_too_long_ago(
    database, database_url, make_app, embedded_broker, clock
):
    app = make_app(database_url)
    assert readiness(app) == (503, {"database": "ok", "broker": "ok", "outbox": "ok", "beat": "never_seen"})

    beat_seen(database, clock.now)
    assert readiness(app)[0] == 200

    clock.advance(seconds=121)
    assert readiness(app) == (503, {"database": "ok", "broker": "ok", "outbox": "ok", "beat": "stale"})


def test_beats_relay_tick_leaves_the_heartbeat(database, monkeypatch, clock):
    monkeypatch.setattr(worker.tasks, "sessions", lambda: lambda: Session(database, expire_on_commit=False))
    monkeypatch.setattr(worker.tasks, "utcnow", clock)

    assert worker.tasks.relay_outbox() == 0
    clock.advance(seconds=5)
    worker.tasks.relay_outbox()  # written over, not added

    with database.connect() as connection:
        assert check_beat(connection, now=clock.now, max_age=timedelta(seconds=0)) == "ok"
        assert connection.scalar(text("SELECT count(*) FROM heartbeats")) == 1


# The checks, without Flask --------------------------------------------------------------------


def test_the_outbox_check_reads_the_oldest_pending_message_of_the_tests_session(session, clock):
    assert check_outbox(session.connection(), now=clock.now, max_age=timedelta(minutes=10)) == "ok"
    session.add(
        OutboxMessage(
            dedupe_key="health-old",
            template="referral_received",
            status="pending",
            attempts=0,
            created_at=clock.now - timedelta(minutes=11),
            available_at=clock.now,
        )
    )
    session.flush()
    assert check_outbox(session.connection(), now=clock.now, max_age=timedelta(minutes=10)) == "stale"


def test_a_check_that_raises_fails_without_its_text_and_one_that_hangs_times_out(caplog):
    release = threading.Event()

    def raises() -> str:
        raise RuntimeError("could not connect to postgresql://maillage:hunter2@db/maillage")

    def hangs() -> str:
        release.wait()
        return "ok"

    with caplog.at_level(logging.WARNING):
        results = run_checks({"raises": raises, "hangs": hangs, "fine": lambda: "ok"}, timeout=0.2)
    release.set()

    assert results == {"raises": "failed", "hangs": "timeout", "fine": "ok"}
    assert "hunter2" not in caplog.text


def test_probes_answered_200_leave_no_access_log_line_and_the_rest_do():
    quiet = QuietProbes()

    def gunicorn(path: str, status: str) -> logging.LogRecord:
        atoms = {"U": path, "s": status, "m": "GET"}
        return logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(m)s %(U)s %(s)s", (atoms,), None)

    def werkzeug(line: str, status: str) -> logging.LogRecord:
        return logging.LogRecord("werkzeug", logging.INFO, "", 0, '"%s" %s %s', (line, status, "16"), None)

    assert not quiet.filter(gunicorn("/healthz", "200"))
    assert not quiet.filter(gunicorn("/readyz", "200"))
    assert quiet.filter(gunicorn("/readyz", "503"))
    assert quiet.filter(gunicorn("/sign-in", "200"))
    assert not quiet.filter(werkzeug("GET /healthz HTTP/1.1", "200"))
    assert quiet.filter(werkzeug("GET /readyz HTTP/1.1", "503"))
    assert quiet.filter(werkzeug("GET /healthzz HTTP/1.1", "200"))

"""The worker's tests run real things: a database its process can see (SQLite file or a
PostgreSQL database of their own), Redis, a Celery worker in a subprocess, and an SMTP
server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from service import migrate
from service.app import create_app
from service.config import Settings
from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.referrals.operations import PersonDetails
from tests.conftest import POSTGRES_URL
from tests.conftest import Clock
from tests.conftest import Side
from tests.conftest import make_side
from tests.conftest import missing_server
from worker.app import SEND_BATCH
from worker.app import make_celery
from worker.tasks import relay

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("MAILLAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
BASE_URL = "https://maillage.example.org"

# Planted in every referral these tests open: none of it may reach an email.
CANARY = PersonDetails(
    name="Canary-Zoé Tremblay-Quist",
    phone="514-555-0199",
    email="canary.zoe@example.net",
    language="Canary-Tigrigna",
    contact_preferences="Canary-pref call only Tuesdays",
    safety_constraints="Canary-safety never leave a voicemail",
    notes="Canary-notes lives with her sister",
)
CANARY_STRINGS = [value for value in CANARY.__dict__.values() if value]


# Databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("worker-db") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgresql_template() -> Iterator[str]:
    """A migrated database the tests copy (CREATE DATABASE ... TEMPLATE), dropped at the end."""
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"maillage_worker_tpl_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        missing_server(f"PostgreSQL at {POSTGRES_URL}")
    migrate.upgrade(admin.url.set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of this test's own, committed to for real: the worker reads it."""
    if request.param == "sqlite":
        path = tmp_path / "maillage.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgresql_template")
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"maillage_worker_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    """A Friday in Montréal before the Fête nationale (Tuesday 24 June 2025), and in the past:
    the relay runs on the real clock, and messages written "now" must already be due."""
    return Clock(datetime(2025, 6, 20, 15, 0, tzinfo=UTC))


@dataclass
class World:
    """A women's centre refers women to a shelter; both have a caseworker and a coordinator."""

    centre: Side
    shelter: Side


@pytest.fixture
def world(session: Session) -> World:
    now = datetime(2025, 6, 20, 15, 0, tzinfo=UTC)
    world = World(
        centre=make_side(session, "Centre de femmes Fictif des Rivières", now),
        shelter=make_side(session, "Maison Fictive du Phare", now),
    )
    session.commit()
    return world


# Redis and Celery --------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        missing_server(f"Redis at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    """A queue of this test's own, under a key prefix of its own: tests never take each other's
    tasks, and every key the test's workers wrote in Redis is deleted afterwards."""
    name = f"maillage-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@dataclass
class Sink:
    """An SMTP server on loopback that keeps every message it accepts, and refuses some recipients.

    It offers PIPELINING, as Postfix and Exim do; aiosmtpd handles pipelined
    commands but does not say so (`tests/worker/test_smtp.py` covers a server without).
    """

    port: int
    received: list[tuple[str, EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_EHLO(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        return offer_pipelining(session, hostname, responses)

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return take_unless_refused(envelope, address, self.refuse)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received.append((address, parsed))  # type: ignore[arg-type]
        return "250 Message accepted"

    def messages(self) -> list[tuple[str, EmailMessage]]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[str, EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages()) >= count:
                return self.messages()
            time.sleep(0.05)
        return self.messages()


def take_unless_refused(envelope: Envelope, address: str, refused: set[str]) -> str:
    """An RCPT answered as a mailbox that does not exist would be, for the addresses in `refused`."""
    if address in refused:
        return "550 5.1.1 mailbox unavailable"
    envelope.rcpt_tos.append(address)
    return "250 OK"


def offer_pipelining(session: SmtpSession, hostname: str, responses: list[str]) -> list[str]:
    """aiosmtpd's answer to EHLO, with PIPELINING among the extensions."""
    session.host_name = hostname  # what aiosmtpd does when no hook answers EHLO
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sink() -> Iterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@dataclass
class WorkerProcess:
    """A real `celery worker` in a subprocess, on this test's database, queue and SMTP sink."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, *, beat: bool = False, pool: str = "solo") -> WorkerProcess:
        """Start it and wait until it is ready; `pool="prefork"` for time limits, which solo ignores."""
        self.starts += 1
        log_file = self.log.with_suffix(f".{self.starts}.log")
        command = [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "worker.app",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            "1",
            "--queues",
            self.env["MAILLAGE_QUEUE"],
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ]
        if beat:
            command.append("--beat")
        with log_file.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                command, env=self.env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b" ready." in log_file.read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the worker did not start:\n{log_file.read_text(errors='replace')[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.log.parent.glob(f"{self.log.stem}.*.log"))
        )


@pytest.fixture
def worker_env(database_url: str, redis_url: str, queue: str, sink: Sink, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(
        MAILLAGE_DATABASE_URL=database_url,
        MAILLAGE_BROKER_URL=redis_url,
        MAILLAGE_QUEUE=queue,
        MAILLAGE_BROKER_KEY_PREFIX=f"{queue}:",
        MAILLAGE_SMTP_URL=sink.url,
        MAILLAGE_DATA_DIR=str(tmp_path / "instance"),
        MAILLAGE_BASE_URL=BASE_URL,
        MAILLAGE_MAIL_FROM="Maillage <noreply@maillage.example.org>",
        MAILLAGE_ENV="production",
        MAILLAGE_SECRET_KEY="test-only",
        MAILLAGE_SWEEP_INTERVAL="0",
    )
    return env


@pytest.fixture
def worker_process(worker_env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    """Not started: the test starts it (and may kill and restart it)."""
    process = WorkerProcess(env=worker_env, log=tmp_path / "worker")
    yield process
    process.stop()


@pytest.fixture
def publisher(worker_env: dict[str, str]) -> Iterator[Celery]:
    """A Celery app of the test's own, publishing to the test's queue on the same broker."""
    config = Settings(
        broker_url=worker_env["MAILLAGE_BROKER_URL"],
        queue=worker_env["MAILLAGE_QUEUE"],
        broker_key_prefix=worker_env["MAILLAGE_BROKER_KEY_PREFIX"],
        data_dir=Path(worker_env["MAILLAGE_DATA_DIR"]),
    )
    app = make_celery(config)
    yield app
    app.close()


@pytest.fixture
def run_relay(sessions: sessionmaker[Session], publisher: Celery) -> Callable[..., int]:
    """One relay pass from the test process: claim due messages, publish their ids to the worker."""

    def run(lease: float = 120, batch_size: int = 50) -> int:
        return relay(
            sessions,
            publish=lambda ids: publisher.send_task(SEND_BATCH, args=[ids]),
            lease=timedelta(seconds=lease),
            batch_size=batch_size,
        )

    return run


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def web_app(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: Clock) -> Iterator[Flask]:
    """The web app on the worker's database (committed to for real, unlike the `app` fixture's),
    on the test's clock."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "web"))
    settings.cache_clear()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "CLOCK": clock,
        }
    )
    yield app
    app.extensions["maillage.sessions"].kw["bind"].dispose()
    settings.cache_clear()


def opened_from_the_web(caseworker: FlaskClient, receiver_id: int, her: dict[str, str]) -> int:
    """The id of a standard referral a signed-in caseworker opens through the intake form, up to
    its consent step."""
    opened = caseworker.post(
        "/referrals/new",
        data={
            "action": "consent",
            "details": "1",
            "needs": ["shelter_emergency"],
            "urgency": "standard",
            "partner": "",
            "other_partner": str(receiver_id),
            **her,
        },
    )
    assert opened.status_code == 303, opened.text
    return int(re.search(r"/referrals/(\d+)", opened.headers["Location"]).group(1))

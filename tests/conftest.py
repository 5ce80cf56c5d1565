"""Shared fixtures: a migrated SQLite and PostgreSQL database, a session that
rolls back after each test, a movable clock, and a small fictional network."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from build_steps import compile_catalogs
from service import migrate
from service.accounts.mfa import mfa_required
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.passwords import hash_password
from service.app import create_app
from service.config import settings
from service.db import make_engine
from service.directory.models import Organization
from service.directory.needs import seed_needs
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.web.catalogs import TRANSLATIONS
from workflows.loader import ProtocolLibrary

IN_CI = os.environ.get("CI") == "true"
POSTGRES_URL = os.environ.get(
    "MAILLAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# The key two-step secrets are encrypted with, as a deployment sets it: tests that build users
# outside an app (the demo, operations) have no secret key to derive one from. Inherited by the
# worker and web servers the tests start. A test key, never used elsewhere.
os.environ.setdefault("MAILLAGE_TOTP_ENCRYPTION_KEY", "dGVzdHMtb25seS10b3RwLWtleS0zMi1ieXRlcyEhISE=")
# The command line speaks French unless told otherwise; most tests read its English messages
# (tests/service/test_cli_language.py reads the French ones, as a person gets them by default).
os.environ.setdefault("MAILLAGE_LANGUAGE", "en")
# Importing the worker (the web app's sessions publish through it) reads the settings, before the
# lines above set the tests' key: read them again, or the cached settings would have no key.
settings.cache_clear()
# CI runs the suite again on other days (.ci/run): this process's calendar moves there, ticking, and
# a test that passes only on some days is one that reads the real clock where it should read `clock`.
CALENDAR_MOVED_TO = os.environ.get("MAILLAGE_TEST_CALENDAR")


def pytest_configure(config: pytest.Config) -> None:
    if CALENDAR_MOVED_TO:
        # Only the calendar: time.monotonic, which timeouts and waits use, runs on.
        time_machine.travel(datetime.fromisoformat(CALENDAR_MOVED_TO), tick=True).start()


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"calendar moved to {CALENDAR_MOVED_TO} (MAILLAGE_TEST_CALENDAR)" if CALENDAR_MOVED_TO else None


def pytest_sessionstart(session: pytest.Session) -> None:
    # The app reads compiled catalogs and never compiles them itself (the installed code may not be
    # writable): a plain `pytest` compiles the checkout's, as `make test` does (0.07 s).
    compile_catalogs(TRANSLATIONS, TRANSLATIONS)


def missing_server(what: str) -> None:
    """Outside CI a missing server skips the test; in CI it fails it."""
    if IN_CI:
        pytest.fail(f"{what} is not reachable, and CI must test against it")
    pytest.skip(f"{what} is not reachable")


@contextmanager
def new_postgresql_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped on the way out."""
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"maillage_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        missing_server(f"PostgreSQL at {POSTGRES_URL}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """The PostgreSQL database of this test run: tests roll back what they write (see `session`)."""
    with new_postgresql_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'maillage.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each test that uses the database runs once on SQLite and once on PostgreSQL."""
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    with Session(engine) as session:
        seed_needs(session)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction rolled back at the end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session
        transaction.rollback()


class Clock:
    """A clock tests set and move by hand; operations call it for "now"."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The one "now" of a test: operations are given it, and every app the fixtures make reads it.

    A Friday afternoon in Montréal: deadlines in business days cross a weekend."""
    return Clock(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def protocols() -> ProtocolLibrary:
    return protocol_library()


@dataclass
class Side:
    """One organization with a caseworker and a coordinator."""

    organization: Organization
    caseworker: Actor
    coordinator: Actor


@dataclass
class Network:
    shelter: Side
    womens_centre: Side
    legal_aid: Side


# Hashing with argon2 takes a while on purpose: hash the tests' one password once.
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)


def make_side(session: Session, name: str, now: datetime) -> Side:
    organization = Organization(name=name, created_at=now)
    session.add(organization)
    session.flush()
    actors = []
    for role in (Role.CASEWORKER, Role.COORDINATOR):
        user = User(
            email=f"{role}@{organization.id}.example.org",
            name=f"{role} {name}",
            organization_id=organization.id,
            role=role,
            password_hash=PASSWORD_HASH,
            created_at=now,
        )
        session.add(user)
        session.flush()
        actors.append(Actor(user_id=user.id, organization_id=organization.id, role=role))
    return Side(organization, *actors)


@pytest.fixture
def network(session: Session, clock: Clock) -> Network:
    """Three fictional organizations: a women's centre refers to a shelter; legal aid is a bystander."""
    network = Network(
        shelter=make_side(session, "Maison Fictive du Phare", clock.now),
        womens_centre=make_side(session, "Centre de femmes Fictif des Rivières", clock.now),
        legal_aid=make_side(session, "Aide juridique Fictive", clock.now),
    )
    session.commit()
    return network


@pytest.fixture
def protocols_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "workflows" / "protocols"


@pytest.fixture
def app(
    session: Session, engine: Engine, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Flask:
    """The web app on the test database and the test's clock; its requests share the test's
    rolled-back session."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
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
    app.extensions["maillage.sessions"] = lambda: session
    yield app
    settings.cache_clear()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# The second factor of the tests' users whose role requires one (tests/service/test_mfa.py tests MFA itself).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enrol_in_mfa(session: Session, user: User, now: datetime) -> None:
    """Give `user` the tests' second factor, as if she had enrolled."""
    user.totp_secret = TOTP_SECRET
    user.mfa_enabled_at = user.mfa_enabled_at or now


def sign_in(
    client: FlaskClient, actor: Actor, session: Session, *, csrf: bool = False, base_url: str | None = None
) -> FlaskClient:
    """Sign `actor`'s user in on `client`, through the real sign-in form (and its code step, for the
    roles that require MFA: they are enrolled with the tests' `TOTP_SECRET` on the way).

    `csrf`: send the form's CSRF token, for an app with CSRF on; `base_url`: e.g. "https://localhost"
    for an app whose cookies are Secure."""
    user = session.get(User, actor.user_id)
    if mfa_required(user.role) and user.totp_secret != TOTP_SECRET:
        enrol_in_mfa(session, user, datetime.now(UTC))
    # Tests sign in many times within one 30-second step: forget the last code, which would be a replay.
    user.totp_last_step = None
    session.commit()
    where = {"base_url": base_url} if base_url else {}
    extra = {}
    if csrf:
        page = client.get("/sign-in", **where).text
        extra["csrf_token"] = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD, **extra}, **where)
    assert response.status_code == 302, response.text
    if response.headers["Location"].startswith("/sign-in/code"):
        now = client.application.config.get("CLOCK", lambda: datetime.now(UTC))()
        code = pyotp.TOTP(TOTP_SECRET).at(now)
        if csrf:  # a new session since the password step: the code page's form has a new token
            page = client.get("/sign-in/code", **where).text
            extra["csrf_token"] = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)
        response = client.post("/sign-in/code", data={"code": code, **extra}, **where)
        assert response.status_code == 302, response.text
    return client

"""Guessing is slow: sign-in and signed links answer 429 after a few tries, with a French page and no
stack trace; several web processes count together in Redis."""

from __future__ import annotations

import os
import re
import time
import uuid

import limits.storage.memory
import pytest
import redis
from sqlalchemy import select

from service.accounts.models import User
from service.app import create_app
from service.audit.models import AuditEntry
from service.config import Settings
from service.config import settings
from service.extensions import limiter
from service.web import quota
from tests.conftest import PASSWORD
from tests.conftest import missing_server
from tests.service.test_api_referrals import key_for

REDIS_URL = os.environ.get("MAILLAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SIGN_IN = {"email": "personne@example.org", "password": "pas le bon mot de passe"}


def someone() -> dict[str, str]:
    """A sign-in with an email of its own: the address's limit is what is counted, not the account's."""
    return {**SIGN_IN, "email": f"personne-{uuid.uuid4().hex[:8]}@example.org"}


def limited_app(engine, session, **config):
    """The app with its rate limits on, as people get it (CSRF off: the limit is what is tested)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            **config,
        }
    )
    app.extensions["maillage.sessions"] = lambda: session
    return app


@pytest.fixture
def address() -> str:
    """An address of this test's own: the limiter counts per address, and test runs share Redis."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


@pytest.fixture
def reset_limits():
    yield
    limiter.reset()


def test_the_eleventh_sign_in_in_a_minute_gets_a_french_page_and_no_stack_trace(
    app, engine, session, address, reset_limits
):
    client = limited_app(engine, session).test_client()
    answers = [
        client.post("/sign-in", data=someone(), environ_overrides={"REMOTE_ADDR": address}) for _ in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    refused = answers[10]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in range(1, 61)
    assert "Trop de tentatives" in refused.text
    assert "Attendez 1 minute, puis réessayez." in refused.text
    assert 'lang="fr"' in refused.text
    assert "Traceback" not in refused.text
    assert "RateLimitExceeded" not in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    # Another address is not held back by her attempts.
    assert (
        client.post("/sign-in", data=someone(), environ_overrides={"REMOTE_ADDR": "192.0.2.9"}).status_code
        == 200
    )


def test_a_signed_link_guessed_too_often_gets_the_same_page(app, engine, session, address, reset_limits):
    client = limited_app(engine, session).test_client()
    answers = [
        client.get(f"/link/{'x' * 43}", environ_overrides={"REMOTE_ADDR": address}).status_code
        for _ in range(31)
    ]
    assert answers[:30] == [404] * 30
    refused = client.get(f"/link/{'y' * 43}", environ_overrides={"REMOTE_ADDR": address})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in range(1, 61)
    assert "Trop de tentatives" in refused.text
    assert "Traceback" not in refused.text
    assert refused.headers["Referrer-Policy"] == "no-referrer"


def test_limits_are_counted_in_redis_when_it_is_at_hand():
    assert (
        Settings(broker_url="redis://redis:6379/0").resolved_ratelimit_storage_url() == "redis://redis:6379/0"
    )
    assert (
        Settings(
            broker_url="redis://redis:6379/0", ratelimit_storage_url="redis://other:6379/1"
        ).resolved_ratelimit_storage_url()
        == "redis://other:6379/1"
    )
    # The embedded default: no Redis, each process counts for itself.
    assert Settings().resolved_ratelimit_storage_url() == "memory://"
    assert Settings(broker_url="filesystem://").resolved_ratelimit_storage_url() == "memory://"


def test_web_processes_count_together_in_redis(app, engine, session, address):
    # Not `reset_limits`: resetting Redis's storage deletes every count in it, among them those of
    # this test's twin on the other database, running at once in another xdist worker, which then
    # let its eleventh attempt through (CI, December). This test deletes its own keys instead.
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        missing_server(f"Redis at {REDIS_URL}")
    try:
        first = limited_app(engine, session, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
        for _ in range(10):
            first.post("/sign-in", data=someone(), environ_overrides={"REMOTE_ADDR": address})
        assert any(address in key.decode() for key in client.scan_iter(match="*limits*"))
        # A second process (a new app, new storage object, empty memory) sees the same count.
        second = limited_app(engine, session, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
        refused = second.post("/sign-in", data=someone(), environ_overrides={"REMOTE_ADDR": address})
        assert refused.status_code == 429
        assert "Trop de tentatives" in refused.text
    finally:
        keys = [key for key in client.scan_iter(match="*limits*") if address in key.decode()]
        if keys:
            client.delete(*keys)
        client.close()


@pytest.mark.parametrize(("hops", "counted_apart"), [(0, False), (1, True)])
def test_behind_a_trusted_proxy_each_person_is_counted_apart(
    app, engine, session, reset_limits, monkeypatch, hops, counted_apart
):
    # Every request comes from the proxy's address; the person's is in X-Forwarded-For.
    monkeypatch.setenv("MAILLAGE_PROXY_HOPS", str(hops))
    settings.cache_clear()
    client = limited_app(engine, session).test_client()
    proxy = f"2001:db8::{uuid.uuid4().hex[:4]}:1"

    def attempt(person: str) -> int:
        return client.post(
            "/sign-in",
            data=someone(),
            environ_overrides={"REMOTE_ADDR": proxy},
            headers={"X-Forwarded-For": person},
        ).status_code

    for n in range(10):
        assert attempt(f"2001:db8::aaaa:{n}") == 200
    assert (attempt("2001:db8::bbbb:1") == 200) is counted_apart


# Guesses at one account, from many addresses ---------------------------------------------------


def new_address() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def try_password(client, email: str, password: str, address: str | None = None):
    return client.post(
        "/sign-in",
        data={"email": email, "password": password},
        environ_overrides={"REMOTE_ADDR": address or new_address()},
    )


def test_guesses_at_one_account_from_many_addresses_are_held_back(
    app, engine, session, network, reset_limits
):
    """The probe: 54 wrong passwords from 6 addresses, then the right one. Past 5 failures in a
    minute, no password is even looked at, the right one neither; the page says how long to wait."""
    client = limited_app(engine, session).test_client()
    email = session.get(User, network.shelter.caseworker.user_id).email
    addresses = [new_address() for _ in range(6)]
    answers = [try_password(client, email, "pas le bon", address) for address in addresses for _ in range(9)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 49
    right = try_password(client, email.upper(), PASSWORD)  # however she types it
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) in range(1, 61)
    assert "Trop de tentatives pour cette adresse courriel : attendez 1 minute, puis réessayez." in right.text
    assert "Traceback" not in right.text
    assert right.headers["Cache-Control"] == "no-store"
    audited = session.scalars(
        select(AuditEntry.action).where(AuditEntry.user_id == network.shelter.caseworker.user_id)
    )
    assert list(audited) == ["sign_in.failed"] * 5  # the refused ones were not checked, nor written
    # Another account is not held back by them.
    other = session.get(User, network.shelter.coordinator.user_id).email
    assert try_password(client, other, "pas le bon", addresses[0]).status_code == 200


def test_a_refusal_tells_nothing_about_whether_the_account_exists(
    app, engine, session, network, reset_limits
):
    client = limited_app(engine, session).test_client()
    real = session.get(User, network.shelter.caseworker.user_id).email
    nobody = f"personne-{uuid.uuid4().hex[:8]}@example.org"
    seen = {}
    for email in (real, nobody):
        answers = [try_password(client, email, "pas le bon") for _ in range(7)]
        seen[email] = [(a.status_code, a.headers.get("Retry-After") is not None) for a in answers]
        hint = re.search(r"<p>(Trop de tentatives[^<]*)</p>", answers[-1].text).group(1)
        seen[email].append(hint)
    assert seen[real] == seen[nobody]
    assert seen[real][:6] == [(200, False)] * 5 + [(429, True)]


class MovingTime:
    """The real clock the rate limits' storage reads, moved by hand (their windows are real time)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.monotonic = time.monotonic

    def time(self) -> float:
        return self.now


@pytest.fixture
def moving_time(monkeypatch) -> MovingTime:
    moving = MovingTime()
    monkeypatch.setattr(limits.storage.memory, "time", moving)
    monkeypatch.setattr(quota, "time", moving)
    return moving


def test_the_wait_grows_with_the_failures_and_stops_at_a_quarter_hour(
    app, engine, session, network, reset_limits, moving_time
):
    limited = limited_app(engine, session, RATELIMIT_STORAGE_URI="memory://")
    client = limited.test_client()
    email = session.get(User, network.shelter.caseworker.user_id).email

    def fail_until_refused() -> tuple[int, int, str]:
        """Wrong passwords until one is refused (20 at most): how many failed, the wait, as said."""
        answers = []
        while len(answers) < 20 and (not answers or answers[-1].status_code == 200):
            answers.append(try_password(client, email, "pas le bon"))
        refused = answers[-1]
        assert refused.status_code == 429
        hint = re.search(r"attendez (\d+ minutes?)", refused.text).group(1)
        return len(answers) - 1, int(refused.headers["Retry-After"]), hint

    start = moving_time.now
    failures, wait, hint = fail_until_refused()
    assert (failures, hint) == (5, "1 minute")
    assert 50 <= wait <= 60
    moving_time.now = start + 61
    failures, wait, hint = fail_until_refused()  # 10 in 5 minutes: until the first is 5 minutes old
    assert (failures, wait, hint) == (5, 300 - 61, "4 minutes")
    moving_time.now = start + 301
    failures, wait, hint = fail_until_refused()  # 15 in 15 minutes: the longest wait
    assert (failures, wait, hint) == (5, 900 - 301, "10 minutes")
    moving_time.now = start + 899
    assert try_password(client, email, PASSWORD).status_code == 429
    # A quarter hour after the first failure, her password signs her in, and her count starts over.
    moving_time.now = start + 901
    assert try_password(client, email, PASSWORD).status_code == 302
    elsewhere = limited.test_client()  # not signed in there
    assert [try_password(elsewhere, email, "pas le bon").status_code for _ in range(6)] == [200] * 5 + [429]


# Every 429 says when to come back ---------------------------------------------------------------


def test_the_api_says_when_to_come_back_too(app, engine, session, network, reset_limits):
    api = limited_app(
        engine, session, API_RATE_LIMIT="2 per minute", API_FAILED_KEY_LIMIT="2 per minute"
    ).test_client()
    key = {"Authorization": f"Bearer {key_for(session, network.womens_centre.coordinator)}"}
    spent = [api.get("/api/v1/protocols", headers=key) for _ in range(3)]
    assert [a.status_code for a in spent] == [200, 200, 429]
    assert spent[2].mimetype == "application/problem+json"
    assert int(spent[2].headers["Retry-After"]) in range(1, 61)
    # Keys guessed from one address: refused, then held back unread.
    address = new_address()
    guesses = [
        api.get(
            "/api/v1/protocols",
            headers={"Authorization": "Bearer guessed"},
            environ_overrides={"REMOTE_ADDR": address},
        )
        for _ in range(4)
    ]
    assert [a.status_code for a in guesses] == [401, 401, 429, 429]
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in guesses[2:])

"""Guessing is slow: sign-in and signed links answer 429 after a few tries, with a French page and no
stack trace; several web processes count together in Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from service.app import create_app
from service.config import Settings
from service.config import settings
from service.extensions import limiter
from tests.conftest import missing_server

REDIS_URL = os.environ.get("MAILLAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SIGN_IN = {"email": "personne@example.org", "password": "pas le bon mot de passe"}


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
        client.post("/sign-in", data=SIGN_IN, environ_overrides={"REMOTE_ADDR": address}) for _ in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    refused = answers[10]
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.text
    assert "Attendez quelques minutes" in refused.text
    assert 'lang="fr"' in refused.text
    assert "Traceback" not in refused.text
    assert "RateLimitExceeded" not in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    # Another address is not held back by her attempts.
    assert (
        client.post("/sign-in", data=SIGN_IN, environ_overrides={"REMOTE_ADDR": "192.0.2.9"}).status_code
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


def test_web_processes_count_together_in_redis(app, engine, session, address, reset_limits):
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        missing_server(f"Redis at {REDIS_URL}")
    try:
        first = limited_app(engine, session, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
        for _ in range(10):
            first.post("/sign-in", data=SIGN_IN, environ_overrides={"REMOTE_ADDR": address})
        assert any(address in key.decode() for key in client.scan_iter(match="*limits*"))
        # A second process (a new app, new storage object, empty memory) sees the same count.
        second = limited_app(engine, session, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
        refused = second.post("/sign-in", data=SIGN_IN, environ_overrides={"REMOTE_ADDR": address})
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
            data=SIGN_IN,
            environ_overrides={"REMOTE_ADDR": proxy},
            headers={"X-Forwarded-For": person},
        ).status_code

    for n in range(10):
        assert attempt(f"2001:db8::aaaa:{n}") == 200
    assert (attempt("2001:db8::bbbb:1") == 200) is counted_apart

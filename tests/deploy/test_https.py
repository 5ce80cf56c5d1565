"""The production topology, proven without Docker: Debian's Caddy with its own authority (`tls
internal`) in front of gunicorn, on the machine's PostgreSQL and Redis, with a worker and a beat.

A caseworker signs in over HTTPS in Chromium by the French labels, and gets the `__Host-` session
cookie, Secure; plain HTTP is sent to HTTPS."""

from __future__ import annotations

import http.client
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.db import make_engine
from tests.conftest import IN_CI
from tests.conftest import make_side
from tests.deploy.conftest import WAIT
from tests.deploy.conftest import unverified
from tests.e2e.browser import WORDS
from tests.e2e.browser import sign_in
from tests.e2e.conftest import CHROMIUM
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.postgresql


def caseworker_email(database_url: str) -> str:
    """A women's centre with a caseworker (no second factor for her role), in the deployment's database."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        side = make_side(session, "Centre de femmes Fictif des Rivières", datetime(2026, 11, 27, tzinfo=UTC))
        session.commit()
        email = session.get_one(User, side.caseworker.user_id).email
    engine.dispose()
    return email


def get(url: str) -> http.client.HTTPResponse:
    """One request, its redirect not followed."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=WAIT, context=unverified())
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=WAIT)
    connection.request("GET", parts.path or "/")
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_she_signs_in_over_https_through_caddy_and_plain_http_goes_to_https(deployment, database_url):
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    email = caseworker_email(database_url)
    _web, upstream = deployment.web("web")
    deployment.worker("worker")
    deployment.beat()
    _caddy, https, plain = deployment.proxy(upstream)

    # The whole chain is ready: database at head, broker answering, beat's relay run by the worker.
    deadline = time.monotonic() + WAIT
    while (ready := get(f"{https}/readyz")).status != 200:
        assert time.monotonic() < deadline, f"/readyz through Caddy answered {ready.status}"
        time.sleep(0.5)

    moved = get(f"{plain}/sign-in")
    assert moved.status == 308
    # Caddy 2.6 leaves out of its redirect the port it serves HTTPS on: 443 in production.
    assert moved.getheader("Location") == "https://127.0.0.1/sign-in"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Caddy's own authority, made for this test, is trusted by no browser.
            context = browser.new_context(ignore_https_errors=True, locale="fr-CA")
            page = context.new_page()
            sign_in(page, https, email, WORDS["fr"])
            assert page.url == f"{https}/"
            cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        finally:
            browser.close()
    session_cookie = cookies["__Host-maillage_session"]
    assert session_cookie["secure"]
    assert session_cookie["httpOnly"]
    assert session_cookie["path"] == "/"
    assert session_cookie["domain"] == "127.0.0.1"
    assert "maillage_session" not in cookies

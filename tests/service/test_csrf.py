"""Every route that changes something refuses a request without the form's CSRF token, and changes
nothing: a page on another site cannot act in the name of a signed-in intervenante.

The routes are read from the URL map, so a route added tomorrow is checked without touching this file.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.app import create_app
from service.db import Base
from service.links.operations import issue_link
from tests.conftest import PASSWORD
from tests.service.test_referral_pages import referral_in

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Columns a request may touch without changing anything a person did: her session's last activity.
BOOKKEEPING = {("user_sessions", "last_seen_at")}


@pytest.fixture
def guarded_app(app: Flask, session: Session, engine, clock) -> Flask:
    """The app with CSRF on, as people get it (the `app` fixture turns it off for convenience)."""
    guarded = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
        }
    )
    guarded.extensions["maillage.sessions"] = lambda: session
    guarded.config["CLOCK"] = clock
    return guarded


@pytest.fixture
def targets(session, protocols, network, clock) -> dict[str, object]:
    """Real things for the routes' arguments: a referral the women's centre sent, its signed link."""
    referral = referral_in("sent", session, protocols, network, clock)
    return {
        "referral_id": referral.id,
        "organization_id": network.womens_centre.organization.id,
        "user_id": network.womens_centre.caseworker.user_id,
        "token": issue_link(session, referral.id, network.shelter.organization.id, clock=clock),
    }


def state_changing_routes(app: Flask, targets: dict[str, object]) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        # The API (/api/...) authenticates each request with an API key, never a cookie: a forged
        # cross-site request carries nothing that would let it act, so it is exempt from CSRF.
        if rule.rule.startswith("/api/") or rule.endpoint == "static":
            continue
        values = {name: targets.get(name, 1) for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        routes.extend((method, url) for method in sorted(rule.methods & STATE_CHANGING))
    return routes


def snapshot(session: Session) -> dict[str, list[tuple]]:
    """Every row of every table, but for bookkeeping columns."""
    session.expire_all()
    tables = {}
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if (table.name, c.name) not in BOOKKEEPING]
        rows = session.execute(select(*columns)).all()
        tables[table.name] = sorted((tuple(map(repr, row)) for row in rows), key=repr)
    return tables


def csrf_token_in(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', html).group(1)


def signed_in_client(app: Flask, session: Session, user_id: int):
    """A browser signed in through the real form, with its CSRF token, as people do."""
    client = app.test_client()
    token = csrf_token_in(client.get("/sign-in").text)
    email = session.get(User, user_id).email
    answer = client.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.text
    return client


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(
    guarded_app, session, network, targets
):
    client = signed_in_client(guarded_app, session, network.womens_centre.caseworker.user_id)
    routes = state_changing_routes(guarded_app, targets)
    # Sign-in, sign-out, intake, consent, actions, the signed link, directory pages at least.
    assert len(routes) >= 8, routes
    before = snapshot(session)

    for method, url in routes:
        answer = client.open(url, method=method, data={"trigger": "acknowledge", "name": "Forgée"})
        assert answer.status_code == 400, f"{method} {url} answered {answer.status_code}"
        assert "Traceback" not in answer.text, url

    assert snapshot(session) == before
    # Still signed in: the refused sign-out did not sign her out.
    assert client.get("/").status_code == 200


def test_the_same_request_with_the_token_goes_through(guarded_app, session, network, targets):
    """The refusal above is CSRF's, not something else: with the page's token, acting works."""
    client = signed_in_client(guarded_app, session, network.womens_centre.caseworker.user_id)
    token = csrf_token_in(client.get("/").text)
    assert client.post("/sign-out", data={}).status_code == 400
    assert client.post("/sign-out", data={"csrf_token": token}).status_code in (302, 303)
    assert client.get("/").status_code == 302

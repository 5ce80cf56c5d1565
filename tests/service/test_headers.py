"""Every route answers with the security headers, whoever asks and whatever the answer."""

from __future__ import annotations

import re

import pytest

from service.accounts.models import User
from service.app import create_app
from service.config import settings
from service.links.operations import issue_link
from service.referrals.operations import PersonDetails
from tests.conftest import PASSWORD
from tests.conftest import sign_in
from tests.service.test_referral_pages import referral_in


def every_get_url(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        # Route arguments get a value that exists nowhere: the 404 page needs its headers too.
        values = dict.fromkeys(rule.arguments, 1)
        if "token" in rule.arguments:
            values["token"] = "x" * 43
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_page_sends_the_security_headers(app, client, network, session, signed_in):
    if signed_in:
        sign_in(client, network.womens_centre.coordinator, session)
    urls = every_get_url(app)
    assert len(urls) > 15
    for url in urls:
        headers = client.get(url).headers
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert headers.get("X-Content-Type-Options") == "nosniff", url
        assert headers.get("Referrer-Policy") == "no-referrer", url
        assert headers.get("Cache-Control") == "no-store", url


def test_hsts_is_sent_outside_development(app, client):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers  # the test app is development


@pytest.fixture
def production_app(app, session, engine, clock, monkeypatch):
    """The app as deployed: production settings, HTTPS, CSRF and rate limits on."""
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "test-only-secret")
    settings.cache_clear()
    production = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "RATELIMIT_ENABLED": False,
        }
    )
    production.extensions["maillage.sessions"] = lambda: session
    production.config["CLOCK"] = clock
    yield production
    settings.cache_clear()


@pytest.fixture
def referral(session, protocols, network, clock):
    """A referral the women's centre sent to the shelter: its page shows her details."""
    return referral_in(
        "sent",
        session,
        protocols,
        network,
        clock,
        person=PersonDetails(name="Personne Fictive 21", phone="450-555-0121"),
    )


def test_every_route_and_method_answers_with_every_header_in_production(
    production_app, network, session, referral, clock
):
    """Whatever the answer (page, redirect, refusal, 404, 405), over HTTPS, signed in or not."""
    token = issue_link(session, referral.id, network.shelter.organization.id, clock=clock)
    real = {"referral_id": referral.id, "organization_id": network.womens_centre.organization.id}
    requests = []
    for rule in production_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {name: real.get(name, 1) for name in rule.arguments}
        if "token" in rule.arguments:
            values["token"] = token
        url = rule.build(values, append_unknown=False)[1]
        requests.extend((method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    assert len(requests) > 25
    client = production_app.test_client()
    statuses = set()
    for signed_in in (False, True):
        if signed_in:
            sign_in_https(client, network.womens_centre.caseworker, session)
        for method, url in requests:
            answer = client.open(url, method=method, base_url="https://localhost")
            statuses.add(answer.status_code)
            if signed_in and (method, url) == ("GET", f"/referrals/{referral.id}"):
                her_page = answer
            headers = answer.headers
            assert headers.get("Strict-Transport-Security", "").startswith("max-age="), (method, url)
            assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), (method, url)
            assert "unsafe-inline" not in headers.get("Content-Security-Policy", ""), (method, url)
            assert headers.get("X-Content-Type-Options") == "nosniff", (method, url)
            assert headers.get("Referrer-Policy") == "no-referrer", (method, url)
            assert headers.get("Cache-Control") == "no-store", (method, url)
    # Real pages were shown, not only refusals: her referral's page among them, with her name.
    assert {200, 400}.issubset(statuses), statuses
    assert her_page.status_code == 200
    assert "Personne Fictive 21" in her_page.text


def sign_in_https(client, actor, session):
    """Sign in through the form over HTTPS (the production cookie is Secure), CSRF token and all.
    A caseworker: her role signs in without a second factor."""
    page = client.get("/sign-in", base_url="https://localhost").text
    token = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)
    email = session.get(User, actor.user_id).email
    answer = client.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
    )
    assert answer.status_code == 302, answer.text


def test_static_files_may_be_cached(client):
    with client.get("/static/maillage.css") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"


def test_in_production_the_session_cookie_is_bound_to_this_host(production_app, network, session):
    """`__Host-`: only over HTTPS, for the whole site, and no Domain, so no sibling host can plant one."""
    client = production_app.test_client()
    page = client.get("/sign-in", base_url="https://localhost")
    token = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page.text).group(1)
    email = session.get(User, network.womens_centre.caseworker.user_id).email
    answer = client.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
    )
    assert answer.status_code == 302
    [cookie] = answer.headers.getlist("Set-Cookie")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-maillage_session=")
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= set(attributes)
    assert not any(part.startswith("domain=") for part in attributes)
    # Her language choice is kept over HTTPS only too.
    chosen = client.get("/sign-in?lang=en", base_url="https://localhost")
    assert "secure" in [part.strip().lower() for part in chosen.headers["Set-Cookie"].split(";")]


def test_in_development_the_cookie_keeps_a_plain_name_over_http(client, network, session):
    """`__Host-` needs HTTPS, which http://127.0.0.1 has not: the browser would drop the cookie."""
    email = session.get(User, network.womens_centre.caseworker.user_id).email
    answer = client.post("/sign-in?lang=en", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 302
    cookies = answer.headers.getlist("Set-Cookie")
    assert sorted(cookie.split("=")[0] for cookie in cookies) == ["maillage_lang", "maillage_session"]
    assert not any("secure" in cookie.lower().split("; ") for cookie in cookies)

"""Every route answers with the security headers, whoever asks and whatever the answer."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in


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


def test_static_files_may_be_cached(client):
    with client.get("/static/maillage.css") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"

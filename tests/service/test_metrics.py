"""`/metrics`: off by default, hidden behind a token, counts and ages only, never a path or a name."""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import sys
from datetime import timedelta
from unittest.mock import Mock

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlalchemy import select

import worker.sending
from service.config import Settings
from service.notifications.emails import Email
from service.notifications.models import OutboxMessage
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.conftest import sign_in

TOKEN = "s3cret-scrape-token-for-tests"
CANARY = "Canari Zébulon-Fictif"
CANARY_PHONE = "450-555-0199"


@pytest.fixture
def metrics_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MAILLAGE_METRICS_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
def metrics_client(metrics_token: str, client: FlaskClient) -> FlaskClient:
    """A client of the app with `/metrics` turned on by its token (set before the app is made)."""
    return client


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return response.text


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def same_page(one: str, other: str) -> bool:
    reference = re.compile(r"\b[0-9A-F]{8}\b")
    return reference.sub("", one) == reference.sub("", other)


def requests_timed(client: FlaskClient, route: str) -> float:
    return samples(scrape(client)).get(
        ("maillage_http_request_duration_seconds_count", (("route", route), ("status", "2xx"))), 0.0
    )


# Off, hidden, and outside sessions -----------------------------------------------------------------


def test_without_a_token_set_there_is_no_metrics_page(monkeypatch, client):
    monkeypatch.delenv("MAILLAGE_METRICS_TOKEN", raising=False)

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 404
    assert Settings().metrics_token is None


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
)
def test_without_the_right_token_metrics_answer_as_a_page_that_does_not_exist(metrics_client, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = metrics_client.get("/metrics", headers=headers)
    unknown = metrics_client.get("/metricz")

    assert response.status_code == 404
    # The same page, but for the address and the error's own reference.
    assert same_page(response.text, unknown.text.replace("/metricz", "/metrics"))
    assert "maillage_" not in response.text


def test_with_the_token_metrics_answer_in_prometheus_text_format(metrics_client):
    text = scrape(metrics_client)

    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "maillage_http_request_duration_seconds",
        "maillage_emails_sent",
        "maillage_emails_failed",
        "maillage_outbox_pending_messages",
        "maillage_outbox_oldest_pending_age_seconds",
        "maillage_deadline_sweep_lag_seconds",
        "maillage_referrals_overdue",
    } <= names


def test_a_scrape_from_a_signed_in_browser_sets_no_cookie_and_asks_for_no_mfa(
    metrics_client, network, session
):
    sign_in(metrics_client, network.shelter.coordinator, session)

    response = metrics_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.headers.get_all("Set-Cookie") == []


def test_metrics_take_no_csrf_token_and_no_rate_limit(app, monkeypatch):
    """As deployed: CSRF and rate limits on; Prometheus scrapes every few seconds."""
    monkeypatch.setenv("MAILLAGE_METRICS_TOKEN", TOKEN)
    from service.app import create_app
    from service.config import settings

    settings.cache_clear()
    deployed = create_app(
        {"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "CLOCK": app.config["CLOCK"]}
    )
    deployed.extensions["maillage.sessions"] = app.extensions["maillage.sessions"]
    client = deployed.test_client()

    statuses = {
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code for _ in range(70)
    }

    assert statuses == {200}


# Request latency --------------------------------------------------------------------------------


def test_a_page_is_timed_under_its_routes_name_never_its_path(metrics_client):
    referral_page, _ = metrics_client.application.url_map.bind("localhost").match("/referrals/987654321")

    assert metrics_client.get("/sign-in").status_code == 200
    status = metrics_client.get("/referrals/987654321").status_code
    assert metrics_client.get("/nowhere/canary-path-segment").status_code == 404
    text = scrape(metrics_client)

    timed = {
        (dict(labels)["route"], dict(labels)["status"])
        for (name, labels), count in samples(text).items()
        if name == "maillage_http_request_duration_seconds_count" and count > 0
    }
    assert {("auth.sign_in", "2xx"), (referral_page, f"{status // 100}xx"), ("unmatched", "4xx")} <= timed
    assert "987654321" not in text
    assert "canary-path-segment" not in text
    assert "/sign-in" not in text


def test_each_request_adds_one_sample_to_its_route(metrics_client):
    before = requests_timed(metrics_client, "auth.sign_in")

    metrics_client.get("/sign-in")
    metrics_client.get("/sign-in")

    assert requests_timed(metrics_client, "auth.sign_in") == before + 2


# What the database says ---------------------------------------------------------------------------


def test_the_outbox_deadlines_and_overdue_referrals_are_counted_as_the_database_has_them(
    metrics_client, session, protocols, network, clock
):
    sender = network.womens_centre.caseworker
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        need_codes=["shelter_emergency"],
        person=PersonDetails(name=CANARY, phone=CANARY_PHONE, safety_constraints="Pas de message"),
        clock=clock,
    )
    record_consent(
        session, draft.id, sender, method="verbal", shared_with="Maison", purpose="hébergement", clock=clock
    )
    sent_at = clock.advance(hours=1)
    sent = fire(session, protocols, draft.id, "send", sender, clock=clock)
    # Five hours past its receipt deadline, and no sweep came by.
    clock.now = sent.due_at + timedelta(hours=5)
    # A second referral, opened now: its draft reminder is days away, nothing overdue.
    open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        need_codes=["shelter_emergency"],
        person=PersonDetails(name=CANARY, phone=CANARY_PHONE, safety_constraints=""),
        clock=clock,
    )
    pending = session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
    assert pending > 0

    text = scrape(metrics_client)
    values = samples(text)

    assert values[("maillage_outbox_pending_messages", ())] == pending
    assert values[("maillage_outbox_oldest_pending_age_seconds", ())] == (clock.now - sent_at).total_seconds()
    assert values[("maillage_deadline_sweep_lag_seconds", ())] == 5 * 3600
    overdue = {
        dict(labels)["state"]: value
        for (name, labels), value in values.items()
        if name == "maillage_referrals_overdue"
    }
    assert overdue == {sent.state: 1}
    assert ("maillage_referrals_overdue", (("protocol", "standard"), ("state", sent.state))) in values
    # Counts and ages only: nothing of hers.
    assert CANARY not in text
    assert "Zébulon" not in text
    assert CANARY_PHONE not in text


def test_with_nothing_waiting_the_ages_are_zero(metrics_client, network):
    values = samples(scrape(metrics_client))

    assert values[("maillage_outbox_pending_messages", ())] == 0
    assert values[("maillage_outbox_oldest_pending_age_seconds", ())] == 0
    assert values[("maillage_deadline_sweep_lag_seconds", ())] == 0


# Emails sent and failed, counted where the worker sends ---------------------------------------------


def email(to: str) -> Email:
    return Email(to=to, language="fr", subject="Objet", text="Texte", html="<p>Texte</p>", message_id="<1@x>")


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_email_the_server_takes_or_refuses_is_counted():
    postbox = Mock()
    refusal = smtplib.SMTPRecipientsRefused({"no@example.org": (550, b"no such user")})
    postbox.send.side_effect = lambda _message, to: (
        (_ for _ in ()).throw(refusal) if to.startswith("no@") else None
    )
    sent, refused = (
        counter("maillage_emails_sent_total"),
        counter("maillage_emails_failed_total", reason="refused"),
    )

    worker.sending._send_all(postbox, [email("yes@example.org"), email("no@example.org")], "m@example.org")

    assert counter("maillage_emails_sent_total") == sent + 1
    assert counter("maillage_emails_failed_total", reason="refused") == refused + 1


def test_a_mail_server_out_of_reach_counts_a_failed_email(monkeypatch):
    monkeypatch.setattr(worker.sending, "take_for_sending", lambda *_args: True)
    monkeypatch.setattr(worker.sending, "open_postbox", Mock(side_effect=ConnectionRefusedError))
    sent, lost = (
        counter("maillage_emails_sent_total"),
        counter("maillage_emails_failed_total", reason="connection"),
    )

    result, postbox = worker.sending._send_one(
        Mock(), Mock(), 1, [email("yes@example.org")], Settings(), lambda: None, lambda: 0.0, None
    )

    assert (result, postbox) == ("interrupted", None)
    assert counter("maillage_emails_failed_total", reason="connection") == lost + 1
    assert counter("maillage_emails_sent_total") == sent


# Several processes -------------------------------------------------------------------------------


def test_with_a_multiprocess_folder_metrics_add_up_what_every_process_counted(tmp_path, sqlite_url):
    """gunicorn's workers and the worker's processes on one host share PROMETHEUS_MULTIPROC_DIR: a
    scrape answered by any process shows what all of them counted."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    environment = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "MAILLAGE_METRICS_TOKEN": TOKEN,
        "MAILLAGE_ENV": "development",
        "MAILLAGE_DATA_DIR": str(tmp_path / "instance"),
        "MAILLAGE_DATABASE_URL": sqlite_url,
    }
    worker_sends = "from service.health.metrics import EMAILS_SENT; EMAILS_SENT.inc(3)"
    web_scrapes = (
        "from service.app import create_app; client = create_app().test_client(); client.get('/sign-in'); "
        f"print(client.get('/metrics', headers={{'Authorization': 'Bearer {TOKEN}'}}).text)"
    )

    subprocess.run([sys.executable, "-c", worker_sends], env=environment, check=True)  # noqa: S603
    text = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", web_scrapes], env=environment, check=True, capture_output=True, text=True
    ).stdout

    values = samples(text)
    assert values[("maillage_emails_sent_total", ())] == 3
    assert (
        values[
            ("maillage_http_request_duration_seconds_count", (("route", "auth.sign_in"), ("status", "2xx")))
        ]
        == 1
    )
    assert ("maillage_outbox_pending_messages", ()) in values

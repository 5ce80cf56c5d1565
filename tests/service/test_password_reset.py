"""A forgotten password: she asks for a link, opens it from her email, and chooses a new password.

The answer to the request tells nothing of the accounts; the link works once, for an hour, and
opening it changes nothing; the new password ends every session of hers and still asks for her
code where she has two-step sign-in.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy import select

from service.accounts.models import OneTimeLink
from service.accounts.models import User
from service.accounts.models import UserSession
from service.accounts.one_time_links import Purpose
from service.accounts.one_time_links import issue
from service.accounts.password_reset import request_reset
from service.accounts.passwords import verify_password
from service.app import create_app
from service.audit.models import AuditEntry
from service.config import settings
from service.extensions import limiter
from service.notifications.emails import Email
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.notifications.publishing import QUEUED
from tests.conftest import PASSWORD
from tests.conftest import TOTP_SECRET
from tests.conftest import enrol_in_mfa
from tests.conftest import make_side
from tests.conftest import new_postgresql_database
from tests.conftest import sign_in
from tests.service.test_rate_limits import limited_app

NEW_PASSWORD = "la rivière des Mille Îles gèle en janvier"
LINK = re.compile(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_-]+)")
NO_LONGER_VALID = "Ce lien n’est plus valide"  # noqa: RUF001 - French typography


@pytest.fixture
def her(session, network) -> User:
    """A caseworker of the shelter: no two-step sign-in."""
    return session.get_one(User, network.shelter.caseworker.user_id)


def ask_for_link(client: FlaskClient, email: str, **request) -> None:
    answer = client.post("/password/forgot", data={"email": email}, **request)
    assert answer.status_code == 303, answer.text


def newest_email(session, protocols, clock, template: str) -> Email:
    """What the worker would send for the newest queued message of `template`, composed as it does
    (composing a reset email makes its link)."""
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id.desc())
    ).first()
    (email,) = compose(session, protocols, message, base_url="https://maillage.example", now=clock.now)
    session.commit()  # the link the email carries, as the worker commits it before sending
    return email


def emailed_link(session, protocols, clock) -> str:
    """The path of the newest reset link emailed."""
    return LINK.search(newest_email(session, protocols, clock, "password_reset").text).group(1)


def test_the_sign_in_page_offers_a_forgotten_password_page(client):
    sign_in_page = client.get("/sign-in").text
    assert 'href="/password/forgot"' in sign_in_page
    assert "Mot de passe oublié?" in sign_in_page
    page = client.get("/password/forgot").text
    assert "<h1>Mot de passe oublié?</h1>" in page
    assert 'for="email"' in page


def test_the_answer_is_the_same_whether_an_account_has_the_email_or_not(client, session, network, her):
    gone = session.get_one(User, network.legal_aid.caseworker.user_id)
    gone.active = False
    session.commit()

    answers = [
        client.post("/password/forgot", data={"email": email})
        for email in (her.email, her.email.upper(), "personne@example.org", gone.email)
    ]

    assert {(a.status_code, a.headers["Location"], a.text) for a in answers} == {
        (303, "/password/forgot/sent", answers[0].text)
    }
    sent = client.get("/password/forgot/sent")
    assert sent.status_code == 200
    assert "Si un compte actif utilise ce courriel" in sent.text
    assert "pendant 1 heure" in sent.text
    # Only her active account got emails (two, one per request); each request is in the audit trail.
    queued = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).all()
    assert [(m.payload or {}).get("user_id") for m in queued if m.status == "pending"] == [her.id, her.id]
    requests = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "password_reset.requested")
    ).all()
    assert [entry.user_id for entry in requests] == [her.id, her.id, None, gone.id]


def test_the_same_statements_answer_whether_an_account_has_the_email_or_not(client, engine, her):
    """The same work, statement for statement: what the database is asked to do, and so how long
    it takes, tells nothing of the accounts. (How long each answer takes is measured, in pairs,
    by bench/password_reset.py: a timed test fails on a loaded machine.)"""
    seen: list[str] = []

    def note(_connection, _cursor, statement: str, *_args) -> None:
        # What is read or written where; the test's savepoints around each request are left out.
        found = re.match(
            r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b(?:.*?\bFROM)?\s+(\w+)", statement, re.S
        )
        if found:
            seen.append(f"{found[1]} {found[2]}")

    def statements(email: str) -> list[str]:
        seen.clear()
        ask_for_link(client, email)
        return list(seen)

    event.listen(engine, "before_cursor_execute", note)
    try:
        known = statements(her.email)
        unknown = statements("personne@example.org")
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert known == ["SELECT users", "INSERT INTO audit_entries", "INSERT INTO outbox_messages"]
    assert known == unknown


def test_both_answers_hand_one_message_to_the_worker_at_once(session, clock, her):
    """So that publishing after the commit (a broker's round trip) takes as long for both."""
    for email in (her.email, "personne@example.org"):
        session.info.pop(QUEUED, None)
        request_reset(session, email, clock=clock)
        (queued,) = session.info[QUEUED]
        assert session.get_one(OutboxMessage, queued).template == "password_reset"


def test_the_email_is_in_her_language_and_carries_a_link_good_for_an_hour(
    client, session, protocols, clock, her
):
    ask_for_link(client, her.email)
    email = newest_email(session, protocols, clock, "password_reset")

    assert email.to == her.email
    assert email.subject == "Choisissez un nouveau mot de passe Maillage"
    assert "pendant 1 heure" in email.text
    path = LINK.search(email.text).group(1)
    assert path in email.html
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43
    # The outbox keeps no token; the link's row keeps its hash only.
    (message,) = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset"))
    assert token not in str(message.payload)
    (link,) = session.scalars(select(OneTimeLink))
    assert token not in link.token_hash
    assert link.expires_at == clock.now + timedelta(hours=1)

    # Each request closes the session (`service.web.database`): her row is read again to change it.
    session.get_one(User, her.id).language = "en"
    session.commit()
    ask_for_link(client, her.email)
    english = newest_email(session, protocols, clock, "password_reset")
    assert english.subject == "Choose a new Maillage password"


def test_opening_the_link_changes_nothing(client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)
    entries_before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))

    # A mail scanner opens it, twice, and a HEAD for good measure.
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        assert "<h1>Choisir un nouveau mot de passe</h1>" in page.text
    assert client.head(path).status_code == 200

    (link,) = session.scalars(select(OneTimeLink).execution_options(populate_existing=True))
    assert link.used_at is None
    assert link.revoked_at is None
    assert verify_password(session.get_one(User, her.id).password_hash, PASSWORD)
    assert session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == entries_before
    assert client.get("/").status_code == 302  # nobody signed in


def test_a_new_password_ends_every_session_and_signs_her_in(
    app, client, session, protocols, clock, her, network
):
    elsewhere = sign_in(app.test_client(), network.shelter.caseworker, session)
    assert elsewhere.get("/").status_code == 200
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)

    answer = client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in
    assert elsewhere.get("/").status_code == 302  # the other browser is signed out
    sessions = session.scalars(select(UserSession).where(UserSession.user_id == her.id)).all()
    assert [s.ended_at is None for s in sessions] == [False, True]
    # The old password no longer works; the new one does.
    stranger = app.test_client()
    refused = stranger.post("/sign-in", data={"email": her.email, "password": PASSWORD})
    assert refused.status_code == 200
    assert "Courriel ou mot de passe incorrect." in refused.text
    assert stranger.post("/sign-in", data={"email": her.email, "password": NEW_PASSWORD}).status_code == 302
    # Audited, and she is told by email.
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.user_id == her.id)).all()
    assert "password.reset" in actions
    notice = newest_email(session, protocols, clock, "password_reset_done")
    assert notice.to == her.email
    assert notice.subject == "Votre mot de passe Maillage a été changé"
    assert "/password/reset/" not in notice.text


def test_a_link_works_once(app, client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)
    assert client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 302

    again = app.test_client()
    for answer in (
        again.get(path),
        again.post(
            path,
            data={"new": "une autre phrase assez longue ici", "again": "une autre phrase assez longue ici"},
        ),
    ):
        assert answer.status_code == 404
        assert NO_LONGER_VALID in answer.text
        assert 'href="/password/forgot"' in answer.text
        assert "Demander un nouveau lien" in answer.text
    assert verify_password(session.get_one(User, her.id).password_hash, NEW_PASSWORD)


def test_a_link_expires_after_an_hour(client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)

    clock.advance(minutes=59)
    assert client.get(path).status_code == 200
    clock.advance(minutes=1)
    expired = client.get(path)
    assert expired.status_code == 404
    assert NO_LONGER_VALID in expired.text
    assert client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 404
    assert verify_password(session.get_one(User, her.id).password_hash, PASSWORD)


def test_only_the_newest_link_works(client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    first = emailed_link(session, protocols, clock)
    ask_for_link(client, her.email)
    second = emailed_link(session, protocols, clock)

    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token[:-2],
        lambda token: token + "x",
        lambda token: "x" * 43,
        lambda token: token.upper(),
    ],
)
def test_a_tampered_link_opens_nothing(client, session, protocols, clock, her, tamper):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)
    prefix, token = path.rsplit("/", 1)
    tampered = f"{prefix}/{tamper(token)}"

    assert client.get(tampered).status_code == 404
    answer = client.post(tampered, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert answer.status_code == 404
    assert NO_LONGER_VALID in answer.text
    assert verify_password(session.get_one(User, her.id).password_hash, PASSWORD)
    assert client.get(path).status_code == 200  # the real one still works


def test_a_weak_password_is_refused_and_the_link_still_works(client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)

    short = client.post(path, data={"new": "court", "again": "court"})
    assert short.status_code == 200
    assert "Au moins 12 caractères." in short.text
    common = client.post(path, data={"new": "Password12345!", "again": "Password12345!"})
    assert common.status_code == 200
    assert "courant" in common.text
    assert client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 302


def test_a_deactivated_account_cannot_use_its_link(client, session, protocols, clock, her):
    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)
    session.get_one(User, her.id).active = False
    session.commit()

    assert client.get(path).status_code == 404
    assert client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 404


def test_two_step_sign_in_is_still_asked(client, session, protocols, clock, network):
    coordinator = session.get_one(User, network.shelter.coordinator.user_id)
    enrol_in_mfa(session, coordinator, clock.now)
    session.commit()
    ask_for_link(client, coordinator.email)
    path = emailed_link(session, protocols, clock)

    answer = client.post(path, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/sign-in/code"
    assert client.get("/").status_code == 302  # not signed in before her code
    code = pyotp.TOTP(TOTP_SECRET).at(clock.now)
    assert client.post("/sign-in/code", data={"code": code}).status_code == 302
    assert client.get("/").status_code == 200


@pytest.fixture
def limited(app, engine, session, clock):
    """The app with its rate limits on; the counts forgotten after the test."""
    app = limited_app(engine, session, CLOCK=clock)
    yield app.test_client()
    limiter.reset()


def test_asking_too_often_from_one_address_waits_with_retry_after(limited, network):
    address = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    answers = [
        limited.post(
            "/password/forgot",
            data={"email": f"p{i}-{uuid.uuid4().hex[:6]}@example.org"},
            environ_overrides=address,
        )
        for i in range(6)
    ]
    assert [a.status_code for a in answers] == [303] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) in range(1, 61)
    assert "Trop de tentatives" in answers[-1].text


@pytest.mark.parametrize("whose", ["hers", "nobody's"])
def test_asking_too_often_for_one_email_waits_whoever_asks(limited, session, her, whose):
    email = her.email if whose == "hers" else f"personne-{uuid.uuid4().hex[:6]}@example.org"
    answers = [
        limited.post(
            "/password/forgot",
            data={"email": email.upper() if i % 2 else email},
            environ_overrides={"REMOTE_ADDR": f"192.0.2.{i + 1}"},
        )
        for i in range(4)
    ]
    # The same answers for her account and for an email nobody has: the limit tells nothing.
    assert [a.status_code for a in answers] == [303, 303, 303, 429]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) in range(1, 15 * 60 + 1)
    assert "Trop de demandes pour cette adresse courriel : attendez 15 minutes" in refused.text
    queued = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).all()
    assert len([m for m in queued if m.status == "pending"]) == (3 if whose == "hers" else 0)


def test_the_development_server_logs_reset_links_without_their_token(
    app, client, session, protocols, clock, her, caplog
):
    from werkzeug.serving import make_server

    ask_for_link(client, her.email)
    path = emailed_link(session, protocols, clock)
    token = path.rsplit("/", 1)[1]
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=30) as page:
            assert page.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=30)
    assert "GET /password/reset/*** HTTP/1.1" in caplog.text
    assert token not in caplog.text


@pytest.fixture(scope="module")
def committing_database() -> Iterator[str]:
    """A PostgreSQL database of this module's own: the racing requests commit for real."""
    with new_postgresql_database() as url:
        yield url


@pytest.mark.postgresql
def test_of_two_browsers_sending_the_form_at_once_one_sets_the_password(
    committing_database, clock, tmp_path, monkeypatch
):
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
    settings.cache_clear()
    app = create_app(
        {"TESTING": True, "DATABASE_URL": committing_database, "RATELIMIT_ENABLED": False, "CLOCK": clock}
    )
    sessions = app.extensions["maillage.sessions"]
    with sessions() as session:
        side = make_side(session, "Maison Fictive de la Course", clock.now)
        token = issue(
            session, side.caseworker.user_id, Purpose.PASSWORD_RESET, timedelta(hours=1), clock=clock
        )
        session.commit()
    browsers = [app.test_client() for _ in range(2)]
    forms = []
    for browser in browsers:
        page = browser.get(f"/password/reset/{token}")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        forms.append({"new": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf_token": csrf})
    together = threading.Barrier(2)
    statuses = [0, 0]

    def send(index: int) -> None:
        together.wait()
        statuses[index] = browsers[index].post(f"/password/reset/{token}", data=forms[index]).status_code

    threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [302, 404]
    with sessions() as session:
        resets = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "password.reset", AuditEntry.user_id == side.caseworker.user_id
            )
        ).all()
        assert len(resets) == 1
    sessions.kw["bind"].dispose()
    settings.cache_clear()

"""Signing in and out, and what a stranger sees."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy import select

from service.accounts.models import User
from service.accounts.models import UserSession
from service.audit.models import AuditEntry
from tests.conftest import sign_in


def test_pages_ask_strangers_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_the_sign_in_page_speaks_french_by_default_and_english_on_request(client):
    french = client.get("/sign-in").text
    assert 'lang="fr"' in french
    assert "<h1>Connexion</h1>" in french
    assert 'for="email">Courriel' in french
    english = client.get("/sign-in?lang=en").text
    assert 'lang="en"' in english
    assert "<h1>Sign in</h1>" in english
    assert "<h1>Sign in</h1>" in client.get("/sign-in").text  # the choice is remembered


def test_a_wrong_password_says_so_without_saying_which_part(client, network, session):
    email = session.get(User, network.shelter.caseworker.user_id).email
    response = client.post("/sign-in", data={"email": email, "password": "wrong password!"})
    assert response.status_code == 200
    assert "error-summary" in response.text
    unknown = client.post("/sign-in", data={"email": "nobody@example.org", "password": "wrong password!"})
    assert unknown.text.count("error-summary") == response.text.count("error-summary")


def test_signing_in_starts_a_server_side_session_and_signing_out_ends_it(client, network, session):
    sign_in(client, network.shelter.caseworker, session)
    assert client.get("/").status_code == 200
    row = session.scalar(select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id))
    assert row.ended_at is None
    client.post("/sign-out")
    assert row.ended_at is not None
    assert client.get("/").status_code == 302


def test_a_deactivated_user_is_signed_out_at_once(client, network, session):
    sign_in(client, network.shelter.caseworker, session)
    session.get(User, network.shelter.caseworker.user_id).active = False
    session.commit()
    assert client.get("/").status_code == 302


def test_sign_ins_and_failures_are_in_the_audit_log(client, network, session):
    user = session.get(User, network.shelter.caseworker.user_id)
    client.post("/sign-in", data={"email": user.email.upper(), "password": "wrong password!"})
    client.post("/sign-in", data={"email": "nobody@example.org", "password": "wrong password!"})
    sign_in(client, network.shelter.caseworker, session)
    mine = session.scalars(
        select(AuditEntry.action).where(AuditEntry.user_id == user.id).order_by(AuditEntry.id)
    )
    assert list(mine) == ["sign_in.failed", "sign_in.succeeded"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.user_id == user.id))
    assert entry.organization_id == network.shelter.organization.id  # her coordinator sees it
    anonymous = session.scalars(select(AuditEntry.action).where(AuditEntry.user_id.is_(None)))
    assert "sign_in.failed" in list(anonymous)


def test_a_wrong_password_reads_her_account_once(client, network, session, engine):
    email = session.get(User, network.shelter.caseworker.user_id).email
    statements = []

    def seen(_connection, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        client.post("/sign-in", data={"email": email, "password": "wrong password!"})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len([s for s in statements if "FROM users" in s]) == 1
    assert len([s for s in statements if "INSERT INTO audit_entries" in s]) == 1

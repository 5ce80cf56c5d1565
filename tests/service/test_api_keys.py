"""Stories of API keys: a coordinator makes one on its page, sees it once, and revokes it;
nothing but its hash is kept, and both acts are in the audit trail. A key refused is audited
without being kept, and guessing keys from one address is soon held back."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from sqlalchemy import event
from sqlalchemy import select
from werkzeug.test import TestResponse as Response

from service.api import blueprint as api_blueprint
from service.api import keys
from service.api.keys import create_key
from service.api.keys import revoke_key
from service.api.models import ApiKey
from service.app import create_app
from service.audit.models import AuditEntry
from service.errors import NotAllowed
from service.extensions import limiter
from service.web import quota
from tests.conftest import sign_in


def test_a_coordinator_makes_a_key_sees_it_once_and_revokes_it(client, session, network):
    coordinator = network.shelter.coordinator
    sign_in(client, coordinator, session)
    page = client.get("/organization/api-keys/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"

    made = client.post("/organization/api-keys/", data={"name": "Dossiers cliniques", "role": "coordinator"})
    assert made.status_code == 201
    token = re.search(r"mlg_[A-Za-z0-9_-]{40,}", made.text)[0]
    key = session.scalar(select(ApiKey).where(ApiKey.organization_id == coordinator.organization_id))
    assert key.role == "coordinator"
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {key.name, key.prefix}
    # Shown once: the page after does not show it again.
    assert token not in client.get("/organization/api-keys/").text

    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/protocols", headers=api).status_code == 200

    revoked = client.post(f"/organization/api-keys/{key.id}/revoke")
    assert revoked.status_code == 303
    assert client.get("/api/v1/protocols", headers=api).status_code == 401
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.organization_id == coordinator.organization_id)
    ).all()
    assert "api_key.created" in actions
    assert "api_key.revoked" in actions


def test_a_key_form_without_a_name_says_so(client, session, network):
    sign_in(client, network.shelter.coordinator, session)
    answer = client.post("/organization/api-keys/", data={"name": " ", "role": "caseworker"})
    assert answer.status_code == 422
    assert session.scalar(select(ApiKey)) is None


def test_only_coordinators_manage_keys(client, session, network):
    sign_in(client, network.shelter.caseworker, session)
    assert client.get("/organization/api-keys/").status_code == 403
    with pytest.raises(NotAllowed):
        create_key(session, network.shelter.caseworker, name="x", role="caseworker")
    with pytest.raises(NotAllowed):
        create_key(session, network.shelter.coordinator, name="x", role="regional_admin")


def test_a_coordinator_cannot_revoke_another_organizations_key(client, session, network):
    theirs = create_key(session, network.legal_aid.coordinator, name="Leur système", role="caseworker")
    with pytest.raises(NotAllowed):
        revoke_key(session, network.shelter.coordinator, theirs.key.id)
    sign_in(client, network.shelter.coordinator, session)
    assert client.post(f"/organization/api-keys/{theirs.key.id}/revoke").status_code == 404
    assert session.get(ApiKey, theirs.key.id).revoked_at is None
    headers = {"Authorization": f"Bearer {theirs.token}"}
    assert client.get("/api/v1/protocols", headers=headers).status_code == 200


def test_key_pages_keep_csrf_while_the_api_needs_none(app, client, session, network):
    sign_in(client, network.shelter.coordinator, session)
    app.config["WTF_CSRF_ENABLED"] = True
    forged = client.post("/organization/api-keys/", data={"name": "Forgé", "role": "coordinator"})
    assert forged.status_code == 400
    assert session.scalar(select(ApiKey)) is None

    token = create_key(session, network.shelter.coordinator, name="Système", role="caseworker").token
    headers = {"Authorization": f"Bearer {token}"}
    body = {"receiver_organization_id": network.womens_centre.organization.id}
    assert client.post("/api/v1/referrals", json=body, headers=headers).status_code == 201


# Keys refused at the door -------------------------------------------------------------------


def refused_entries(session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "access.refused")))


def test_a_refused_key_is_audited_once_for_its_organization_and_never_kept(client, session, network):
    coordinator = network.shelter.coordinator
    made = create_key(session, coordinator, name="Ancien système", role="caseworker")
    revoke_key(session, coordinator, made.key.id)
    unknown = "mlg_" + "x" * 43

    assert client.get("/api/v1/referrals", headers={"Authorization": f"Bearer {unknown}"}).status_code == 401
    [anonymous] = refused_entries(session)
    # A key no one has is no organization's, as a sign-in with an unknown email.
    assert (anonymous.organization_id, anonymous.user_id, anonymous.api_key_id, anonymous.referral_id) == (
        None,
        None,
        None,
        None,
    )

    headers = {"Authorization": f"Bearer {made.token}"}
    assert client.get("/api/v1/referrals", headers=headers).status_code == 401
    [revoked] = [entry for entry in refused_entries(session) if entry.id != anonymous.id]
    # Her coordinator learns that a system still uses the revoked key, and which key it is.
    assert (revoked.organization_id, revoked.user_id, revoked.api_key_id) == (
        coordinator.organization_id,
        None,
        made.key.id,
    )
    for entry in (anonymous, revoked):
        kept = " ".join(str(getattr(entry, column.key)) for column in AuditEntry.__table__.columns)
        assert unknown not in kept
        assert made.token not in kept

    # Without a key nothing was presented, so nothing is audited (it is counted: see below).
    assert client.get("/api/v1/referrals").status_code == 401
    assert len(refused_entries(session)) == 2


def test_a_good_key_pays_one_query_and_one_count_and_writes_no_refusal(
    client, session, engine, network, monkeypatch
):
    token = create_key(session, network.shelter.coordinator, name="Système", role="caseworker").token
    counted = []
    monkeypatch.setattr(quota, "within", lambda *args: counted.append(args[1]) or True)
    statements = []

    def seen(_connection, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)  # the test's own savepoints are no cost of the request

    event.listen(engine, "before_cursor_execute", seen)
    try:
        answer = client.get("/api/v1/protocols", headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert answer.status_code == 200
    # The key's lookup and the key's allowance: nothing for the refusals it is not.
    assert len(statements) == 1
    assert counted == ["api"]
    assert refused_entries(session) == []


def test_a_key_is_read_once_a_second_and_a_revocation_here_counts_at_once(
    client, session, engine, network, monkeypatch
):
    coordinator = network.shelter.coordinator
    made = create_key(session, coordinator, name="Système", role="caseworker")
    headers = {"Authorization": f"Bearer {made.token}"}
    reads = []

    def seen(_connection, _cursor, statement, *_args):
        if "api_keys" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert [client.get("/api/v1/protocols", headers=headers).status_code for _ in range(3)] == [200] * 3
        assert len(reads) == 1  # her system's next calls, within the second, trust what was read

        # Another web process revokes it: this one accepts it while it remembers it, then reads again.
        monkeypatch.setattr(keys, "KEY_MEMORY_SECONDS", 3600)
        session.get(ApiKey, made.key.id).revoked_at = made.key.created_at
        session.commit()
        assert client.get("/api/v1/protocols", headers=headers).status_code == 200
        monkeypatch.setattr(keys, "KEY_MEMORY_SECONDS", 0)
        assert client.get("/api/v1/protocols", headers=headers).status_code == 401

        # Revoked in this process, through the page: refused at once, however long the memory.
        monkeypatch.setattr(keys, "KEY_MEMORY_SECONDS", 3600)
        other = create_key(session, coordinator, name="Autre", role="caseworker")
        other_headers = {"Authorization": f"Bearer {other.token}"}
        assert client.get("/api/v1/protocols", headers=other_headers).status_code == 200
        revoke_key(session, coordinator, other.key.id)
        assert client.get("/api/v1/protocols", headers=other_headers).status_code == 401
    finally:
        event.remove(engine, "before_cursor_execute", seen)


@pytest.fixture
def limited(app, session, monkeypatch):
    """The app with its rate limits on and 3 failed keys a minute per address; holds forgotten after."""
    monkeypatch.setattr(api_blueprint, "_held_until", {})
    limited = create_app({**app.config, "RATELIMIT_ENABLED": True, "API_FAILED_KEY_LIMIT": "3 per minute"})
    limited.extensions["maillage.sessions"] = lambda: session
    yield limited.test_client()
    limiter.reset()


def test_guessing_keys_from_one_address_is_held_back(limited, session, network):
    token = create_key(session, network.shelter.coordinator, name="Système", role="caseworker").token
    guesser = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}:1"}
    elsewhere = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}:2"}

    def attempt(key: str | None, where: dict[str, str]) -> Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return limited.get("/api/v1/protocols", headers=headers, environ_overrides=where)

    guesses = [attempt(f"mlg_guess{n:038d}", guesser).status_code for n in range(3)]
    assert guesses == [401, 401, 401]
    refused = attempt("mlg_guess" + "9" * 38, guesser)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"].endswith("#problem-too-many-requests")
    assert int(refused.headers["Retry-After"]) > 0
    # Held back: even a right guess is not looked at now, nor a request without a key.
    assert attempt(token, guesser).status_code == 429
    assert attempt(None, guesser).status_code == 429
    # Only the guesses within the limit are in the trail: a flood writes no more than the limit.
    assert len(refused_entries(session)) == 3
    # Another address is not held back by these guesses, and a good key still works there.
    assert attempt(token, elsewhere).status_code == 200
    assert attempt("mlg_other", elsewhere).status_code == 401


def test_missing_keys_count_and_good_ones_do_not(limited, session, network):
    token = create_key(session, network.shelter.coordinator, name="Système", role="caseworker").token
    where = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}:3"}
    good = {"Authorization": f"Bearer {token}"}
    answers = [limited.get("/api/v1/protocols", headers=good, environ_overrides=where) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    answers = [limited.get("/api/v1/protocols", environ_overrides=where).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]

"""Stories of API keys: a coordinator makes one on its page, sees it once, and revokes it;
nothing but its hash is kept, and both acts are in the audit trail."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from service.api.keys import create_key
from service.api.keys import revoke_key
from service.api.models import ApiKey
from service.audit.models import AuditEntry
from service.errors import NotAllowed
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

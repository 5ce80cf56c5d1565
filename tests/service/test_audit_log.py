"""The audit log as a coordinator reads it: her organization's entries only, newest first, by
action, a page at a time, and nothing in the app to change them; and what gets audited."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from service.accounts.models import Role
from service.api.keys import create_key
from service.api.keys import revoke_key
from service.audit.models import AuditEntry
from service.audit.operations import audit
from service.audit.queries import PER_PAGE
from service.audit.queries import organization_audit
from service.audit.views import ACTIONS
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in


def entries(session, organization_id: int, action: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.organization_id == organization_id, AuditEntry.action == action
    )
    return list(session.scalars(query))


def test_her_organizations_entries_newest_first_and_by_action(session, network, clock):
    centre, shelter = network.womens_centre, network.shelter
    for minutes in range(3):
        audit(session, "person.read", centre.caseworker, clock.now + timedelta(minutes=minutes))
    audit(session, "person.exported", centre.coordinator, clock.now + timedelta(minutes=10))
    audit(session, "person.read", shelter.caseworker, clock.now + timedelta(minutes=20))
    session.commit()

    page = organization_audit(session, centre.organization.id)
    assert [(line.action, line.at) for line in page.lines] == [
        ("person.exported", clock.now + timedelta(minutes=10)),
        ("person.read", clock.now + timedelta(minutes=2)),
        ("person.read", clock.now + timedelta(minutes=1)),
        ("person.read", clock.now),
    ]
    only = organization_audit(session, centre.organization.id, action="person.exported")
    assert [line.user_name for line in only.lines] == [f"coordinator {centre.organization.name}"]


def test_the_log_comes_a_page_at_a_time(session, network, clock):
    for minutes in range(PER_PAGE + 5):
        audit(
            session, "person.read", network.womens_centre.caseworker, clock.now + timedelta(minutes=minutes)
        )
    session.commit()
    first = organization_audit(session, network.womens_centre.organization.id)
    second = organization_audit(session, network.womens_centre.organization.id, page=2)
    assert (len(first.lines), len(second.lines), first.pages, first.total) == (PER_PAGE, 5, 2, PER_PAGE + 5)
    assert second.lines[-1].at == clock.now
    assert organization_audit(session, network.womens_centre.organization.id, page=99).page == 2


def test_the_audit_page_for_each_role(app, session, network, clock):
    audit(session, "person.exported", network.womens_centre.coordinator, clock.now)
    audit(session, "person.exported", network.shelter.coordinator, clock.now)
    session.commit()
    officer = make_user(session, network.womens_centre.organization.id, Role.PRIVACY_OFFICER, clock)
    for actor in (network.womens_centre.coordinator, officer):
        page = signed_in(app, actor, session).get("/audit?action=person.exported")
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert f"coordinator {network.womens_centre.organization.name}" in page.text
        # Never another organization's entries.
        assert f"coordinator {network.shelter.organization.name}" not in page.text
        # The filter offers every action the app audits, those not met yet too.
        assert all(f'<option value="{code}"' in page.text for code in ACTIONS)
        assert '<option value="person.exported" selected>' in page.text
    # Reading the log is in the log.
    assert entries(session, network.womens_centre.organization.id, "audit.read")
    for actor in (network.womens_centre.caseworker, make_user(session, None, Role.REGIONAL_ADMIN, clock)):
        assert signed_in(app, actor, session).get("/audit").status_code == 403


def test_nothing_in_the_app_changes_the_audit_log(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit.") or "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule
    client = app.test_client()
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/audit").status_code == 405


# What is audited --------------------------------------------------------------------------


def test_a_refused_page_is_audited(app, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    caseworker = signed_in(app, network.womens_centre.caseworker, session)
    assert caseworker.get("/referrals/emergency").status_code == 403
    bystander = signed_in(app, network.legal_aid.caseworker, session)
    assert bystander.get(f"/referrals/{referral.id}").status_code == 404
    receiver = signed_in(app, network.shelter.caseworker, session)
    assert receiver.get(f"/referrals/{referral.id}/consent").status_code == 403

    [mine] = entries(session, network.womens_centre.organization.id, "access.refused")
    assert (mine.user_id, mine.referral_id) == (network.womens_centre.caseworker.user_id, None)
    # A 404 hides whether the referral exists: the entry does not name it.
    [hidden] = entries(session, network.legal_aid.organization.id, "access.refused")
    assert hidden.referral_id is None
    # A 403 on a referral her organization sees names it.
    [named] = entries(session, network.shelter.organization.id, "access.refused")
    assert named.referral_id == referral.id


def test_every_showing_of_a_referral_page_is_a_read_of_her_data(app, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    client = signed_in(app, network.shelter.caseworker, session)
    for _ in range(2):
        assert client.get(f"/referrals/{referral.id}").status_code == 200
    reads = [
        e
        for e in entries(session, network.shelter.organization.id, "person.read")
        if e.referral_id == referral.id
    ]
    assert len(reads) == 2


def test_sign_ins_are_audited(app, session, network):
    signed_in(app, network.womens_centre.caseworker, session)
    assert entries(session, network.womens_centre.organization.id, "sign_in.succeeded")
    app.test_client().post("/sign-in", data={"email": "nobody@example.org", "password": "wrong password!"})
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "sign_in.failed")).all()


def test_every_action_the_code_audits_has_words_on_the_page():
    # The audit calls name their action as a literal: find them all in the code.
    root = Path(__file__).resolve().parents[2] / "service"
    called = set()
    for path in root.rglob("*.py"):
        called |= set(re.findall(r"audit\(\s*(?:session,\s*)?\"([a-z_]+\.[a-z_]+)\"", path.read_text()))
    assert len(called) > 20, "the search found the audit calls"
    assert sorted(called - set(ACTIONS)) == []


def rows_read_by(app, actor, session, action: str) -> list[str]:
    """The rows of the audit page `actor` reads, kept to `action`."""
    page = signed_in(app, actor, session).get(f"/audit?action={action}")
    assert page.status_code == 200
    body = page.text.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page.text else ""
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def test_a_refused_api_key_is_read_by_its_organizations_coordinator_only(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    legal_aid = network.legal_aid
    made = create_key(session, legal_aid.coordinator, name="Système de dossiers", role="caseworker")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {made.token}"}
    assert api.get(f"/api/v1/referrals/{referral.id}", headers=headers).status_code == 404
    revoke_key(session, legal_aid.coordinator, made.key.id)
    assert api.get("/api/v1/referrals", headers=headers).status_code == 401
    refused = entries(session, legal_aid.organization.id, "access.refused")
    # Both name the key: the one its system was refused with, and once revoked, the one it still uses.
    assert [(entry.api_key_id, entry.user_id) for entry in refused] == [(made.key.id, None)] * 2

    rows = rows_read_by(app, legal_aid.coordinator, session, "access.refused")
    assert len(rows) == 2
    assert all("Access refused" in row for row in rows)
    assert all(f"API key “Système de dossiers” ({made.key.prefix})" in row for row in rows)
    assert made.token not in " ".join(rows)
    # Another organization's coordinator never reads them.
    assert rows_read_by(app, network.shelter.coordinator, session, "access.refused") == []


def test_her_organizations_coordinator_reads_which_key_read_her_details(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    centre = network.womens_centre
    made = create_key(session, centre.coordinator, name="Dossiers <Ouest>", role="caseworker")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {made.token}"}
    # Twice: the second time the key is remembered (`KEY_MEMORY_SECONDS`), not read again.
    for _ in range(2):
        assert api.get(f"/api/v1/referrals/{referral.id}/person", headers=headers).status_code == 200
    reads = entries(session, centre.organization.id, "person.read")
    assert [(entry.api_key_id, entry.user_id) for entry in reads] == [(made.key.id, None)] * 2

    rows = rows_read_by(app, centre.coordinator, session, "person.read")
    assert len(rows) == 2
    # Its name as she gave it (a name is text, never markup), and the start of its token only.
    assert all(f"API key “Dossiers &lt;Ouest&gt;” ({made.key.prefix})" in row for row in rows)
    assert made.token not in " ".join(rows)
    # The shelter, which received the referral, reads nothing of the centre's key.
    shelter_page = signed_in(app, network.shelter.coordinator, session).get("/audit").text
    assert made.key.prefix not in shelter_page
    assert "Dossiers" not in shelter_page

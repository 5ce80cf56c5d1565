"""The confidentiality incident register (Law 25): the privacy officer keeps it, her
coordinators read it, nobody else sees it; it is exported as a spreadsheet and never deleted."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import asdict
from dataclasses import fields
from dataclasses import replace
from datetime import date

import pytest
from flask_babel import force_locale
from flask_babel import gettext
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.privacy.errors import IncidentNotFound
from service.privacy.errors import IncidentRefused
from service.privacy.errors import PrivacyNotAllowed
from service.privacy.export import COLUMNS
from service.privacy.models import ConfidentialityIncident
from service.privacy.operations import IncidentDetails
from service.privacy.operations import export_register
from service.privacy.operations import record_incident
from service.privacy.operations import update_incident
from service.privacy.queries import incident_of
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user

# Friday 27 November 2026 in Montréal, the tests' clock.
TODAY = date(2026, 11, 27)

LOST_PHONE = IncidentDetails(
    description="Fictive: a work phone with the referral list was lost on the bus.",
    occurred_on=date(2026, 11, 20),
    learned_on=date(2026, 11, 21),
    people_affected=12,
    information_kinds="Names and phone numbers of women referred",
    serious_injury_risk=True,
    risk_assessment="Addresses of women fleeing violence could reach an aggressor.",
    measures="Phone wiped remotely; passwords changed.",
    commission_notified_on=date(2026, 11, 23),
    people_not_notified_reason="Some women cannot be reached safely; notices in progress.",
)

FORM = {
    "description": "Fictive: an email sent to the wrong partner.",
    "information_kinds": "First name and needs of one woman",
    "occurred_on": "2026-11-24",
    "occurred_until": "",
    "learned_on": "2026-11-25",
    "people_affected": "1",
    "serious_injury_risk": "no",
    "risk_assessment": "The partner deleted it at once and confirmed in writing.",
    "commission_notified_on": "",
    "commission_not_notified_reason": "",
    "people_notified_on": "",
    "people_not_notified_reason": "",
    "measures": "Address book corrected.",
}


@pytest.fixture
def officer(session, network, clock):
    """The shelter's privacy officer."""
    return make_user(session, Role.PRIVACY_OFFICER, network.shelter.organization, clock)


@pytest.fixture
def other_officer(session, network, clock):
    """The privacy officer of legal aid, another organization."""
    return make_user(session, Role.PRIVACY_OFFICER, network.legal_aid.organization, clock)


@pytest.fixture
def web(app, clock):
    return app


def browser(web, session, actor):
    return sign_in(web.test_client(), actor, session)


def audited(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# Operations ----------------------------------------------------------------------


def test_the_privacy_officer_records_and_updates_an_incident_each_audited(session, network, officer, clock):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    assert incident.organization_id == network.shelter.organization.id
    assert (incident.people_affected, incident.recorded_by_id) == (12, officer.user_id)

    clock.advance(days=3)
    update_incident(
        session,
        officer,
        incident.id,
        replace(LOST_PHONE, people_notified_on=date(2026, 11, 29), measures="Wiped; 12 women told."),
        clock=clock,
    )
    session.expire_all()
    updated = session.get(ConfidentialityIncident, incident.id)
    assert updated.people_notified_on == date(2026, 11, 29)
    assert updated.people_not_notified_reason == ""  # a notice sent needs no reason for not sending it
    assert (updated.updated_by_id, updated.updated_at) == (officer.user_id, clock.now)
    for action in ("incident.recorded", "incident.updated"):
        [entry] = audited(session, action)
        assert (entry.user_id, entry.organization_id) == (officer.user_id, network.shelter.organization.id)


@pytest.mark.parametrize(
    "role", [Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT, Role.REGIONAL_ADMIN]
)
def test_only_a_privacy_officer_records_incidents(session, network, clock, role):
    actor = make_user(
        session, role, None if role == Role.REGIONAL_ADMIN else network.shelter.organization, clock
    )
    with pytest.raises(PrivacyNotAllowed):
        record_incident(session, actor, LOST_PHONE, clock=clock)
    assert session.scalar(select(func.count()).select_from(ConfidentialityIncident)) == 0


def test_another_organizations_officer_cannot_find_nor_change_an_incident(
    session, officer, other_officer, clock
):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    with pytest.raises(IncidentNotFound):
        update_incident(session, other_officer, incident.id, replace(LOST_PHONE, measures="x"), clock=clock)
    with pytest.raises(IncidentNotFound):
        incident_of(session, other_officer.organization_id, incident.id)
    assert export_register(session, other_officer, clock=clock) == []
    session.expire_all()
    assert session.get(ConfidentialityIncident, incident.id).measures == LOST_PHONE.measures


@pytest.mark.parametrize(
    ("change", "rule", "field"),
    [
        ({"occurred_on": date(2026, 11, 28)}, "in_the_future", "occurred_on"),
        ({"occurred_until": date(2026, 11, 19)}, "ends_before_start", "occurred_until"),
        ({"learned_on": date(2026, 11, 19)}, "learned_before_start", "learned_on"),
        ({"commission_notified_on": date(2026, 11, 1)}, "notice_before_start", "commission_notified_on"),
        ({"commission_notified_on": None}, "commission_notice_missing", "commission_notified_on"),
        ({"people_not_notified_reason": "  "}, "people_notice_missing", "people_notified_on"),
    ],
)
def test_details_that_cannot_be_true_are_refused(session, officer, clock, change, rule, field):
    with pytest.raises(IncidentRefused) as refused:
        record_incident(session, officer, replace(LOST_PHONE, **change), clock=clock)
    assert (refused.value.rule, refused.value.field) == (rule, field)
    assert session.scalar(select(func.count()).select_from(ConfidentialityIncident)) == 0


def test_without_a_serious_risk_no_notice_is_required(session, officer, clock):
    details = replace(
        LOST_PHONE, serious_injury_risk=False, commission_notified_on=None, people_not_notified_reason=""
    )
    assert record_incident(session, officer, details, clock=clock).id is not None


# Pages ----------------------------------------------------------------------------


def test_the_officer_records_an_incident_from_the_page_and_reads_it(web, session, network, officer):
    client = browser(web, session, officer)
    assert client.get("/privacy/incidents/new").status_code == 200
    response = client.post("/privacy/incidents/new", data=FORM)
    assert response.status_code == 303, response.text
    incident = session.scalars(select(ConfidentialityIncident)).one()
    assert response.headers["Location"] == f"/privacy/incidents/{incident.id}"
    assert (incident.learned_on, incident.serious_injury_risk) == (date(2026, 11, 25), False)
    page = client.get(f"/privacy/incidents/{incident.id}")
    assert page.status_code == 200
    assert "Address book corrected." in page.text
    assert page.headers["Cache-Control"] == "no-store"
    register = client.get("/privacy/incidents/")
    assert f"/privacy/incidents/{incident.id}" in register.text
    assert "/privacy/incidents/new" in register.text


def test_a_wrong_form_says_what_to_fix_and_saves_nothing(web, session, officer):
    client = browser(web, session, officer)
    wrong = {**FORM, "learned_on": "2026-11-01", "people_affected": "-3", "measures": ""}
    response = client.post("/privacy/incidents/new", data=wrong)
    assert response.status_code == 200
    assert 'class="error-summary"' in response.text
    serious = {**FORM, "serious_injury_risk": "yes"}
    response = client.post("/privacy/incidents/new", data=serious)
    assert response.status_code == 200
    assert 'id="commission_notified_on-error-1"' in response.text
    assert session.scalar(select(func.count()).select_from(ConfidentialityIncident)) == 0


def test_the_officer_updates_an_incident_from_its_page(web, session, officer, clock):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    client = browser(web, session, officer)
    form = client.get(f"/privacy/incidents/{incident.id}/edit")
    assert LOST_PHONE.risk_assessment in form.text
    data = {
        **FORM,
        "serious_injury_risk": "yes",
        "commission_notified_on": "2026-11-26",
        "people_notified_on": "2026-11-26",
    }
    response = client.post(f"/privacy/incidents/{incident.id}/edit", data=data)
    assert response.status_code == 303, response.text
    session.expire_all()
    updated = session.get(ConfidentialityIncident, incident.id)
    assert (updated.description, updated.people_notified_on) == (FORM["description"], date(2026, 11, 26))
    assert len(audited(session, "incident.updated")) == 1


def test_the_update_form_holds_every_detail_and_saves_them_back_unchanged(web, session, officer, clock):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    client = browser(web, session, officer)
    page = client.get(f"/privacy/incidents/{incident.id}/edit").text
    for item in fields(IncidentDetails):
        value = getattr(LOST_PHONE, item.name)
        if isinstance(value, date | int | str) and not isinstance(value, bool) and value != "":
            assert html.escape(str(value)) in page, item.name
    assert re.search(r'<input checked[^>]*value="yes"', page)
    # Sent back as shown, nothing changes.
    shown = {
        item.name: "" if getattr(LOST_PHONE, item.name) is None else str(getattr(LOST_PHONE, item.name))
        for item in fields(IncidentDetails)
    }
    response = client.post(
        f"/privacy/incidents/{incident.id}/edit", data={**shown, "serious_injury_risk": "yes"}
    )
    assert response.status_code == 303, response.text
    session.expire_all()
    saved = session.get(ConfidentialityIncident, incident.id)
    assert {item.name: getattr(saved, item.name) for item in fields(IncidentDetails)} == asdict(LOST_PHONE)


def test_a_refusal_by_the_operation_is_a_403_page(web, session, officer, monkeypatch):
    """Her role changed between the page's check and the operation's: refused, as any 403."""
    client = browser(web, session, officer)

    def refuse(*_args, **_kwargs):
        raise PrivacyNotAllowed("record_incident")

    monkeypatch.setattr("service.privacy.operations.record_incident", refuse)
    response = client.post("/privacy/incidents/new", data=FORM)
    assert response.status_code == 403
    assert audited(session, "access.refused")


def test_who_reaches_the_register_pages(web, session, network, officer, other_officer, clock):
    """The officer keeps it; her coordinators read it; her caseworkers, partner contacts, the
    region get a 403; another organization's officer and coordinator find nothing (404)."""
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    shelter = network.shelter.organization
    visitors = {
        "officer": officer,
        "coordinator": network.shelter.coordinator,
        "caseworker": network.shelter.caseworker,
        "partner contact": make_user(session, Role.PARTNER_CONTACT, shelter, clock),
        "region": make_user(session, Role.REGIONAL_ADMIN, None, clock),
        "other officer": other_officer,
        "other coordinator": network.legal_aid.coordinator,
    }
    pages = {
        "register": ("get", "/privacy/incidents/"),
        "show": ("get", f"/privacy/incidents/{incident.id}"),
        "new": ("get", "/privacy/incidents/new"),
        "new (post)": ("post", "/privacy/incidents/new"),
        "edit": ("get", f"/privacy/incidents/{incident.id}/edit"),
        "edit (post)": ("post", f"/privacy/incidents/{incident.id}/edit"),
        "export": ("get", "/privacy/incidents/register.csv"),
    }
    answers = {}
    for who, actor in visitors.items():
        client = browser(web, session, actor)
        for page, (method, path) in pages.items():
            data = {**FORM, "measures": f"changed by {who}"} if method == "post" else None
            answers[who, page] = getattr(client, method)(path, data=data).status_code
    reader = {
        "register": 200,
        "show": 200,
        "new": 403,
        "new (post)": 403,
        "edit": 403,
        "edit (post)": 403,
        "export": 200,
    }
    outsider = dict.fromkeys(pages, 403)
    elsewhere = {**reader, "show": 404, "edit": 404, "edit (post)": 404}
    wanted = {
        "officer": {**reader, "new": 200, "new (post)": 303, "edit": 200, "edit (post)": 303},
        "coordinator": reader,
        "caseworker": outsider,
        "partner contact": outsider,
        "region": outsider,
        "other officer": {**elsewhere, "new": 200, "new (post)": 303},
        # She may edit nowhere: refused before anything is looked up.
        "other coordinator": {**reader, "show": 404},
    }
    assert answers == {(who, page): wanted[who][page] for who in visitors for page in pages}
    session.expire_all()
    assert session.get(ConfidentialityIncident, incident.id).measures == "changed by officer"
    # The other officer's incident went to her own organization's register.
    mine = session.scalars(select(ConfidentialityIncident.organization_id)).all()
    assert sorted(mine) == sorted([shelter.id, shelter.id, network.legal_aid.organization.id])


def test_strangers_are_asked_to_sign_in(client, session, officer, clock):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    for path in (
        "/privacy/incidents/",
        f"/privacy/incidents/{incident.id}",
        "/privacy/incidents/register.csv",
        "/privacy/incidents/new",
        "/privacy/retention",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/sign-in"), path


def test_there_is_no_way_to_delete_an_incident(web):
    """Kept at least five years: no route deletes, and no route but the form writes."""
    for rule in web.url_map.iter_rules():
        if rule.endpoint.startswith("privacy."):
            assert "DELETE" not in rule.methods, rule
            assert "delete" not in rule.rule, rule
            assert "remove" not in rule.rule, rule


# The CSV file ----------------------------------------------------------------------


def rows_of(response, delimiter: str) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


def test_the_register_exports_in_french_with_every_field_and_is_audited(
    web, session, network, officer, other_officer, clock
):
    incident = record_incident(session, officer, LOST_PHONE, clock=clock)
    record_incident(
        session, other_officer, replace(LOST_PHONE, description="Fictive: elsewhere"), clock=clock
    )
    client = browser(web, session, network.shelter.coordinator)
    response = client.get("/privacy/incidents/register.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert 'filename="registre-incidents-2026-11-27.csv"' in response.headers["Content-Disposition"]
    header, *rows = rows_of(response, ";")
    # The headers are the French catalog's (checked for completeness by test_translations).
    with web.test_request_context(), force_locale("fr"):
        assert header == [str(label) for label, _value in COLUMNS]
        yes = gettext("Yes")
    assert len(rows) == 1  # the shelter's incident, not legal aid's
    assert rows[0] == [
        str(incident.id),
        LOST_PHONE.description,
        "2026-11-20",
        "",
        "2026-11-21",
        "12",
        LOST_PHONE.information_kinds,
        yes,
        LOST_PHONE.risk_assessment,
        "2026-11-23",
        "",
        "",
        LOST_PHONE.people_not_notified_reason,
        LOST_PHONE.measures,
        "2026-11-27 10:00",  # Montréal time
        "",
    ]
    [entry] = audited(session, "incident.exported")
    assert (entry.user_id, entry.organization_id) == (
        network.shelter.coordinator.user_id,
        network.shelter.organization.id,
    )


def test_the_register_exports_in_english_and_a_formula_stays_text(web, session, officer, clock):
    record_incident(session, officer, replace(LOST_PHONE, measures='=HYPERLINK("http://evil")'), clock=clock)
    client = browser(web, session, officer)
    response = client.get("/privacy/incidents/register.csv?lang=en")
    assert 'filename="incident-register-2026-11-27.csv"' in response.headers["Content-Disposition"]
    header, row = rows_of(response, ",")
    values = dict(zip(header, row, strict=True))
    assert header[:2] == ["Number", "What happened"]
    assert values["Risk of serious injury"] == "Yes"
    assert values["Measures taken"] == '\'=HYPERLINK("http://evil")'


def test_the_export_asks_for_the_password_again_after_a_while(web, session, officer, clock):
    client = browser(web, session, officer)
    clock.advance(minutes=20)
    response = client.get("/privacy/incidents/register.csv")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm")
    assert audited(session, "incident.exported") == []

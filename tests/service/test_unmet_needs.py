"""Needs nobody answers: a caseworker records one at intake, nothing about her is kept and nothing
is sent; the unmet-needs report counts them beside declined and redirected referrals; the overlap
report reads the directory for needs covered several times, or not at all."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.notifications.models import OutboxMessage
from service.reports.overlaps import coverage
from service.unmet_needs.models import UnmetNeed
from service.unmet_needs.models import unmet_need_needs
from service.unmet_needs.operations import UnmetNeedRefused
from service.unmet_needs.operations import record_unmet_need
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user
from tests.service.test_reports import story  # noqa: F401 - the fixed network of the figures
from tests.service.test_reports_pages import cells

NOVEMBER = "period=month&on=2026-11-27"
HER = {
    "name": "Canari Tremblay",
    "phone": "514-555-0199",
    "email": "canari@example.org",
    "notes": "Elle ne peut être appelée qu'après 15 h",
}


@pytest.fixture
def places(session, network):
    """The directory states a territory and a clientele for two organizations."""
    network.shelter.organization.territory = "Laval"
    network.shelter.organization.clienteles = "Femmes victimes de violence conjugale et leurs enfants."
    network.legal_aid.organization.territory = "Laval-Est"
    session.commit()


def record(session, actor, clock, needs, territory="Laval", clientele=""):
    return record_unmet_need(session, actor, needs, territory=territory, clientele=clientele, clock=clock)


def test_a_caseworker_records_an_unmet_need_and_nothing_about_her_is_kept(app, session, network, places):
    browser = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    # From the intake form, the needs ticked so far come along in the address: codes only.
    step_one = {"needs": ["shelter_emergency"], "urgency": "standard", "action": "suggest"}
    intake = browser.post("/referrals/new", data=step_one).text
    link = re.search(r'href="(/unmet-needs/new\?[^"]+)"', intake).group(1)
    assert link == "/unmet-needs/new?need=shelter_emergency"
    form = browser.get(link).text
    assert re.search(r'value="shelter_emergency"[^>]*checked|checked[^>]*value="shelter_emergency"', form)
    assert '<option value="Laval">Laval</option>' in form
    outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    # Her details sent along with the form (a careless browser, a crafted request) are not taken.
    response = browser.post(
        "/unmet-needs/new",
        data={
            "needs": ["shelter_emergency", "safety_plan"],
            "territory": "Laval",
            "clientele": "Femmes victimes de violence conjugale et leurs enfants.",
            **HER,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/")
    unmet = session.scalars(select(UnmetNeed)).one()
    assert {c.key for c in inspect(UnmetNeed).columns} == {
        "id",
        "organization_id",
        "recorded_at",
        "territory",
        "clientele",
    }
    assert unmet.organization_id == network.womens_centre.organization.id
    assert unmet.territory == "Laval"
    kept = session.execute(select(unmet_need_needs.c.need_code)).scalars().all()
    assert sorted(kept) == ["safety_plan", "shelter_emergency"]
    stored = repr([unmet.territory, unmet.clientele, kept])
    assert not any(value in stored for value in HER.values())
    # Audited for her organization, and sent to no one.
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "unmet_need.recorded")).one()
    assert entry.organization_id == network.womens_centre.organization.id
    assert entry.referral_id is None
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


def test_words_of_her_own_are_refused_where_the_directory_gives_choices(app, session, network, places):
    browser = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    response = browser.post(
        "/unmet-needs/new", data={"needs": ["shelter_emergency"], "territory": "Chez Canari Tremblay"}
    )
    assert response.status_code == 400
    assert "Canari" not in response.text.split("<form", 1)[0]
    nothing = browser.post("/unmet-needs/new", data={"territory": "Laval"})
    assert nothing.status_code == 400
    assert "Cochez au moins un besoin." in nothing.text
    assert session.scalar(select(func.count()).select_from(UnmetNeed)) == 0


def test_only_people_who_refer_record_unmet_needs(app, session, network, clock):
    partner = make_user(session, Role.PARTNER_CONTACT, network.shelter.organization, clock)
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    for actor in (partner, admin):
        browser = sign_in(app.test_client(), actor, session)
        assert browser.get("/unmet-needs/new").status_code == 403
        assert browser.post("/unmet-needs/new", data={"needs": ["safety_plan"]}).status_code == 403
        with pytest.raises(UnmetNeedRefused):
            record(session, actor, clock, ["safety_plan"])
    with pytest.raises(UnmetNeedRefused):
        record(session, network.womens_centre.caseworker, clock, ["no_such_need"])
    assert session.scalar(select(func.count()).select_from(UnmetNeed)) == 0


def test_the_report_counts_them_beside_declined_and_redirected_referrals(app, session, network, clock, story):  # noqa: F811
    clock.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # the story's month, whatever it moved the clock to
    for _ in range(6):
        record(session, network.womens_centre.caseworker, clock, ["shelter_emergency"])
    record(session, network.shelter.caseworker, clock, ["safety_plan"], territory="Laval-Est")
    clock.advance(days=40)  # December: another period
    record(session, network.shelter.caseworker, clock, ["safety_plan"])
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    browser = sign_in(app.test_client(), admin, session)
    page = browser.get(f"/reports/unmet-needs?{NOVEMBER}&lang=en").text
    rows = cells(page, "Unmet needs by need and reason")
    # The records of November, beside the story's declined and redirected referrals. The single
    # record for safety planning is a small cell; the six for emergency shelter are hidden too, or
    # the column's total (7) would give the single one back. December's record counts nowhere here.
    assert rows == [
        ["Need", "No capacity", "Outside our mandate", "No resource found", "Total"],
        ["Emergency shelter", "&lt; 5", "&lt; 5", "x", "x"],
        ["Safety planning", "0", "&lt; 5", "&lt; 5", "&lt; 5"],
        ["Total", "&lt; 5", "&lt; 5", "7", "11"],
    ]
    assert cells(page, "Needs with no resource found, by territory and clientele") == [
        ["Territory · clientele", "Records"],
        ["Laval · Clientele not in the directory", "x"],
        ["Laval-Est · Clientele not in the directory", "&lt; 5"],
        ["Total", "7"],
    ]
    # Only the records: the referrals' columns go.
    records = browser.get(f"/reports/unmet-needs?{NOVEMBER}&decision=no_resource&lang=en").text
    assert cells(records, "Unmet needs by need and reason")[0] == ["Need", "No resource found", "Total"]
    # The CSV file says what the page says.
    download = browser.get(f"/reports/unmet-needs.csv?{NOVEMBER}&table=needs&lang=en")
    lines = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert [[cell.replace("<", "&lt;") for cell in line] for line in lines] == rows


def test_needs_recorded_enough_times_show_whole(app, session, network, clock):
    for _ in range(6):
        record(session, network.womens_centre.caseworker, clock, ["shelter_emergency"])
    for _ in range(5):
        record(session, network.shelter.caseworker, clock, ["safety_plan"])
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    page = sign_in(app.test_client(), admin, session).get(f"/reports/unmet-needs?{NOVEMBER}&lang=fr").text
    assert cells(page, "Besoins non comblés par besoin et par motif") == [
        ["Besoin", "Aucune ressource trouvée", "Total"],
        ["Hébergement d&#39;urgence (maison d&#39;hébergement)", "6", "6"],
        ["Scénario de protection", "5", "5"],
        ["Total", "11", "11"],
    ]


def test_the_reports_readers_alone_read_them(app, session, network, clock):
    record(session, network.womens_centre.caseworker, clock, ["shelter_emergency"])
    caseworker = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    assert caseworker.get("/reports/unmet-needs").status_code == 403
    assert caseworker.get("/reports/overlaps").status_code == 403
    assert caseworker.get("/reports/overlaps.csv?table=uncovered").status_code == 403
    # Another organization's coordinator reads the region's counts, small cells hidden, never who recorded.
    other = sign_in(app.test_client(), network.legal_aid.coordinator, session)
    page = other.get(f"/reports/unmet-needs?{NOVEMBER}&lang=en").text
    assert cells(page, "Unmet needs by need and reason")[1] == ["Emergency shelter", "&lt; 5", "&lt; 5"]
    assert "Centre de femmes Fictif des Rivières" not in page


@pytest.fixture
def directory(session, network, clock):
    """Three organizations; two give emergency shelter to the same women in Laval (words differ in case)."""
    shelter, centre = network.shelter.organization, network.womens_centre.organization
    legal = network.legal_aid.organization
    shelter.territory, shelter.clienteles = "Laval", "Femmes victimes de violence conjugale."
    centre.territory, centre.clienteles = "laval", "femmes victimes de violence conjugale"
    legal.territory, legal.clienteles = "Laval", "Toutes les femmes"
    needs = {n.code: n for n in session.scalars(select(Need))}
    offer = [
        (shelter, "Hébergement d'urgence", ["shelter_emergency", "safety_plan"]),
        (centre, "Dépannage hébergement", ["shelter_emergency"]),
        (legal, "Conseils juridiques", ["safety_plan"]),
    ]
    for organization, name, codes in offer:
        session.add(Service(organization_id=organization.id, name=name, needs=[needs[c] for c in codes]))
    session.commit()
    return needs


def test_the_overlap_report_finds_needs_covered_twice_and_needs_covered_by_none(
    app, session, network, clock, directory
):
    coordinator = sign_in(app.test_client(), network.shelter.coordinator, session)
    page = coordinator.get("/reports/overlaps?lang=en")
    assert page.status_code == 200
    rows = cells(page.text, "Needs covered more than once")
    # Emergency shelter: twice for the same women in Laval. Safety planning: two services, but
    # for different clienteles, so no overlap.
    assert rows[1:] == [
        [
            "Emergency shelter",
            "Laval",
            "Femmes victimes de violence conjugale.",
            "2",
            "Centre de femmes Fictif des Rivières: Dépannage hébergement; "
            "Maison Fictive du Phare: Hébergement d&#39;urgence",
        ]
    ]
    uncovered = [row[0] for row in cells(page.text, "Needs covered by no service")[1:]]
    covered = {"shelter_emergency", "safety_plan"}
    expected = {n.label_en for code, n in directory.items() if n.active and code not in covered}
    assert set(uncovered) == {label.replace("'", "&#39;") for label in expected}
    assert "Emergency shelter" not in uncovered
    # As a CSV file, in the reader's language; the regional admin reads it too.
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    download = sign_in(app.test_client(), admin, session).get("/reports/overlaps.csv?table=overlaps&lang=fr")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff")), delimiter=";"))
    assert lines[0][0] == "Besoin"
    assert lines[1][3] == "2"
    assert coordinator.get("/reports/overlaps.csv?table=nothing").status_code == 404


def test_the_overlap_report_follows_the_directory(session, network, directory):
    assert [o.need_code for o in coverage(session).overlaps] == ["shelter_emergency"]
    network.womens_centre.organization.territory = "Laval-Est"
    session.commit()
    assert coverage(session).overlaps == []
    assert session.scalar(select(func.count()).select_from(Organization)) == 3

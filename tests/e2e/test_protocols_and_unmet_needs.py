"""Protocol pages and unmet needs in the browser, in French, with axe checking each page.

A caseworker finds no organization for her needs at intake and records an unmet need from the
form; a coordinator reads every protocol, its agreement with a partner (the agreed deadlines in the
diagram), and the unmet-needs and overlap reports.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from playwright.sync_api import Page
from playwright.sync_api import expect

from service.directory.models import ReferralAgreement
from service.protocols import protocol_library
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit

FR = WORDS["fr"]
RECORD = "Signaler le besoin non comblé"


def test_a_caseworker_records_a_need_no_organization_fits(live, page: Page):
    audit = Audit()
    sign_in_as(page, live, live.network.womens_centre.caseworker, "fr")
    page.goto(f"{live.url}/referrals/new")
    field(page, FR["need_shelter"]).check()
    page.get_by_role("button", name=FR["continue"]).click()
    page.get_by_role("link", name="Signaler un besoin non comblé (aucune ressource trouvée)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aucune ressource trouvée")
    expect(field(page, FR["need_shelter"])).to_be_checked()
    audit(page, "unmet need")
    field(page, FR["need_shelter"]).uncheck()
    page.get_by_role("button", name=RECORD).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "unmet need, no need ticked")
    field(page, FR["need_shelter"]).check()
    page.get_by_role("button", name=RECORD).click()
    expect(page.get_by_role("status").first).to_contain_text("Rien n’a été envoyé à personne")  # noqa: RUF001
    audit.assert_clean()


def test_a_coordinator_reads_the_protocols_an_agreement_and_the_reports(live, page: Page):
    with live.session() as session:
        agreement = ReferralAgreement(
            partnership_id=live.partnership_id,
            version=1,
            protocol_name="standard",
            parameters={"receipt_deadline": "3 business days"},
            effective_on=date(2026, 1, 1),
            proposed_by_organization_id=live.network.womens_centre.organization.id,
            proposed_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        )
        session.add(agreement)
        session.commit()
    audit = Audit()
    sign_in_as(page, live, live.network.shelter.coordinator, "fr")
    page.goto(f"{live.url}/protocols")
    audit(page, "protocols")
    for protocol in protocol_library():
        page.goto(f"{live.url}/protocols/{protocol.name}/v{protocol.version}")
        expect(page.get_by_role("img", name=protocol.spec.title.fr)).to_be_visible()
        audit(page, f"protocol {protocol.name} v{protocol.version}")

    page.goto(f"{live.url}/directory/partnerships/{live.partnership_id}")
    page.get_by_role("link", name="Le protocole avec les délais de la version 1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Entente, version 1")
    expect(page.get_by_text("Rappel après 3 jours ouvrables, à l’organisme receveur")).to_be_visible()  # noqa: RUF001
    audit(page, "agreement")

    page.goto(f"{live.url}/reports/unmet-needs")
    audit(page, "unmet needs report")
    page.get_by_role("link", name="Chevauchements et besoins non couverts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chevauchements et besoins non couverts")
    audit(page, "overlaps report")
    audit.assert_clean()

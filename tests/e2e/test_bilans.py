"""A partnership's bilan in a real browser: from the partnership's page the women's centre's caseworker
opens « Bilan du partenariat », reads this period's referrals both ways and its traces, downloads the
CSV file, and prints: the printout (print media emulated) has the figures, never the menus, the period
chooser or the buttons."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import expect

from service.directory.operations import add_partnership_note
from service.protocols import protocol_library
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from tests.e2e.browser import WORDS
from tests.e2e.browser import her
from tests.e2e.browser import sign_in
from tests.e2e.test_accessibility import Audit
from tests.e2e.test_paper import screen_only_parts_are_hidden

FR = WORDS["fr"]
WOMAN = her("7791", "fr")


def test_the_caseworker_reads_downloads_and_prints_the_bilan_from_the_partnership_page(
    live, page: Page, screenshot
):
    audit = Audit()
    centre, shelter = live.network.womens_centre, live.network.shelter
    live.set_language(centre.caseworker, "fr")
    referral_id = live.sent_referral(PersonDetails(name=WOMAN.name, phone=WOMAN.phone))
    with live.session() as session:
        fire(session, protocol_library(), referral_id, "acknowledge", shelter.caseworker)
        fire(session, protocol_library(), referral_id, "decline", shelter.caseworker, reason="no_capacity")
        add_partnership_note(
            session, centre.caseworker, live.partnership_id, kind="meeting", text="Rencontre des deux équipes"
        )
    sign_in(page, live.url, live.email(centre.caseworker), FR)

    page.goto(f"{live.url}/directory/partnerships/{live.partnership_id}")
    page.get_by_role("link", name="Bilan du partenariat").click()
    page.wait_for_url(re.compile(rf"/directory/partnerships/{live.partnership_id}/bilan$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Bilan du partenariat : .+ et .+$"))
    expect(page.get_by_text("(la période en cours)").first).to_be_visible()
    referrals = page.get_by_role("table", name="Référencements envoyés pendant la période")
    sent = referrals.get_by_role("row", name=re.compile("^Référencements envoyés"))
    expect(sent.get_by_role("cell").last).to_have_text("1")
    refused = page.get_by_role("table", name="Référencements refusés, par motif")
    expect(refused.get_by_role("row", name=re.compile("^Aucune place disponible"))).to_be_visible()
    expect(page.get_by_text("Rencontre des deux équipes")).to_be_visible()
    expect(page.get_by_label("Période de bilan", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer")).to_be_visible()
    audit(page, "the bilan")
    for secret in WOMAN.secrets:
        assert secret not in page.content()

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Télécharger le bilan (CSV)").click()
    download = downloading.value
    assert download.suggested_filename.startswith(f"maillage-bilan-{live.partnership_id}-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "Référencements envoyés;" in text
    assert "Aucune place disponible;" in text
    assert "Rencontre des deux équipes" in text
    for secret in WOMAN.secrets:
        assert secret not in text

    page.emulate_media(media="print")
    screen_only_parts_are_hidden(page)
    for index in range(page.locator("nav").count()):
        expect(page.locator("nav").nth(index)).to_be_hidden()
    expect(page.get_by_label("Période de bilan", exact=True)).to_be_hidden()
    expect(page.get_by_role("link", name="Télécharger le bilan (CSV)")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(referrals).to_be_visible()
    expect(page.get_by_text("Rencontre des deux équipes")).to_be_visible()
    screenshot("fr-bilan-printed")
    page.emulate_media(media="screen")
    audit.assert_clean()

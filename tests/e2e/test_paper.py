"""Paper in a real browser: from a referral's page the caseworker opens the woman's sheet and the
consent form, in French, chooses English for the paper alone, and prints: the printout (the print
media emulated) shows the paper, never the menus, the buttons or the skip link."""

from __future__ import annotations

import re

from playwright.sync_api import Page
from playwright.sync_api import expect

from service.directory.models import Organization
from service.referrals.operations import PersonDetails
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import her
from tests.e2e.browser import sign_in
from tests.e2e.test_accessibility import Audit

FR = WORDS["fr"]
WOMAN = her("7761", "fr")


def screen_only_parts_are_hidden(page: Page) -> None:
    """On paper: no header and its menu, no footer, no skip link, no button, no flash message."""
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator("#site-menu")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    expect(page.locator(".skip-link")).to_be_hidden()
    expect(page.locator(".flashes")).to_have_count(0)
    buttons = page.get_by_role("button")
    for index in range(buttons.count()):
        expect(buttons.nth(index)).to_be_hidden()


def test_the_caseworker_prints_her_sheet_and_the_consent_form_from_the_referral_page(
    live, page: Page, screenshot
):
    audit = Audit()
    centre = live.network.womens_centre
    live.set_language(centre.caseworker, "fr")
    with live.session() as session:
        shelter = session.get_one(Organization, live.network.shelter.organization.id)
        shelter.phone = "450-555-0101"
        shelter.hours = "24 heures sur 24"
        shelter.address_confidential = True
        session.commit()
    referral_id = live.sent_referral(PersonDetails(name=WOMAN.name, phone=WOMAN.phone))
    sign_in(page, live.url, live.email(centre.caseworker), FR)

    page.goto(f"{live.url}/referrals/{referral_id}")
    page.get_by_role("link", name="sa fiche").click()
    page.wait_for_url(re.compile(rf"/referrals/{referral_id}/sheet$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Maison Fictive du Phare")
    expect(page.get_by_text("Adresse confidentielle")).to_be_visible()
    expect(page.get_by_text("450-555-0101")).to_be_visible()
    expect(page.get_by_role("heading", name="Prochaine étape")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer")).to_be_visible()
    expect(page.get_by_role("navigation", name="Menu principal")).to_be_visible()
    audit(page, "her sheet")
    for secret in WOMAN.secrets:
        assert secret not in page.content()
        assert secret not in page.url

    page.emulate_media(media="print")
    screen_only_parts_are_hidden(page)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("Adresse confidentielle")).to_be_visible()
    expect(page.get_by_role("link", name="English", exact=True).first).to_be_hidden()
    screenshot("fr-her-sheet-printed")
    page.emulate_media(media="screen")

    # The paper in English for her; the page around it stays in French.
    page.locator(".paper-controls").get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Next step")).to_be_visible()
    expect(page.get_by_text("Confidential address")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("article.paper")).to_have_attribute("lang", "en")
    audit(page, "her sheet, the paper in English")

    page.goto(f"{live.url}/referrals/{referral_id}")
    page.get_by_role("link", name="le formulaire de consentement à signer").click()
    page.wait_for_url(re.compile(rf"/referrals/{referral_id}/consent-form$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Consentement à la communication de mes renseignements"
    )
    expect(page.get_by_text("Ma signature :")).to_be_visible()
    audit(page, "consent form")
    page.emulate_media(media="print")
    screen_only_parts_are_hidden(page)
    expect(page.get_by_text("Ma signature :")).to_be_visible()
    expect(page.get_by_role("link", name="consigner son consentement")).to_be_hidden()
    screenshot("fr-consent-form-printed")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="consigner son consentement").click()
    page.wait_for_url(re.compile(rf"/referrals/{referral_id}/consent$"))

    # Any page prints cleanly, the referral's own page with its action buttons too.
    page.goto(f"{live.url}/referrals/{referral_id}")
    page.emulate_media(media="print")
    screen_only_parts_are_hidden(page)
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    audit.assert_clean()
    assert len(audit.checked) == 3


def test_a_shelter_keeps_its_address_confidential_and_her_sheet_says_so(live, page: Page, screenshot):
    """The shelter's coordinator types an address, then ticks « Adresse confidentielle » and lists
    what to bring; the sheet the women's centre prints says « Adresse confidentielle », never the
    address, and lists what the shelter asks to bring."""
    shelter, centre = live.network.shelter, live.network.womens_centre
    live.set_language(shelter.coordinator, "fr")
    live.set_language(centre.caseworker, "fr")
    sign_in(page, live.url, live.email(shelter.coordinator), FR)
    page.goto(f"{live.url}/directory/organizations/{shelter.organization.id}/edit")
    field(page, "Adresse publique").fill("1234, boulevard Fictif, Laval H7X 0A1")
    field(page, "Adresse confidentielle").check()
    field(page, "Quoi apporter").fill("Carte d’assurance maladie\nMédicaments pour une semaine")  # noqa: RUF001
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Les renseignements de l’organisme sont enregistrés.")).to_be_visible()  # noqa: RUF001
    expect(page.get_by_text("Adresse confidentielle", exact=True)).to_be_visible()
    assert "boulevard Fictif" not in page.content()
    page.get_by_role("button", name="Se déconnecter").click()

    referral_id = live.sent_referral()
    sign_in(page, live.url, live.email(centre.caseworker), FR)
    page.goto(f"{live.url}/referrals/{referral_id}/sheet")
    page.emulate_media(media="print")
    paper = page.locator("article.paper")
    expect(paper.get_by_text("Adresse confidentielle")).to_be_visible()
    expect(paper.get_by_role("listitem").filter(has_text="Médicaments pour une semaine")).to_be_visible()
    assert "boulevard Fictif" not in page.content()
    screenshot("fr-her-sheet-confidential-address")

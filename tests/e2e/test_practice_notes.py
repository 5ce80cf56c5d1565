"""Know-how shared between partners (clés d'intervention) in the browser, in French: a caseworker of the
shelter writes a practice note for her partners, told first never to put a woman's personal information
in it; a caseworker of the partner women's centre finds it by searching and filtering, and reads it;
legal aid, nobody's partner, does not find it; a new version keeps the old one readable. Axe checks
each page.
"""

from __future__ import annotations

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit

FR = WORDS["fr"]
KEYS = "Clés d’intervention"  # noqa: RUF001
TITLE = "Accueillir une femme allophone"


def test_a_note_written_for_partners_is_found_by_a_partner_only(live, page: Page, browser: Browser):
    audit = Audit()
    sign_in_as(page, live, live.network.shelter.caseworker, "fr")
    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name="Répertoire").click()
    page.get_by_role("link", name=KEYS).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(KEYS)
    audit(page, "intervention keys, empty")

    page.get_by_role("link", name="Rédiger une clé d’intervention").click()  # noqa: RUF001
    expect(page.get_by_text("jamais les renseignements personnels d’une femme")).to_be_visible()  # noqa: RUF001
    page.get_by_role("button", name="Enregistrer").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Inscrivez un titre.")
    expect(alert).to_contain_text("Rédigez la clé d’intervention.")  # noqa: RUF001
    audit(page, "new note with errors")
    field(page, "Titre").fill(TITLE)
    field(page, "La clé d’intervention").fill(  # noqa: RUF001
        "Prévoir une **interprète** dès le premier appel.\n\n<script>alert('x')</script>"
    )
    page.get_by_role("group", name="Besoins visés").get_by_label("Scénario de protection").check()
    page.get_by_role("group", name="Partagée avec").get_by_label("Nos partenaires", exact=False).check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text("La clé d’intervention est enregistrée.")  # noqa: RUF001
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    note = page.get_by_role("article", name="La clé d’intervention")  # noqa: RUF001
    expect(note.locator("strong")).to_have_text("interprète")
    expect(note).to_contain_text("<script>alert('x')</script>")  # shown as text, never run
    audit(page, "note")

    partner = browser.new_context().new_page()
    sign_in_as(partner, live, live.network.womens_centre.caseworker, "fr")
    partner.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name="Répertoire").click()
    partner.get_by_role("link", name=KEYS).click()
    field(partner, "Mots à rechercher").fill("interprete ALLOPHONE")
    field(partner, "Besoin").select_option(label="Scénario de protection")
    partner.get_by_role("button", name="Rechercher").click()
    expect(partner.get_by_role("heading", name="1 clé d’intervention")).to_be_visible()  # noqa: RUF001
    audit(partner, "search found")
    partner.get_by_role("link", name=TITLE).click()
    expect(partner.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(partner.get_by_role("link", name="Modifier")).to_have_count(0)

    stranger = browser.new_context().new_page()
    sign_in_as(stranger, live, live.network.legal_aid.caseworker, "fr")
    stranger.goto(f"{live.url}/practice-notes/?q=allophone")
    expect(stranger.get_by_text("Aucune clé d’intervention ne correspond.", exact=False)).to_be_visible()  # noqa: RUF001
    stranger.goto(partner.url)
    expect(stranger.get_by_role("heading", level=1)).not_to_have_text(TITLE)

    page.get_by_role("link", name="Modifier").click()
    field(page, "La clé d’intervention").fill("Prévoir une interprète; demander sa langue.")  # noqa: RUF001
    page.get_by_role("group", name="Partagée avec").get_by_label("Tout le réseau", exact=False).check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text("nouvelle version")
    audit(page, "note, version 2")
    partner.reload()
    expect(partner.get_by_role("article")).to_contain_text("demander sa langue")
    partner.get_by_role("link", name="Lire la version 1").click()
    expect(partner.get_by_text("Vous lisez la version 1, pas la version actuelle.")).to_be_visible()
    expect(partner.get_by_role("article").locator("strong")).to_have_text("interprète")
    audit(partner, "version 1")
    stranger.goto(partner.url)  # shared with the whole network now
    expect(stranger.get_by_role("heading", level=1)).to_have_text(TITLE)
    audit.assert_clean()

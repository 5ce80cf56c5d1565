"""A coordinator keeps her organization's address book (carnet d'adresses) in the browser, in French:
she finds it in the menu, is told what is missing, adds a person of a partner, names her a contact
of their partnership, marks her as having left; axe checks each page.
"""

from __future__ import annotations

from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit

FR = WORDS["fr"]
BOOK = "Carnet d’adresses"  # noqa: RUF001
HER = "Hélène Côté-Lévesque"
CENTRE = "Centre de femmes Fictif des Rivières"


def test_a_coordinator_keeps_the_address_book(live, page: Page, screenshot):
    audit = Audit()
    sign_in_as(page, live, live.network.shelter.coordinator, "fr")
    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name=BOOK).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(BOOK)
    expect(page.get_by_text("Le carnet d’adresses est vide.")).to_be_visible()  # noqa: RUF001
    audit(page, "address book")

    page.get_by_role("link", name="Ajouter une personne").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter une personne au carnet d’adresses")  # noqa: RUF001
    field(page, "Courriel").fill("pas un courriel")
    page.get_by_role("button", name="Enregistrer").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Inscrivez le nom de la personne.")
    expect(alert).to_contain_text("Choisissez l’organisme où elle travaille.")  # noqa: RUF001
    audit(page, "new person with errors")
    field(page, "Nom").fill(HER)
    field(page, "Organisme où elle travaille").select_option(label=CENTRE)
    field(page, "Rôle").fill("Intervenante à l'accueil")
    field(page, "Courriel").fill("helene@centre-fictif.example.org")
    field(page, "Téléphone").fill("450 555-0142")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HER)
    expect(page.get_by_role("status")).to_contain_text(f"{HER} est ajoutée au carnet d’adresses.")  # noqa: RUF001
    audit(page, "person")

    page.goto(f"{live.url}/directory/partnerships/{live.partnership_id}")
    page.get_by_role("link", name="Choisir les personnes-ressources dans votre carnet d’adresses").click()  # noqa: RUF001
    audit(page, "partnership contacts")
    page.get_by_role("group", name=f"Personnes-ressources chez {CENTRE}").get_by_label(
        HER, exact=False
    ).check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Les personnes-ressources du partenariat sont enregistrées."
    )
    expect(page.locator("#contacts ~ ul").first).to_contain_text(HER)
    audit(page, "partnership with contacts")
    screenshot("address-book-partnership")

    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name=BOOK).click()
    field(page, "Mots à rechercher").fill("cote")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("row").filter(has_text=HER)).to_contain_text(CENTRE)
    audit(page, "address book search")
    screenshot("address-book")
    page.get_by_role("link", name=HER).click()
    page.get_by_role("button", name="Elle a quitté l’organisme").click()  # noqa: RUF001
    expect(page.get_by_role("status")).to_contain_text("elle n’apparaît plus dans les listes")  # noqa: RUF001
    page.get_by_role("link", name="Retour au carnet d’adresses").click()  # noqa: RUF001
    expect(page.get_by_text("Le carnet d’adresses est vide.")).to_be_visible()  # noqa: RUF001
    audit.assert_clean()

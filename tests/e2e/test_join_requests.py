"""An organization not yet in Maillage asks to join from the public page, reached from the sign-in
page; the regional admin finds the request from the directory and accepts it: the organization is in
the directory and its coordinator's invitation is in the mailbox. A new organization's coordinator
sees her first steps on her dashboard.

In French, by the labels a person reads, with axe checking each new page.
"""

from __future__ import annotations

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.models import Organization
from tests.conftest import PASSWORD_HASH
from tests.conftest import enrol_in_mfa
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in
from tests.e2e.test_accessibility import Audit
from tests.e2e.test_password_reset import send_pending_emails

FR = WORDS["fr"]
CONTACT = "direction@entraide-fictive.example.org"
ORGANIZATION = "Maison Fictive de l’Entraide"  # noqa: RUF001 - French typography


def person(live, email: str, role: str, organization_id: int | None) -> str:
    """An account of `role`, with the tests' password and second factor; its email."""
    with live.session() as session:
        user = User(
            email=email,
            name=email.split("@")[0],
            organization_id=organization_id,
            role=role,
            password_hash=PASSWORD_HASH,
            created_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
        session.add(user)
        session.flush()
        enrol_in_mfa(session, user, user.created_at)
        session.commit()
    return email


def test_an_organization_asks_to_join_and_the_regional_admin_accepts(live, page: Page, browser: Browser):
    audit = Audit()
    public = browser.new_context().new_page()
    public.goto(f"{live.url}/sign-in")
    public.get_by_role("link", name="Rejoindre Maillage").click()
    expect(public.get_by_role("heading", level=1)).to_have_text("Rejoindre Maillage")
    audit(public, "join")
    public.get_by_role("button", name="Envoyer la demande").click()
    expect(public.get_by_role("alert")).to_be_visible()
    expect(public.get_by_role("alert")).to_contain_text("Cochez la case pour consentir")
    audit(public, "join with errors")
    field(public, "Nom de l’organisme").fill(ORGANIZATION)  # noqa: RUF001
    field(public, "Mandat").fill("Hébergement et accompagnement de femmes à Laval.")
    field(public, "Territoire desservi").fill("Laval")
    field(public, "Nom de la personne-ressource").fill("Josée Fictive")
    field(public, "Courriel de la personne-ressource").fill(CONTACT)
    field(public, "Téléphone de la personne-ressource").fill("450 555-0199")
    public.get_by_label("J’accepte", exact=False).check()  # noqa: RUF001
    public.get_by_role("button", name="Envoyer la demande").click()
    expect(public.get_by_role("heading", level=1)).to_have_text("Demande envoyée")
    audit(public, "join sent")

    admin = person(live, "region@table-fictive.example.org", Role.REGIONAL_ADMIN, None)
    sign_in(page, live.url, admin, FR)
    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name="Répertoire").click()
    page.get_by_role("link", name="Demandes d’adhésion").click()  # noqa: RUF001
    expect(page.get_by_role("heading", level=1)).to_have_text("Demandes d’adhésion")  # noqa: RUF001
    audit(page, "join requests")
    page.get_by_role("link", name=ORGANIZATION).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demande d’adhésion n°")  # noqa: RUF001
    expect(page.get_by_role("main")).to_contain_text(CONTACT)
    audit(page, "join request")
    page.get_by_role("button", name="Refuser la demande").click()
    expect(page.get_by_role("alert")).to_contain_text("Choisissez le motif du refus.")
    audit(page, "join request with errors")
    page.get_by_role("button", name="Accepter et inviter la coordonnatrice").click()
    expect(page.get_by_role("status")).to_contain_text("Demande acceptée")
    expect(page.get_by_role("main")).to_contain_text("Acceptée")
    page.get_by_role("link", name=ORGANIZATION).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ORGANIZATION)

    # Her invitation, in French, is in the development mailbox.
    send_pending_emails(live)
    page.goto(f"{live.url}/dev/mailbox/")
    expect(page.get_by_role("row").filter(has_text=CONTACT).first).to_contain_text(
        "Votre invitation à Maillage"
    )

    page.goto(f"{live.url}/join-requests/add-organization")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Ajouter un organisme et inviter sa coordonnatrice"
    )
    audit(page, "add an organization and invite its coordinator")

    # A newly joined organization's coordinator sees her first steps, each a link.
    with live.session() as session:
        organization_id = session.scalar(select(Organization.id).where(Organization.name == ORGANIZATION))
    coordinator = person(live, "coordo@entraide-fictive.example.org", Role.COORDINATOR, organization_id)
    hers = browser.new_context().new_page()
    sign_in(hers, live.url, coordinator, FR)
    steps = hers.get_by_role("region", name="Premiers pas")
    # Her colleague invited from the request counts as the team invited.
    expect(steps).to_contain_text("1 étape(s) faite(s) sur 5")
    expect(steps.get_by_role("link", name="Inscrire un premier partenariat")).to_have_attribute(
        "href", "/directory/partnerships/new"
    )
    audit(hers, "dashboard with the first steps")

    audit.assert_clean()

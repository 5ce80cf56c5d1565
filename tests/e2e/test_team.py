"""A coordinator invites a new intervenante from the "Équipe" page; the intervenante opens the
invitation from the mailbox, chooses her password, signs in and opens a referral her organization
received; the coordinator deactivates her and her open session ends at its next request.

In French, by the labels a person reads, with axe checking each new page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit
from tests.e2e.test_password_reset import send_pending_emails

FR = WORDS["fr"]
HER_EMAIL = "nouvelle.intervenante@phare-fictif.example.org"
HER_PASSWORD = "la loutre traverse la rivière des Prairies"
INVITE = "Inviter une personne"
SEND = "Envoyer l’invitation"  # noqa: RUF001 - French typography
ACCEPT = "Accepter l’invitation"  # noqa: RUF001
SIGN_OUT = "Se déconnecter"


def invitation_from_the_mailbox(mailbox: Page, live) -> str:
    """The path of the invitation link in the newest email to her, read on the development mailbox."""
    mailbox.goto(f"{live.url}/dev/mailbox/")
    row = mailbox.get_by_role("row").filter(has_text=HER_EMAIL).first
    row.get_by_role("link", name="Votre invitation à Maillage de la part de Maison Fictive du Phare").click()
    text = mailbox.locator("pre.email-text").inner_text()
    return urlsplit(re.search(r"https?://\S+/invitation/[A-Za-z0-9_-]+", text).group(0)).path


def test_a_coordinator_invites_then_deactivates_an_intervenante(live, page: Page, browser: Browser):
    audit = Audit()
    sign_in_as(page, live, live.network.shelter.coordinator, "fr")
    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name="Équipe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Équipe")
    audit(page, "team")

    page.get_by_role("link", name=INVITE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inviter une personne dans l’équipe")  # noqa: RUF001
    audit(page, "invite")
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "invite with errors")
    field(page, "Nom").fill("Nouvelle Intervenante")
    field(page, FR["email"]).fill(HER_EMAIL)
    field(page, "Rôle").select_option(label="Intervenante")
    field(page, "Langue de l’invitation et de ses pages").select_option(label="Français")  # noqa: RUF001
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Équipe")
    expect(page.get_by_role("status")).to_contain_text(f"Invitation envoyée à {HER_EMAIL}")
    expect(page.get_by_role("row").filter(has_text=HER_EMAIL)).to_contain_text("Invitée")

    # The worker sends it; the coordinator reads this development install's mailbox.
    send_pending_emails(live)
    path = invitation_from_the_mailbox(page, live)

    her_context = browser.new_context()
    hers = her_context.new_page()
    hers.goto(f"{live.url}{path}")
    hers.reload()  # opened twice, as a mail scanner would first: it still works
    expect(hers.get_by_role("heading", level=1)).to_have_text("Bienvenue dans Maillage")
    audit(hers, "invitation")
    field(hers, FR["password"]).fill("trop court")
    field(hers, "Mot de passe de nouveau").fill("trop court")
    hers.get_by_role("button", name=ACCEPT).click()
    expect(hers.get_by_role("alert")).to_be_visible()
    audit(hers, "invitation with an error")
    field(hers, FR["password"]).fill(HER_PASSWORD)
    field(hers, "Mot de passe de nouveau").fill(HER_PASSWORD)
    hers.get_by_role("button", name=ACCEPT).click()
    expect(hers.get_by_role("heading", level=1)).to_have_text(FR["my_referrals"])

    # Used: the link says so, in French, and whom to ask.
    stranger = browser.new_context().new_page()
    stranger.goto(f"{live.url}{path}")
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Cette invitation a déjà été utilisée")
    expect(stranger.get_by_role("main")).to_contain_text("Maison Fictive du Phare")
    audit(stranger, "invitation already used")

    # She signs in with her new password and opens a referral her organization received.
    hers.get_by_role("button", name=SIGN_OUT).click()
    expect(hers.get_by_role("heading", level=1)).to_have_text(FR["sign_in_title"])
    field(hers, FR["email"]).fill(HER_EMAIL)
    field(hers, FR["password"]).fill(HER_PASSWORD)
    hers.get_by_role("button", name=FR["sign_in"], exact=True).click()
    expect(hers.get_by_role("heading", level=1)).to_have_text(FR["my_referrals"])
    referral_id = live.sent_referral()
    hers.goto(f"{live.url}/referrals/{referral_id}")
    expect(hers.get_by_role("heading", level=1)).to_have_text(f"Référencement nº {referral_id}")

    # The coordinator deactivates her account.
    page.goto(f"{live.url}/team")
    page.get_by_role("link", name="Nouvelle Intervenante").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle Intervenante")
    audit(page, "team member")
    page.get_by_role("button", name="Désactiver le compte").click()
    expect(page.get_by_role("status")).to_contain_text("Compte désactivé")
    page.goto(f"{live.url}/team")
    expect(page.get_by_role("row").filter(has_text=HER_EMAIL)).to_contain_text("Désactivé")

    # Her open session ends at its next request: she is back at the sign-in page.
    hers.reload()
    expect(hers.get_by_role("heading", level=1)).to_have_text(FR["sign_in_title"])
    assert urlsplit(hers.url).path == "/sign-in"

    audit.assert_clean()

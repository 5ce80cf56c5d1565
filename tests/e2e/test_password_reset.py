"""She forgot her password: she asks for a link from the sign-in page, opens it from the mailbox,
chooses a new password and is signed in; the old password no longer works, the link no longer opens.

In French, by the labels a person reads, with axe checking each new page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from service.config import settings
from service.notifications.models import OutboxMessage
from service.protocols import protocol_library
from tests.conftest import PASSWORD
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit
from worker.sending import deliver

FR = WORDS["fr"]
NEW_PASSWORD = "les outardes reviennent au lac Saint-Pierre"


def send_pending_emails(live) -> None:
    """What the worker does with the outbox: here, into the development mailbox (no SMTP server set)."""
    sessions = live.app.extensions["maillage.sessions"]
    with sessions() as session:
        ids = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending")))
    delivered = deliver(ids, sessions=sessions, protocols=protocol_library(), config=settings())
    assert delivered.sent >= 1, delivered


def link_from_the_mailbox(mailbox: Page, live, to: str) -> str:
    """The path of the reset link in the newest email to `to`, read on the development mailbox page."""
    mailbox.goto(f"{live.url}/dev/mailbox/")
    row = mailbox.get_by_role("row").filter(has_text=to).first
    row.get_by_role("link", name="Choisissez un nouveau mot de passe Maillage").click()
    text = mailbox.locator("pre.email-text").inner_text()
    return urlsplit(re.search(r"https?://\S+/password/reset/[A-Za-z0-9_-]+", text).group(0)).path


def test_she_resets_her_forgotten_password_from_the_emailed_link(live, page: Page, browser: Browser):
    audit = Audit()
    her = live.network.legal_aid.caseworker
    live.set_language(her, "fr")
    email = live.email(her)

    page.goto(f"{live.url}/sign-in")
    page.get_by_role("link", name="Mot de passe oublié?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe oublié?")
    audit(page, "forgotten password")
    page.get_by_role("button", name="M’envoyer un lien").click()  # noqa: RUF001 - French typography
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "forgotten password, no email typed")
    field(page, FR["email"]).fill(email)
    page.get_by_role("button", name="M’envoyer un lien").click()  # noqa: RUF001
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultez vos courriels")
    audit(page, "link sent")

    # The mailbox of this development install, read by a colleague signed in on another browser.
    send_pending_emails(live)
    colleague = browser.new_context().new_page()
    sign_in_as(colleague, live, live.network.womens_centre.caseworker, "fr")
    path = link_from_the_mailbox(colleague, live, email)

    page.goto(f"{live.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    audit(page, "new password")
    field(page, "Nouveau mot de passe").fill("trop court")
    field(page, "Nouveau mot de passe, de nouveau").fill("trop court")
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "new password with an error")
    field(page, "Nouveau mot de passe").fill(NEW_PASSWORD)
    field(page, "Nouveau mot de passe, de nouveau").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(FR["my_referrals"])  # signed in

    # The link is used up: it says so, and offers another.
    stranger = browser.new_context().new_page()
    stranger.goto(f"{live.url}{path}")
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Ce lien n’est plus valide")  # noqa: RUF001
    audit(stranger, "link no longer valid")
    expect(stranger.get_by_role("link", name="Demander un nouveau lien")).to_be_visible()

    # Her old password no longer works; the new one does.
    stranger.goto(f"{live.url}/sign-in")
    field(stranger, FR["email"]).fill(email)
    field(stranger, FR["password"]).fill(PASSWORD)
    stranger.get_by_role("button", name=FR["sign_in"], exact=True).click()
    expect(stranger.get_by_role("alert")).to_contain_text("Courriel ou mot de passe incorrect.")
    field(stranger, FR["password"]).fill(NEW_PASSWORD)
    stranger.get_by_role("button", name=FR["sign_in"], exact=True).click()
    expect(stranger.get_by_role("heading", level=1)).to_have_text(FR["my_referrals"])

    audit.assert_clean()

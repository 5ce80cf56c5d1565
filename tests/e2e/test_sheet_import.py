"""The regional admin imports a French Excel CSV in Chromium, by the French labels; axe checks each step."""

from __future__ import annotations

import re
import time
from datetime import UTC
from datetime import datetime

import pyotp
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.models import Organization
from tests.conftest import PASSWORD
from tests.conftest import PASSWORD_HASH
from tests.conftest import TOTP_SECRET
from tests.conftest import enrol_in_mfa
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.test_accessibility import Audit
from tests.service.test_sheet_import import ROWS
from tests.service.test_sheet_import import french_excel_csv

FR = WORDS["fr"]


def signed_in_regional_admin(page: Page, live) -> None:
    with live.session() as session:
        email = "region-import@example.org"
        if session.scalar(select(User).where(User.email == email)) is None:
            user = User(
                email=email,
                name="Admin régionale fictive",
                role=Role.REGIONAL_ADMIN,
                password_hash=PASSWORD_HASH,
                created_at=datetime.now(UTC),
                language="fr",
            )
            session.add(user)
            enrol_in_mfa(session, user, datetime.now(UTC))
            session.commit()
    page.goto(f"{live.url}/sign-in")
    field(page, FR["email"]).fill(email)
    field(page, FR["password"]).fill(PASSWORD)
    page.get_by_role("button", name=FR["sign_in"], exact=True).click()
    page.wait_for_load_state()
    for ahead in (0, 30):
        if not page.url.endswith("/sign-in/code"):
            break
        field(page, "Code").fill(pyotp.TOTP(TOTP_SECRET).at(time.time() + ahead))
        field(page, "Code").press("Enter")
        page.wait_for_load_state()
    assert "/sign-in" not in page.url, page.url


def test_she_imports_a_french_excel_file_checking_it_first(live, page: Page, tmp_path):
    audit = Audit()
    sheet = tmp_path / "annuaire.csv"
    sheet.write_bytes(french_excel_csv(*ROWS))
    signed_in_regional_admin(page, live)

    page.goto(f"{live.url}/directory/")
    page.get_by_role("link", name="Importer un tableur").click()
    audit(page, "import, upload")
    page.get_by_role("button", name="Téléverser et choisir les colonnes").click()
    expect(page.get_by_role("alert")).to_contain_text("Choisissez un fichier à importer.")
    audit(page, "import, upload with no file")
    page.get_by_label("Tableur (CSV ou XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Téléverser et choisir les colonnes").click()
    page.wait_for_url(re.compile(r"/directory/import/columns$"))
    expect(page.get_by_label("Champ pour la colonne Nom de l'organisme")).to_have_value("name")
    audit(page, "import, columns")
    page.get_by_role("button", name="Vérifier (essai à blanc)").click()
    expect(page.get_by_text("Organismes : 2 créé(s), 0 mis à jour, 0 inchangé(s).")).to_be_visible()
    audit(page, "import, dry run")
    page.get_by_role("button", name="Tout importer").click()

    page.wait_for_url(re.compile(r"/directory/$"))
    expect(page.get_by_role("status")).to_contain_text("Importation terminée : 2 organisme(s) créé(s)")
    with live.session() as session:
        assert session.scalar(select(Organization).where(Organization.name == "Banque Fictive du Quai"))
    audit.assert_clean()
    assert len(audit.checked) == 4

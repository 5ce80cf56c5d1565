"""The regional admin's import pages, clicked through in French, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from service.accounts.models import Role
from service.config import settings
from service.directory.held_imports import HeldImport
from service.directory.models import Organization
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user
from tests.service.test_sheet_import import ROWS
from tests.service.test_sheet_import import french_excel_csv


@pytest.fixture
def admin_browser(app, session, clock):
    return sign_in(app.test_client(), make_user(session, Role.REGIONAL_ADMIN, None, clock), session)


def upload(browser, data: bytes, filename: str = "annuaire.csv"):
    return browser.post("/directory/import/", data={"sheet": (io.BytesIO(data), filename)})


def held_files(session) -> list[str]:
    """The files waiting between their upload and their import (in the database: any web instance)."""
    return sorted(session.scalars(select(HeldImport.token_hash)))


def chosen_columns(page: str) -> dict[str, str]:
    """The columns form as the browser would send it: each select's selected option."""
    found = {}
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', page, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', body)
        found[name] = selected.group(1) if selected else ""
    return found


def text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.text))


def test_she_uploads_checks_then_imports_and_the_held_file_is_deleted(admin_browser, session):
    uploaded = upload(admin_browser, french_excel_csv(*ROWS))
    assert uploaded.status_code == 303
    assert len(held_files(session)) == 1
    columns = admin_browser.get("/directory/import/columns")
    assert "Importer : choisir les colonnes" in text(columns)
    form = chosen_columns(columns.text)
    assert form["column-0"] == "name"
    assert form["column-5"] == "service_needs"

    checked = admin_browser.post("/directory/import/columns", data={**form, "action": "check"})

    page = text(checked)
    assert "Organismes : 2 créé(s), 0 mis à jour, 0 inchangé(s)." in page
    assert "« Tricot », ligne(s) 2" in page
    assert session.scalar(select(Organization).where(Organization.name.like("Maison Fictive%"))) is None
    signature = re.search(r'name="checked" value="([^"]*)"', checked.text).group(1)

    imported = admin_browser.post(
        "/directory/import/columns", data={**form, "action": "import", "checked": signature}
    )

    assert imported.status_code == 303
    assert (
        session.scalar(select(Organization).where(Organization.name == "Banque Fictive du Quai")) is not None
    )
    assert held_files(session) == []
    assert "Importation terminée" in text(admin_browser.get("/directory/"))


def test_a_refused_row_is_shown_in_french_and_there_is_no_import_button(admin_browser, session):
    upload(admin_browser, french_excel_csv(*ROWS, "Centre Fictif;pas-un-courriel;;;;;"))
    form = chosen_columns(admin_browser.get("/directory/import/columns").text)

    checked = admin_browser.post("/directory/import/columns", data={**form, "action": "check"})
    forced = admin_browser.post(
        "/directory/import/columns", data={**form, "action": "import", "checked": ",".join(form.values())}
    )

    assert "Ligne 5, Courriel pour les référencements : « pas-un-courriel » n" in text(checked)
    assert 'value="import"' not in checked.text
    assert "a été importé." in text(forced)
    assert session.scalar(select(Organization).where(Organization.name == "Banque Fictive du Quai")) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "Choisissez un fichier à importer."),
        (b"", "Le fichier est vide."),
        (b"Nom;Courriel\r\n;;\r\n", "Le fichier a une ligne d’en-tête, mais aucune donnée dessous."),  # noqa: RUF001
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "Les fichiers Excel 97-2003 (.xls) ne peuvent pas être lus"),
        (b"PK\x03\x04 broken", "Le fichier XLSX ne peut pas être ouvert"),
    ],
)
def test_a_bad_file_gets_a_french_error_never_a_stack_trace(admin_browser, session, data, message):
    if data is None:
        response = admin_browser.post("/directory/import/", data={})
    else:
        response = upload(admin_browser, data)

    assert response.status_code == 200
    assert message in text(response)
    assert "Traceback" not in response.text
    assert held_files(session) == []


def test_a_file_over_the_limit_is_refused_with_the_limit_in_words(app, admin_browser, session, monkeypatch):
    monkeypatch.setenv("MAILLAGE_IMPORT_MAX_BYTES", "2000")
    settings.cache_clear()

    small_over = upload(admin_browser, french_excel_csv(*ROWS * 20))
    far_over = upload(admin_browser, b"x" * 200_000)

    assert "Le fichier est trop volumineux : au plus 2 ko." in text(small_over)
    assert far_over.status_code == 413
    assert "Le fichier est trop volumineux" in text(far_over)
    assert held_files(session) == []


def test_a_new_upload_or_cancelling_deletes_the_file_held_before(admin_browser, session):
    upload(admin_browser, french_excel_csv(*ROWS))
    first = held_files(session)
    upload(admin_browser, french_excel_csv(ROWS[2]))
    assert len(held_files(session)) == 1
    assert held_files(session) != first

    cancelled = admin_browser.post("/directory/import/cancel")

    assert cancelled.status_code == 303
    assert held_files(session) == []
    assert admin_browser.get("/directory/import/columns").status_code == 303


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.CASEWORKER])
def test_nobody_but_the_regional_admin_reaches_the_import(app, session, network, clock, role):
    someone = make_user(session, role, network.shelter.organization, clock)
    browser = sign_in(app.test_client(), someone, session)

    assert browser.get("/directory/import/").status_code == 403
    assert upload(browser, french_excel_csv(*ROWS)).status_code == 403
    assert browser.post("/directory/import/columns", data={"column-0": "name"}).status_code == 403
    assert held_files(session) == []


def test_a_stranger_is_sent_to_sign_in(client):
    assert client.get("/directory/import/").status_code == 302


def test_a_file_left_by_an_unfinished_import_is_deleted_at_an_upload_a_day_later(app, session, clock):
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    upload(sign_in(app.test_client(), admin, session), french_excel_csv(*ROWS))
    left = held_files(session)
    clock.advance(hours=23)
    upload(sign_in(app.test_client(), admin, session), french_excel_csv(ROWS[2]))
    assert set(left) < set(held_files(session))  # a day has not passed: that import may still go on

    clock.advance(hours=2)
    upload(sign_in(app.test_client(), admin, session), french_excel_csv(ROWS[1]))

    assert not set(left) & set(held_files(session))
    assert len(held_files(session)) == 2


def test_the_uploaded_file_waits_in_the_database_not_on_this_instance_s_disk(admin_browser, session):
    """With several web instances, the next step may land on another: nothing is kept on this one."""
    data = french_excel_csv(*ROWS)
    upload(admin_browser, data)

    files = [path for path in settings().data_dir.rglob("*") if path.is_file()]
    assert [path for path in files if data in path.read_bytes()] == []
    [held] = session.scalars(select(HeldImport)).all()
    assert held.content == data
    assert "Importer : choisir les colonnes" in text(admin_browser.get("/directory/import/columns"))


def test_with_csrf_on_a_sheet_larger_than_a_form_is_taken_and_a_missing_token_is_refused(app, session, clock):
    # Past the pages' own limit (1 MB) but within the import's (5 MB): Flask-WTF's check of every
    # POST would read it under the pages' limit and answer a bare 413.
    app.config["WTF_CSRF_ENABLED"] = True
    admin_user = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    admin = sign_in(app.test_client(), admin_user, session, csrf=True)
    form = admin.get("/directory/import/").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    big = french_excel_csv(*ROWS * 4000)

    def post(fields: dict):
        # The body made in memory: the test client's own would wait in a temporary file it never closes.
        boundary, body = encode_multipart({"sheet": FileStorage(io.BytesIO(big), "annuaire.csv"), **fields})
        return admin.post(
            "/directory/import/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )

    without = post({})
    taken = post({"csrf_token": token.group(1)})

    assert len(big) > 1_000_000
    assert without.status_code == 400
    assert "Le formulaire a expiré" in text(without)
    assert taken.status_code == 303
    assert len(held_files(session)) == 1

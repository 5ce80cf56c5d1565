"""An organization's public address, or « Adresse confidentielle » for a shelter, and what to bring:
edited with its details, shown in the directory, the API and the HSDS export, never an address
flagged confidential."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.directory.models import Organization
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_import import import_sheet
from service.directory.sheet_reading import read_sheet
from service.standards.directory_import import import_objects
from service.standards.hsds import export_directory
from service.standards.taxonomy_map import load_map
from tests.conftest import sign_in
from tests.service.test_api_referrals import Api
from tests.service.test_api_referrals import key_for
from tests.service.test_directory_operations import make_user
from tests.service.test_hsds import empty_database  # noqa: F401 - a fixture
from tests.service.test_sheet_import import french_excel_csv

STREET = "1234, boulevard Fictif, Laval (Québec) H7X 0A1"
TO_BRING = "Carte d'assurance maladie\r\n\r\n  Médicaments  \r\nLettre du CLSC"


def details_form(name: str, **changes: str) -> dict[str, str]:
    return {"name": name, "capacity_status": "", "languages": "fr"} | changes


@pytest.fixture
def shelter_browser(app, session, network):
    return sign_in(app.test_client(), network.shelter.coordinator, session)


@pytest.fixture
def stranger(app, session, network):
    """Another organization of the network, reading the directory."""
    return sign_in(app.test_client(), network.legal_aid.caseworker, session)


def page_text(response) -> str:
    assert response.status_code == 200
    return unescape(response.text)


def test_a_public_address_and_what_to_bring_are_edited_and_shown_to_the_network(
    shelter_browser, stranger, session, network, client
):
    shelter = network.shelter.organization
    saved = shelter_browser.post(
        f"/directory/organizations/{shelter.id}/edit",
        data=details_form(shelter.name, public_address=f"  {STREET} ", what_to_bring=TO_BRING),
    )
    assert saved.status_code == 303
    shelter = session.get(Organization, shelter.id)
    assert (shelter.public_address, shelter.address_confidential) == (STREET, False)
    assert shelter.what_to_bring == "Carte d'assurance maladie\nMédicaments\nLettre du CLSC"

    form = page_text(shelter_browser.get(f"/directory/organizations/{shelter.id}/edit"))
    assert "Adresse publique" in form
    assert STREET in form
    assert "Adresse confidentielle" in form

    seen = page_text(stranger.get(f"/directory/organizations/{shelter.id}"))
    assert STREET in seen
    assert "<li>Médicaments</li>" in seen

    api = Api(client, key_for(session, network.legal_aid.coordinator))
    found = api.get(f"/organizations/{shelter.id}").json
    assert (found["public_address"], found["address_confidential"]) == (STREET, False)
    assert found["what_to_bring"] == ["Carte d'assurance maladie", "Médicaments", "Lettre du CLSC"]


def test_a_confidential_address_is_not_kept_and_shown_nowhere(
    shelter_browser, stranger, session, network, client
):
    shelter = network.shelter.organization
    saved = shelter_browser.post(
        f"/directory/organizations/{shelter.id}/edit",
        data=details_form(shelter.name, public_address=STREET, address_confidential="y"),
    )
    assert saved.status_code == 303
    shelter = session.get(Organization, shelter.id)
    assert (shelter.public_address, shelter.address_confidential) == ("", True)

    # Even an address written in the database by some other road stays unseen.
    shelter.public_address = STREET
    session.commit()
    seen = page_text(stranger.get(f"/directory/organizations/{shelter.id}"))
    assert "Adresse confidentielle" in seen
    assert "boulevard Fictif" not in seen
    found = (
        Api(client, key_for(session, network.legal_aid.coordinator)).get(f"/organizations/{shelter.id}").json
    )
    assert (found["public_address"], found["address_confidential"]) == ("", True)
    [exported] = [o for o in export_directory(session) if o["id"] == shelter.external_id]
    assert "boulevard Fictif" not in str(exported)
    flags = {a["taxonomy_term"]["code"]: a["value"] for a in exported["attributes"]}
    assert flags["address_confidential"] == "true"
    assert "public_address" not in flags


def test_the_address_its_flag_and_what_to_bring_travel_through_hsds(session, network, empty_database):  # noqa: F811
    shelter, centre = network.shelter.organization, network.womens_centre.organization
    shelter.address_confidential = True
    centre.public_address, centre.what_to_bring = STREET, "Carte d'assurance maladie\nMédicaments"
    session.commit()

    report = import_objects(empty_database, export_directory(session))

    assert report.refused == []
    read = {o.name: o for o in empty_database.scalars(select(Organization))}
    assert read[shelter.name].address_confidential
    assert read[shelter.name].public_address == ""
    assert (read[centre.name].public_address, read[centre.name].address_confidential) == (STREET, False)
    assert read[centre.name].things_to_bring == ["Carte d'assurance maladie", "Médicaments"]


def test_a_spreadsheet_maps_the_address_columns_and_a_sheet_without_them_keeps_them(session, network, clock):
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)

    def imported(data: bytes):
        sheet = read_sheet(data, "annuaire.csv", max_bytes=5 * 1024 * 1024)
        mapping = guess_mapping(sheet.headers)
        return import_sheet(session, admin, sheet, mapping, load_map(), dry_run=False, clock=clock)

    header = "Nom de l'organisme;Adresse;Adresse confidentielle;Quoi apporter"
    report = imported(
        french_excel_csv(
            "Maison Fictive de l'Étoile;;oui;\"Carte d'assurance maladie; Médicaments\"",
            f"Banque Fictive du Quai;{STREET};non;",
            "Centre Fictif du Pont;;peut-être;",
            header=header,
        )
    )
    assert [problem.code for problem in report.refused] == ["confidential_unknown"]

    report = imported(
        french_excel_csv(
            "Maison Fictive de l'Étoile;;oui;\"Carte d'assurance maladie; Médicaments\"",
            f"Banque Fictive du Quai;{STREET};non;",
            header=header,
        )
    )
    assert report.refused == []
    star = session.scalar(select(Organization).where(Organization.name == "Maison Fictive de l'Étoile"))
    bank = session.scalar(select(Organization).where(Organization.name == "Banque Fictive du Quai"))
    assert (star.address_confidential, star.public_address) == (True, "")
    assert star.things_to_bring == ["Carte d'assurance maladie", "Médicaments"]
    assert (bank.address_confidential, bank.public_address) == (False, STREET)

    # A later sheet without these columns changes neither.
    imported(
        french_excel_csv("Maison Fictive de l'Étoile;450-555-0199", header="Nom de l'organisme;Téléphone")
    )
    star = session.get(Organization, star.id)
    assert (star.address_confidential, star.things_to_bring) == (
        True,
        ["Carte d'assurance maladie", "Médicaments"],
    )

"""Stories of the regional admin bringing a spreadsheet of organizations into the directory."""

from __future__ import annotations

import io
from datetime import date

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.cli import main
from service.config import settings
from service.directory.errors import DirectoryNotAllowed
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_import import import_sheet
from service.directory.sheet_reading import MAX_ROWS
from service.directory.sheet_reading import SheetError
from service.directory.sheet_reading import read_sheet
from service.directory.sheet_wording import problem_text
from service.standards.taxonomy_map import load_map
from tests.service.test_directory_operations import make_user

LIMIT = 5 * 1024 * 1024
HEADER = "Nom de l'organisme;Courriel;Téléphone;Capacité d'accueil;Nom du service;Catégories;Personne contact"
ROWS = (
    "Maison Fictive de l'Étoile;accueil@etoile.example;450-555-0101;complet;Hébergement d'urgence;"
    '"Domestic Violence Shelters; Tricot";Julie Exemple',
    "Maison Fictive de l'Étoile;;;;Écoute téléphonique;Violence conjugale : écoute et accompagnement;",
    "Banque Fictive du Quai;;450-555-0102;ouvert;Dépannage;food;",
)


def french_excel_csv(*rows: str, header: str = HEADER) -> bytes:
    """What Excel in French Canada writes as "CSV": semicolons, Windows-1252, CRLF."""
    return "\r\n".join([header, *rows, ""]).encode("cp1252")


def french(message: str, **values: object) -> str:
    return message % values if values else message


@pytest.fixture
def admin(session, clock):
    return make_user(session, Role.REGIONAL_ADMIN, None, clock)


@pytest.fixture
def importing(session, admin, clock):
    """Import `data` as the regional admin with the guessed columns; a dry run unless `commit`."""

    def run(data: bytes, *, commit: bool = True, filename: str = "annuaire.csv", actor=None):
        sheet = read_sheet(data, filename, max_bytes=LIMIT)
        return import_sheet(
            session,
            actor or admin,
            sheet,
            guess_mapping(sheet.headers),
            load_map(),
            dry_run=not commit,
            clock=clock,
        )

    return run


def organization(session, name: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name == name))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# Reading what spreadsheets write ---------------------------------------------------------


def test_a_french_excel_csv_is_read_whatever_its_encoding_and_separator():
    expected = read_sheet(french_excel_csv(*ROWS), max_bytes=LIMIT)
    with_bom = b"\xef\xbb\xbf" + "\n".join([HEADER, *ROWS]).encode("utf-8")
    with_commas = "\n".join(line.replace(";", ",") for line in [HEADER, ROWS[2]]).encode("utf-8")

    assert expected.headers[0] == "Nom de l'organisme"
    assert expected.rows[0][1][0] == "Maison Fictive de l'Étoile"
    assert expected.rows[0][1][5] == "Domestic Violence Shelters; Tricot"  # quoted: one cell
    assert read_sheet(with_bom, max_bytes=LIMIT).headers == expected.headers
    assert read_sheet(with_bom, max_bytes=LIMIT).rows == expected.rows
    utf16 = "\r\n".join([HEADER, *ROWS]).replace(";", "\t").encode("utf-16")
    assert read_sheet(utf16, max_bytes=LIMIT).rows[1][1][4] == "Écoute téléphonique"
    assert read_sheet(with_commas, max_bytes=LIMIT).rows[0][1][0] == "Banque Fictive du Quai"


def test_empty_rows_are_skipped_and_rows_keep_the_numbers_the_spreadsheet_shows():
    sheet = read_sheet(french_excel_csv(ROWS[0], ";;;;;;", "", ROWS[2]), max_bytes=LIMIT)

    assert [line for line, _cells in sheet.rows] == [2, 5]
    assert sheet.empty_rows == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"Nom;Courriel\r\n;;\r\n", "no_rows"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "old_excel"),
        (b"PK\x03\x04 not really a workbook", "unreadable_xlsx"),
        (b"Nom\x00;x\n\x00\x01;2\n", "not_a_sheet"),
        (b"Nom;Courriel\n\x81\x8d\x8f;x\n", "encoding"),
        (b'Nom;Courriel\n"open quote;x\n', "malformed_csv"),
        ((HEADER + "\n" + "x;" * 5 + "\n").encode() * 1, None),
    ],
)
def test_a_file_that_cannot_be_read_says_why_in_french(data, problem):
    if problem is None:
        assert read_sheet(data, max_bytes=LIMIT).rows
        return
    with pytest.raises(SheetError) as raised:
        read_sheet(data, max_bytes=LIMIT)
    assert raised.value.problem == problem


def test_a_file_too_large_or_too_long_is_refused_unread():
    with pytest.raises(SheetError) as too_large:
        read_sheet(b"x" * 2000, max_bytes=1000)
    with pytest.raises(SheetError) as too_long:
        read_sheet(french_excel_csv(*[ROWS[2]] * (MAX_ROWS + 5)), max_bytes=50 * LIMIT)

    assert (too_large.value.problem, too_long.value.problem) == ("too_large", "too_many_rows")


def test_an_xlsx_workbook_made_by_openpyxl_is_read_with_its_numbers_and_dates_as_text():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Organization name", "Phone", "Service", "Needs", "Since"])
    sheet.append(["Centre Fictif des Saules", 4505550103, "Cafés-rencontres", "isolation", date(2020, 1, 6)])
    sheet.append([None, None, None, None, None])
    sheet.append(["Centre Fictif des Saules", None, "Francisation", "French as a Second Language", None])
    out = io.BytesIO()
    workbook.save(out)

    read = read_sheet(out.getvalue(), "annuaire.xlsx", max_bytes=LIMIT)

    assert read.headers == ["Organization name", "Phone", "Service", "Needs", "Since"]
    assert read.rows[0] == (
        2,
        ["Centre Fictif des Saules", "4505550103", "Cafés-rencontres", "isolation", "2020-01-06"],
    )
    assert [line for line, _cells in read.rows] == [2, 4]
    assert guess_mapping(read.headers) == ["name", "phone", "service_name", "service_needs", ""]


def test_columns_are_guessed_from_french_and_english_headers():
    headers = ["NOM DE L'ORGANISME", "E-mail", "Territoire desservi", "Besoins", "Fonction", "Nom", "Divers"]

    assert guess_mapping(headers) == [
        "name",
        "referral_email",
        "territory",
        "service_needs",
        "contact_role",
        "",
        "",
    ]


# Planning and committing -----------------------------------------------------------------


def test_a_file_is_imported_with_its_services_and_needs_then_a_second_import_changes_nothing(
    session, importing
):
    first = importing(french_excel_csv(*ROWS))

    assert first.written
    assert first.refused == []
    assert (first.count("organization", "created"), first.count("service", "created")) == (2, 3)
    etoile = organization(session, "Maison Fictive de l'Étoile")
    assert (etoile.referral_email, etoile.phone, etoile.capacity_status) == (
        "accueil@etoile.example",
        "450-555-0101",
        "full",
    )
    needs = {s.name: sorted(n.code for n in s.needs) for s in etoile.services}
    assert needs == {
        "Hébergement d'urgence": ["intimate_violence", "shelter_emergency"],
        "Écoute téléphonique": ["intimate_violence"],
    }
    assert first.unmapped == {"Tricot": [2]}
    # Her organization's address book has the contact person now (tests/service/test_address_book.py).
    assert [(c.kind, c.name, c.outcome) for c in first.changes if c.kind == "contact"] == [
        ("contact", "Julie Exemple", "created")
    ]

    again = importing(french_excel_csv(*ROWS))

    assert again.written
    assert [c.outcome for c in again.changes] == ["unchanged"] * 6
    assert count(session, Organization) == 2
    assert count(session, Service) == 3


def test_organizations_are_matched_by_name_case_aside_and_an_empty_cell_keeps_what_was_there(
    session, importing, network
):
    name = network.shelter.organization.name
    network.shelter.organization.phone = "450-555-0000"
    session.commit()

    plan = importing(french_excel_csv(f"{name.upper()};refs@phare.example;;;;;"))

    assert [(c.kind, c.name, c.outcome) for c in plan.changes] == [("organization", name, "updated")]
    assert network.shelter.organization.name == name  # the directory's own spelling stays
    assert network.shelter.organization.referral_email == "refs@phare.example"
    assert network.shelter.organization.phone == "450-555-0000"


def test_the_contact_persons_email_and_phone_fill_the_organizations_when_it_has_none(session, importing):
    header = "Organisme;Courriel du contact;Téléphone du contact"

    importing(french_excel_csv("Maison Fictive du Nord;julie@nord.example;450-555-0111", header=header))

    nord = organization(session, "Maison Fictive du Nord")
    assert (nord.referral_email, nord.phone) == ("julie@nord.example", "450-555-0111")


def test_a_dry_run_lists_each_bad_row_with_its_field_and_reason_and_writes_nothing(session, importing):
    bad = (
        ";ghost@example.org;;;;;",
        "Centre Fictif;pas-un-courriel;;peut-être;;;",
        "Centre Fictif B;;" + "9" * 41 + ";;;food;",
        "Maison Fictive de l'Étoile;autre@etoile.example;;;;;",
    )

    plan = importing(french_excel_csv(*ROWS, *bad), commit=False)

    assert [problem_text(p, french) for p in plan.refused] == [
        "Row 5, Organization name: required, but the cell is empty",
        "Row 6, Email for referrals: “pas-un-courriel” is not an email address",
        "Row 6, Capacity status: “peut-être” is not a capacity status: write open, waitlist or full",
        "Row 7, Phone: at most 40 characters (this cell has 41)",
        "Row 7, Service name: required when the row gives a service's description or needs",
        "Row 8, Email for referrals: differs from what row 2 says for the same organization or service",
    ]
    assert count(session, Organization) == 0
    assert plan.count("organization", "created") == 2  # what the good rows would do


def test_one_refused_row_and_the_commit_writes_nothing(session, importing, network):
    plan = importing(french_excel_csv(*ROWS, "Centre Fictif;pas-un-courriel;;;;;"))

    assert not plan.written
    assert len(plan.refused) == 1
    assert organization(session, "Maison Fictive de l'Étoile") is None
    assert count(session, Service) == 0


def test_a_name_taken_meanwhile_rolls_the_whole_import_back(session, importing, monkeypatch):
    from service.directory import sheet_import

    real = sheet_import._write_service

    def someone_else_adds_the_same_name(session_, service, organization_, needs):
        session_.add(Organization(name=organization_.name, created_at=organization_.created_at))
        real(session_, service, organization_, needs)

    monkeypatch.setattr(sheet_import, "_write_service", someone_else_adds_the_same_name)

    plan = importing(french_excel_csv(*ROWS))

    assert not plan.written
    assert [p.code for p in plan.refused] == ["directory_changed"]
    assert count(session, Organization) == 0


def test_a_mapping_without_the_name_or_with_a_field_twice_is_refused_whole(session, admin, clock):
    sheet = read_sheet(french_excel_csv(*ROWS), max_bytes=LIMIT)
    mapping = ["", "referral_email", "referral_email", "", "", "", ""]

    plan = import_sheet(session, admin, sheet, mapping, load_map(), dry_run=False, clock=clock)

    assert [problem_text(p, french, sheet.headers) for p in plan.refused] == [
        "no column goes to the organization's name: choose one",
        "Email for referrals: several columns go to this field (columns 2 « Courriel », 3 « Téléphone »): "
        "keep one",
    ]
    assert not plan.written


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.CASEWORKER, Role.PARTNER_CONTACT])
def test_only_the_regional_admin_imports(session, importing, network, clock, role):
    actor = make_user(session, role, network.shelter.organization, clock)

    with pytest.raises(DirectoryNotAllowed):
        importing(french_excel_csv(*ROWS), actor=actor)
    assert organization(session, "Maison Fictive de l'Étoile") is None


def test_needs_given_as_maillage_codes_or_labels_in_either_language(session, importing):
    header = "Organisme;Service;Besoins"
    rows = ('Centre Fictif des Saules;Accueil;"food | Housing ; Francisation ; santé MENTALE"',)

    plan = importing(french_excel_csv(*rows, header=header))

    service = organization(session, "Centre Fictif des Saules").services[0]
    assert sorted(n.code for n in service.needs) == ["food", "french_classes", "housing", "mental_health"]
    assert plan.unmapped == {}


# The command --------------------------------------------------------------------------------


@pytest.fixture
def command(tmp_path, monkeypatch):
    """`maillage` on a database of its own, in French as a person gets it by default."""
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MAILLAGE_LANGUAGE", "fr")
    settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    yield runner
    settings.cache_clear()


def test_the_command_checks_imports_and_changes_nothing_the_second_time(command, tmp_path):
    path = tmp_path / "annuaire.csv"
    path.write_bytes(french_excel_csv(*ROWS))

    dry = command.invoke(main, ["directory", "import-sheet", "--dry-run", str(path)])
    first = command.invoke(main, ["directory", "import-sheet", str(path)])
    second = command.invoke(main, ["directory", "import-sheet", str(path)])

    assert dry.exit_code == 0, dry.output
    assert "Ligne 2 : organisme Maison Fictive de l'Étoile : créé" in dry.output
    assert "Essai à blanc : rien n’a été écrit." in dry.output  # noqa: RUF001
    assert first.exit_code == 0, first.output
    assert "organismes : 2 créé(s), 0 mis à jour, 0 inchangé(s)" in first.output
    assert "Tricot, ligne(s) 2" in first.output
    assert second.exit_code == 0, second.output
    assert "organismes : 0 créé(s), 0 mis à jour, 2 inchangé(s)" in second.output
    assert "services : 0 créé(s), 0 mis à jour, 3 inchangé(s)" in second.output


def test_the_command_takes_a_mapping_and_refuses_a_bad_row_with_exit_1(command, tmp_path):
    path = tmp_path / "annuaire.csv"
    path.write_bytes(french_excel_csv(*ROWS, "Centre Fictif;pas-un-courriel;;;;;"))

    refused = command.invoke(main, ["directory", "import-sheet", str(path)])
    ignored = command.invoke(main, ["directory", "import-sheet", "--mapping", "courriel=", str(path)])
    unknown = command.invoke(main, ["directory", "import-sheet", "--mapping", "Courriel=e-mail", str(path)])

    assert refused.exit_code == 1
    assert "Ligne 5, Courriel pour les référencements : « pas-un-courriel » n" in refused.output
    assert "rien n" in refused.output
    assert ignored.exit_code == 0, ignored.output
    assert "Courriel -> (non importée)" in ignored.output
    assert unknown.exit_code == 2
    assert "e-mail n’est pas un champ" in unknown.output  # noqa: RUF001
    assert "Traceback" not in refused.output + ignored.output + unknown.output


def test_the_command_says_why_a_file_cannot_be_read(command, tmp_path):
    path = tmp_path / "annuaire.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)

    result = command.invoke(main, ["directory", "import-sheet", str(path)])

    assert result.exit_code == 1
    assert "Les fichiers Excel 97-2003 (.xls) ne peuvent pas être lus" in result.output

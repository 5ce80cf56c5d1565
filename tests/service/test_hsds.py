"""Stories of the directory going out and coming back in as Open Referral HSDS 3, JSON and CSV."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import migrate
from service.cli import main
from service.config import settings
from service.db import make_engine
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.needs import seed_needs
from service.standards import directory_import
from service.standards.directory_import import import_file
from service.standards.directory_import import import_objects
from service.standards.hsds import DirectoryFileError
from service.standards.hsds import export_directory
from service.standards.hsds import taxonomy_terms
from service.standards.tabular import write_package

SAMPLE = Path(__file__).resolve().parents[2] / "service" / "standards" / "samples" / "directory.json"
AUBE = "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a01"
RUISSEAU = "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a02"
NAME_TAKEN = "name: another organization of the directory has it (case aside)"


def sample() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def write_json(tmp_path: Path, data: object, name: str = "directory.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def counts(report, kind: str) -> tuple[int, int, int]:
    return (report.count(kind, "created"), report.count(kind, "updated"), report.count(kind, "unchanged"))


def organization_named(session: Session, name: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name == name))


@pytest.fixture
def empty_database(tmp_path: Path) -> Session:
    """A second, empty directory (the needs taxonomy only): where an export is imported back."""
    url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        seed_needs(session)
        yield session
    engine.dispose()


# Importing the shipped sample ---------------------------------------------------------


def test_the_sample_is_imported_then_a_second_import_changes_nothing(session, network):
    first = import_file(session, SAMPLE)

    assert first.refused == []
    assert counts(first, "organization") == (3, 0, 0)
    assert counts(first, "service") == (5, 0, 0)
    assert counts(first, "need") == (1, 0, 4)  # "digital_literacy" is new; four needs we had
    aube = organization_named(session, "Maison Exemple de l'Aube")
    assert (aube.external_id, aube.capacity_status, aube.languages) == (AUBE, "waitlist", ["fr", "en"])
    assert (aube.phone, aube.referral_email, aube.kind) == ("450-555-0190", "accueil@aube.example", "shelter")
    assert aube.hours == "24 h sur 24, 7 jours sur 7"
    shelter = next(s for s in aube.services if s.name == "Hébergement d'urgence")
    assert sorted(n.code for n in shelter.needs) == ["intimate_violence", "shelter_emergency"]
    assert session.get(Need, "digital_literacy").label_en == "Digital literacy"

    again = import_file(session, SAMPLE)

    assert again.refused == []
    for kind in ("need", "organization", "service"):
        assert again.count(kind, "created") == again.count(kind, "updated") == 0, kind


def test_a_changed_record_is_updated_and_the_others_left_unchanged(session, network):
    import_file(session, SAMPLE)
    data = sample()
    data[1]["phones"][0]["number"] = "450-555-0199"
    next(s for s in data[1]["services"] if s["name"] == "Cafés-rencontres")["attributes"] = []

    report = import_objects(session, data)

    assert counts(report, "organization") == (0, 1, 2)
    assert counts(report, "service") == (0, 1, 4)
    ruisseau = organization_named(session, "Centre de femmes Exemple du Ruisseau")
    assert ruisseau.phone == "450-555-0199"
    assert next(s for s in ruisseau.services if s.name == "Cafés-rencontres").needs == []


def test_a_service_changed_only_in_its_description_is_updated(session, network):
    import_file(session, SAMPLE)
    data = sample()
    data[1]["services"][0]["description"] = "Nouvelle description"

    report = import_objects(session, data)

    assert counts(report, "service") == (0, 1, 4)
    assert import_objects(session, data).count("service", "updated") == 0


def test_an_organization_made_in_maillage_is_matched_by_name_and_takes_the_file_id(session, network):
    data = sample()
    data[0]["name"] = network.shelter.organization.name

    report = import_objects(session, data)

    assert counts(report, "organization") == (2, 1, 0)
    assert network.shelter.organization.external_id == AUBE
    assert import_objects(session, data).count("organization", "updated") == 0


def test_a_dry_run_reports_and_writes_nothing(session, network):
    report = import_file(session, SAMPLE, dry_run=True)

    assert counts(report, "organization") == (3, 0, 0)
    assert organization_named(session, "Maison Exemple de l'Aube") is None
    assert session.get(Need, "digital_literacy") is None


# Round trips --------------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_gives_the_same_directory(session, network, empty_database):
    import_file(session, SAMPLE)
    exported = export_directory(session)

    report = import_objects(empty_database, exported)

    assert report.refused == []
    assert counts(report, "organization") == (6, 0, 0)  # the network's three and the sample's
    assert export_directory(empty_database) == exported


def test_the_csv_data_package_round_trips_too(session, network, empty_database, tmp_path):
    import_file(session, SAMPLE)
    exported = export_directory(session)
    write_package(tmp_path / "package", exported, taxonomy_terms(session))

    report = import_file(empty_database, tmp_path / "package" / "datapackage.json")

    assert report.refused == []
    assert export_directory(empty_database) == exported
    assert taxonomy_terms(empty_database) == taxonomy_terms(session)
    again = import_file(empty_database, tmp_path / "package")
    assert sum(again.count(kind, "created") + again.count(kind, "updated") for kind in report.counts) == 0


def test_the_data_package_lists_the_hsds_tables(session, network, tmp_path):
    import_file(session, SAMPLE)

    write_package(tmp_path, export_directory(session), taxonomy_terms(session))

    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    names = {resource["name"] for resource in descriptor["resources"]}
    assert names >= {"organization", "service", "location", "service_at_location", "contact", "phone"}
    assert names >= {"taxonomy_term", "attribute"}
    with (tmp_path / "attribute.csv").open(encoding="utf-8") as rows:
        needs = [r for r in csv.DictReader(rows) if r["link_entity"] == "service"]
    assert len(needs) == 6  # the sample's five services cover six needs in all


# Malformed files ----------------------------------------------------------------------


def test_a_malformed_file_is_refused_record_by_record_with_reasons(session, network, tmp_path):
    data = sample()
    del data[0]["name"]  # the shelter: refused, and its two services with it
    data[1]["email"] = "not an address"
    data[2]["services"][0]["name"] = ""
    data.append(copy.deepcopy(data[2]) | {"name": "Clinique en double", "services": []})
    data.append("an organization?")

    report = import_file(session, write_json(tmp_path, data))

    reasons = {(r.kind, r.record): r.reason for r in report.refused}
    assert reasons[("organization", AUBE)] == "name: required but missing"
    assert reasons[("service", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a11")] == "its organization was refused"
    assert reasons[("organization", RUISSEAU)].startswith("email: 'not an address' is not an email address")
    assert reasons[("service", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a31")] == "name: required but missing"
    assert reasons[("organization", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a03")] == (
        "id: used by another organization of the file"
    )
    assert reasons[("organization", "#5")] == "not an object"
    assert counts(report, "organization") == (1, 0, 0)  # only the legal clinic
    assert organization_named(session, "Maison Exemple de l'Aube") is None
    assert (
        session.scalar(select(func.count()).select_from(Service).where(Service.name == "Suivi externe")) == 0
    )


def test_a_record_the_directory_refuses_rolls_back_alone(session, network):
    import_file(session, SAMPLE)
    data = sample()
    # The shelter renamed like another organization: the directory's unique names refuse it.
    data[0]["name"] = "Centre de femmes Exemple du Ruisseau"
    data[0]["phones"][0]["number"] = "450-555-0100"
    data[2]["description"] = "Information juridique gratuite, mise à jour."

    report = import_objects(session, data)

    assert [(r.kind, r.record) for r in report.refused] == [
        ("organization", AUBE),
        ("service", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a11"),
        ("service", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a12"),
    ]
    assert report.refused[0].reason == NAME_TAKEN
    aube = session.scalar(select(Organization).where(Organization.external_id == AUBE))
    assert (aube.name, aube.phone) == ("Maison Exemple de l'Aube", "450-555-0190")  # neither field moved
    clinic = organization_named(session, "Clinique juridique Exemple")
    assert clinic.mandate == "Information juridique gratuite, mise à jour."


def test_a_name_another_organization_has_case_aside_is_refused_as_the_pages_refuse_it(session, network):
    import_file(session, SAMPLE)
    data = sample()
    data[0]["name"] = "CENTRE DE FEMMES EXEMPLE DU RUISSEAU"
    data[0]["services"] = []

    report = import_objects(session, data)

    assert [(r.kind, r.record, r.reason) for r in report.refused] == [("organization", AUBE, NAME_TAKEN)]
    assert organization_named(session, "Maison Exemple de l'Aube").external_id == AUBE
    assert organization_named(session, "CENTRE DE FEMMES EXEMPLE DU RUISSEAU") is None


def test_an_import_stopped_half_way_leaves_nothing(session, network, monkeypatch):
    written = []

    def put_then_fail(session, record):
        if written:
            raise RuntimeError("the connection was lost")
        written.append(record)
        return "created"

    monkeypatch.setattr(directory_import, "_put_service", put_then_fail)

    with pytest.raises(RuntimeError):
        import_file(session, SAMPLE)

    assert organization_named(session, "Maison Exemple de l'Aube") is None
    assert session.get(Need, "digital_literacy") is None


def test_a_service_needing_a_refused_need_is_refused(session, network):
    data = sample()
    workshops = next(s for s in data[1]["services"] if s["name"] == "Ateliers numériques")
    term = workshops["attributes"][0]["taxonomy_term"]
    term["code"] = "Littératie!"

    report = import_objects(session, data)

    reasons = {(r.kind, r.record): r.reason for r in report.refused}
    assert reasons[("need", term["id"])].startswith("code: 'Littératie!' must be lowercase")
    assert reasons[("service", "7d0c6a52-2f6e-4b0e-9a53-0b7f4f3c1a22")] == (
        "attributes: its need 'Littératie!' was refused"
    )
    assert counts(report, "service") == (4, 0, 0)


def test_a_file_that_is_not_a_directory_is_refused_whole(session, network, tmp_path):
    not_json = tmp_path / "broken.json"
    not_json.write_text("[{", encoding="utf-8")

    with pytest.raises(DirectoryFileError, match="not a readable JSON file"):
        import_file(session, not_json)
    with pytest.raises(DirectoryFileError, match="expected a list of HSDS organization objects"):
        import_file(session, write_json(tmp_path, {"organizations": []}))
    with pytest.raises(DirectoryFileError, match="no such file"):
        import_file(session, tmp_path / "datapackage.json")


def test_a_csv_row_without_a_name_is_refused_and_the_rest_imported(session, network, tmp_path):
    import_file(session, SAMPLE)
    write_package(tmp_path, export_directory(session), taxonomy_terms(session))
    organization_csv = tmp_path / "organization.csv"
    with organization_csv.open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    rows[0]["name"] = ""
    rows[1]["name"] = "Centre renommé"
    with organization_csv.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    report = import_file(session, tmp_path)

    assert [(r.kind, r.reason) for r in report.refused if r.kind == "organization"] == [
        ("organization", "name: required but missing")
    ]
    assert report.count("organization", "updated") == 1
    assert organization_named(session, "Centre renommé") is not None


# The command ---------------------------------------------------------------------------


@pytest.fixture
def command_database(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    yield runner
    settings.cache_clear()


def test_the_command_reports_imports_idempotently_and_exports(command_database, tmp_path):
    runner = command_database

    first = runner.invoke(main, ["directory", "import", str(SAMPLE)])
    second = runner.invoke(main, ["directory", "import", str(SAMPLE)])
    exported = runner.invoke(main, ["directory", "export", "--format", "csv", "-o", str(tmp_path / "out")])

    assert first.exit_code == 0, first.output
    assert "organizations: 3 created, 0 updated, 0 unchanged, 0 refused" in first.output
    assert second.exit_code == 0, second.output
    assert "organizations: 0 created, 0 updated, 3 unchanged, 0 refused" in second.output
    assert "services:      0 created, 0 updated, 5 unchanged, 0 refused" in second.output
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "out" / "datapackage.json").exists()


def test_the_command_names_each_refused_record_and_exits_1(command_database, tmp_path):
    data = sample()
    data[0]["locations"][0]["languages"] = "fr"

    result = command_database.invoke(main, ["directory", "import", str(write_json(tmp_path, data))])

    assert result.exit_code == 1
    assert f"organization {AUBE}: languages: must be a list" in result.output
    assert "organizations: 2 created" in result.output
    assert "Traceback" not in result.output


def test_the_command_refuses_a_broken_file_with_a_message(command_database, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("not json", encoding="utf-8")

    result = command_database.invoke(main, ["directory", "import", str(broken)])

    assert result.exit_code == 1
    assert "nothing imported:" in result.output
    assert "Traceback" not in result.output


def test_a_service_of_a_table_may_name_an_organization_the_directory_already_has(session, network):
    import_file(session, SAMPLE)
    known = {"id": "5c1b7a9e-0000-4000-8000-000000000001", "organization_id": AUBE, "name": "Répit"}
    unknown = {"id": "5c1b7a9e-0000-4000-8000-000000000002", "organization_id": "nowhere", "name": "Autre"}

    report = import_objects(session, [], loose_services=[known, unknown])

    assert counts(report, "service") == (1, 0, 0)
    assert [(r.record, r.reason) for r in report.refused] == [
        (unknown["id"], "organization_id: 'nowhere' is neither in the file nor in the directory")
    ]
    aube = session.scalar(select(Organization).where(Organization.external_id == AUBE))
    assert "Répit" in {service.name for service in aube.services}


# The fields of HSDS 3.0 (openreferral/specification, schema/) for the objects Maillage writes.
HSDS_FIELDS = {
    "organization": {"id", "name", "alternate_name", "description", "email", "website", "phones", "contacts"}
    | {"locations", "attributes", "services", "additional_websites", "legal_status", "uri", "funding"},
    "service": {"id", "organization_id", "program_id", "name", "alternate_name", "description", "url"}
    | {"email", "status", "attributes", "service_at_locations", "phones", "contacts", "languages"},
    "location": {"id", "location_type", "url", "organization_id", "name", "alternate_name", "description"}
    | {"languages", "addresses", "accessibility", "schedules", "phones", "contacts", "attributes"},
    "phone": {"id", "location_id", "service_id", "organization_id", "contact_id", "number", "type"},
    "contact": {"id", "organization_id", "service_id", "location_id", "name", "title", "department", "email"},
    "language": {"id", "service_id", "location_id", "phone_id", "name", "code", "note"},
    "accessibility": {"id", "location_id", "description", "details", "url"},
    "schedule": {"id", "service_id", "location_id", "service_at_location_id", "description", "opens_at"},
    "attribute": {"id", "link_id", "taxonomy_term_id", "link_type", "link_entity", "value", "taxonomy_term"},
    "taxonomy_term": {"id", "code", "name", "description", "parent_id", "taxonomy", "language", "term_uri"},
    "service_at_location": {"id", "service_id", "location_id", "description"},
}


def test_the_export_uses_only_hsds_fields_and_no_nulls(session, network):
    import_file(session, SAMPLE)

    def check(kind: str, item: dict) -> None:
        assert set(item) <= HSDS_FIELDS[kind], (kind, set(item) - HSDS_FIELDS[kind])
        assert None not in item.values(), (kind, item)

    for organization in export_directory(session):
        check("organization", organization)
        for kind, key in (("phone", "phones"), ("contact", "contacts"), ("attribute", "attributes")):
            for item in organization[key]:
                check(kind, item)
        for location in organization["locations"]:
            check("location", location)
            for kind, key in (("language", "languages"), ("accessibility", "accessibility")):
                for item in location[key]:
                    check(kind, item)
            for item in location["schedules"]:
                check("schedule", item)
        for service in organization["services"]:
            check("service", service)
            for attribute in service["attributes"]:
                check("attribute", attribute)
                check("taxonomy_term", attribute["taxonomy_term"])
            for item in service["service_at_locations"]:
                check("service_at_location", item)
    for term in taxonomy_terms(session):
        check("taxonomy_term", term)


def test_the_commands_answer_help_and_csv_needs_a_folder():
    runner = CliRunner()
    for args in (["directory"], ["directory", "import"], ["directory", "export"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output

    result = runner.invoke(main, ["directory", "export", "--format", "csv"])

    assert result.exit_code == 2
    assert "give a folder with -o/--output" in result.output

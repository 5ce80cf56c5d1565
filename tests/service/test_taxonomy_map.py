"""Stories of 211's categories (other taxonomies' terms) read as Maillage's needs through the mapping file."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli import main
from service.config import settings
from service.directory.models import Need
from service.directory.models import Organization
from service.standards.directory_import import import_objects
from service.standards.taxonomy_map import TaxonomyMap
from service.standards.taxonomy_map import TaxonomyMapError
from service.standards.taxonomy_map import configured_map
from service.standards.taxonomy_map import load_map
from service.standards.taxonomy_map import read_map
from service.standards.taxonomy_map import unknown_needs
from tests.service.test_hsds import SAMPLE
from tests.service.test_hsds import sample

FOOD_PANTRY = {"id": "211-food-1", "code": "BD-1800.2000", "name": "Food Pantries", "taxonomy": "AIRS"}
KNITTING = {"id": "211-knit-1", "code": "PL-9999", "name": "Knitting circles", "taxonomy": "AIRS"}


def with_211_terms(*terms: dict) -> list[dict]:
    """The sample, its centre's first service tagged with 211 terms instead of Maillage's needs."""
    data = sample()
    service = data[1]["services"][0]
    service["attributes"] = [
        {
            "id": f"attr-{term['id']}",
            "link_id": service["id"],
            "link_entity": "service",
            "taxonomy_term_id": term["id"],
            "taxonomy_term": copy.deepcopy(term),
        }
        for term in terms
    ]
    return data


def service_named(session, name: str):
    organization = session.scalar(
        select(Organization).where(Organization.name == "Centre de femmes Exemple du Ruisseau")
    )
    return next(s for s in organization.services if s.name == name)


def test_a_211_term_the_shipped_map_names_gives_its_need(session, network):
    data = with_211_terms(FOOD_PANTRY)

    report = import_objects(session, data)

    assert report.refused == []
    assert report.unmapped == {}
    assert [n.code for n in service_named(session, data[1]["services"][0]["name"]).needs] == ["food"]


def test_a_term_no_entry_names_is_listed_with_its_services_not_dropped_silently(session, network):
    data = with_211_terms(FOOD_PANTRY, KNITTING)

    report = import_objects(session, data)

    service_id = data[1]["services"][0]["id"]
    assert report.unmapped == {"PL-9999 — Knitting circles": [service_id]}
    assert [n.code for n in service_named(session, data[1]["services"][0]["name"]).needs] == ["food"]


def test_the_admins_file_adds_terms_and_wins_over_the_shipped_ones(session, network, tmp_path):
    own = tmp_path / "map.yaml"
    own.write_text('terms:\n  "Knitting Circles": [isolation]\n  "FOOD PANTRIES": []\n', encoding="utf-8")
    data = with_211_terms(FOOD_PANTRY, KNITTING)

    report = import_objects(session, data, taxonomy=load_map(own))

    assert report.unmapped == {}  # an empty list says "no need, on purpose": not listed either
    assert [n.code for n in service_named(session, data[1]["services"][0]["name"]).needs] == ["isolation"]


def test_terms_match_on_code_or_name_case_accents_and_spaces_aside():
    taxonomy = TaxonomyMap({"securite alimentaire": ("food",), "bd-1800": ("food",)})

    assert taxonomy.needs_for("  Sécurité   ALIMENTAIRE ") == ("food",)
    assert taxonomy.needs_for(None, "BD-1800") == ("food",)
    assert taxonomy.needs_for("Tricot") is None


def test_the_shipped_map_names_only_needs_of_the_shipped_taxonomy(session):
    assert unknown_needs(configured_map(), session.scalars(select(Need.code))) == []


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("terms: [a, b]", "expected a 'terms:' mapping"),
        ("terms:\n  Food: {code: food}\n", "give a list of need codes"),
        ("terms: [unclosed", "not a readable UTF-8 YAML file"),
    ],
)
def test_a_broken_mapping_file_says_what_to_fix(tmp_path, text, complaint):
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(TaxonomyMapError, match=complaint):
        read_map(path)


def test_the_command_lists_unmapped_terms_and_reads_the_admins_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MAILLAGE_LANGUAGE", "en")
    settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(with_211_terms(KNITTING)), encoding="utf-8")
    try:
        listed = runner.invoke(main, ["directory", "import", "--dry-run", str(path)])
        monkeypatch.setenv("MAILLAGE_TAXONOMY_MAP", str(tmp_path / "missing.yaml"))
        settings.cache_clear()
        missing = runner.invoke(main, ["directory", "import", str(path)])
    finally:
        settings.cache_clear()

    assert listed.exit_code == 0, listed.output
    assert "Taxonomy terms with no need in the mapping file" in listed.output
    assert "PL-9999 — Knitting circles (1 service(s))" in listed.output
    assert missing.exit_code == 1
    assert "missing.yaml: no such file" in missing.output
    assert "Traceback" not in missing.output


def test_the_sample_still_imports_with_no_unmapped_term(session, network):
    report = import_objects(session, json.loads(Path(SAMPLE).read_text(encoding="utf-8")))

    assert report.unmapped == {}

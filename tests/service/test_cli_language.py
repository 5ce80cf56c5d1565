"""The command line speaks French unless asked for English, as the pages do."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.config import settings


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A person's shell: no language chosen (the tests' default, English, is taken away)."""
    monkeypatch.delenv("MAILLAGE_LANGUAGE", raising=False)
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    settings.cache_clear()
    yield tmp_path / "data"
    settings.cache_clear()


def test_the_demo_speaks_french_and_names_the_roles_in_french(runner, data_dir):
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Réseau de démonstration chargé : 10 organismes fictifs" in result.output
    assert "Courriel" in result.output
    assert "Intervenante" in result.output
    assert "Coordonnatrice" in result.output
    assert " caseworker " not in result.output
    assert "Adresse de Maillage" in result.output


def test_english_on_request_by_option_or_variable(runner, data_dir, monkeypatch):
    result = runner.invoke(main, ["--language", "en", "demo"])
    assert result.exit_code == 0, result.output
    assert "Demo network loaded: 10 fictional organizations" in result.output
    assert "Caseworker" in result.output
    monkeypatch.setenv("MAILLAGE_LANGUAGE", "en")
    assert "already loaded; nothing was added" in runner.invoke(main, ["demo"]).output


def test_accounts_take_role_codes_and_answer_in_french(runner, data_dir):
    assert runner.invoke(main, ["demo"]).exit_code == 0
    organization = ("--org", "maison fictive du phare")
    created = runner.invoke(
        main,
        [
            "users",
            "create",
            "--email",
            "nouvelle@exemple.org",
            *organization,
            "--role",
            "coordinator",
            "--generate",
        ],
    )
    assert created.exit_code == 0, created.output
    assert "Compte créé : nouvelle@exemple.org, Coordonnatrice à Maison Fictive du Phare." in created.output
    assert "Il n'est affiché que cette fois" in created.output
    wrong = runner.invoke(
        main, ["users", "create", "--email", "x@exemple.org", "--org", "1", "--role", "boss"]
    )
    assert wrong.exit_code == 1
    assert "il n'y a pas de rôle 'boss'; les rôles sont : caseworker (Intervenante)" in wrong.output


def test_help_texts_are_in_french_unless_english_is_asked(runner):
    french = runner.invoke(main, ["users", "create", "--help"])
    assert french.exit_code == 0, french.output
    assert "Crée un compte; demande le mot de passe deux fois" in french.output
    assert "Son courriel : elle se connecte avec." in french.output
    listing = runner.invoke(main, ["--help"]).output
    assert "Maillage : protocoles de référencement" in listing
    assert "Démarre Maillage" in listing
    english = runner.invoke(main, ["--language", "en", "users", "create", "--help"])
    assert "Create an account; asks for the password twice" in english.output
    assert "Her email: she signs in with it." in english.output


def test_a_database_not_ready_is_said_in_french(runner, data_dir):
    result = runner.invoke(
        main,
        ["users", "create", "--email", "x@exemple.org", "--org", "1", "--role", "caseworker", "--generate"],
    )
    assert result.exit_code == 1
    assert "n'est pas prête" in result.output
    assert "lancez d'abord `maillage db upgrade`" in result.output

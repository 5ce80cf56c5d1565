"""The command line speaks French unless asked for English, as the pages do."""

from __future__ import annotations

import json
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
    monkeypatch.delenv("MAILLAGE_BASE_URL", raising=False)
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
    assert "Démarrez Maillage avec `maillage run` : il affiche l" in result.output


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


# The protocols, the directory, the worker and beat speak French too ------------------------------

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS = sorted(str(path) for path in (ROOT / "workflows" / "protocols").glob("*.yaml"))
SAMPLE = ROOT / "service" / "standards" / "samples" / "directory.json"


@pytest.mark.parametrize(
    ("command", "french", "english"),
    [
        (["protocols"], "Protocoles de référencement : les fichiers", "Referral protocols: the files"),
        (["protocols", "check"], "affiche chaque problème sous la forme", "print each problem as"),
        (["protocols", "show"], "La langue du protocole : fr ou en", "The protocol's language: fr or en"),
        (["protocols", "diagram"], "Un schéma du protocole NAME", "A picture of protocol NAME"),
        (["directory"], "Organismes, services et besoins", "Organizations, services and needs"),
        (["directory", "import"], "Vérifie le fichier et dit ce qui changerait", "Check the file and say"),
        (["directory", "export"], "Écrit le répertoire en HSDS 3", "Write the directory as HSDS 3"),
        (["worker"], "Démarre aussi le planificateur ici", "Also run the scheduler here"),
        (["beat"], "Démarre le planificateur : le relais", "Run the scheduler: the outbox relay"),
    ],
)
def test_every_command_helps_in_french_unless_english_is_asked(runner, command, french, english):
    shown = runner.invoke(main, [*command, "--help"])
    assert shown.exit_code == 0, shown.output
    assert french in " ".join(shown.output.split())
    asked = runner.invoke(main, ["--language", "en", *command, "--help"])
    assert english in " ".join(asked.output.split())


def test_protocol_commands_speak_french_and_keep_the_checkers_lines(runner, tmp_path):
    checked = runner.invoke(main, ["protocols", "check", *PROTOCOLS])
    assert checked.exit_code == 0, checked.output
    assert f"{len(PROTOCOLS)} fichier(s) de protocole sans problème." in checked.output
    # Editors and scripts read a problem as FILE:LINE: FIELD: PROBLEM, in any language.
    standard = ROOT / "workflows" / "protocols" / "standard.v1.yaml"
    broken = tmp_path / "broken.v1.yaml"
    text = standard.read_text(encoding="utf-8")
    broken.write_text(text.replace("    to: received\n", "    to: recieved\n"), encoding="utf-8")
    line = text[: text.index("    to: received\n")].count("\n") + 1
    refused = runner.invoke(main, ["protocols", "check", str(broken)])
    assert refused.exit_code == 1
    assert f"{broken}:{line}: transitions[2].to: unknown state 'recieved'" in refused.output

    shown = runner.invoke(main, ["protocols", "show", "standard"])
    assert shown.exit_code == 0, shown.output
    assert "Référencement standard (standard, version 1)" in shown.output
    for words in (
        "ÉTATS",
        "délai : Accuser réception",
        "(paramètre receipt_deadline) : rappel",
        "par sender",
    ):
        assert words in shown.output
    assert "STATES" not in shown.output
    english = runner.invoke(main, ["--language", "en", "protocols", "show", "standard"])
    assert "Standard referral (standard, version 1)" in english.output
    assert "deadline: Acknowledge receipt" in english.output
    # The protocol's own language may be asked apart from the command's.
    mixed = runner.invoke(main, ["protocols", "show", "standard", "--language", "en"])
    assert "STATES" in mixed.output

    unknown = runner.invoke(main, ["protocols", "show", "standrd"])
    assert unknown.exit_code == 1
    assert "aucun protocole nommé standrd; `maillage protocols list` affiche" in unknown.output
    assert "Mermaid" not in runner.invoke(main, ["protocols", "diagram", "standard"]).output
    assert "Brouillon" in runner.invoke(main, ["protocols", "diagram", "standard"]).output
    written = runner.invoke(main, ["protocols", "diagram", "standard", "-o", str(tmp_path / "standard.mmd")])
    assert f"{tmp_path / 'standard.mmd'} écrit." in written.output


def test_the_directory_commands_speak_french_and_keep_the_files_as_they_are(runner, data_dir, tmp_path):
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    imported = runner.invoke(main, ["directory", "import", str(SAMPLE), "--dry-run"])
    assert imported.exit_code == 0, imported.output
    assert "organismes : créés : 3, mis à jour : 0, inchangés : 0, refusés : 0" in imported.output
    assert "Essai à blanc : rien n\N{RIGHT SINGLE QUOTATION MARK}a été écrit." in imported.output
    english = runner.invoke(main, ["--language", "en", "directory", "import", str(SAMPLE)])
    assert "organizations: 3 created, 0 updated, 0 unchanged, 0 refused" in english.output

    exported = runner.invoke(main, ["directory", "export"])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.output)) == 3
    to_file = runner.invoke(main, ["directory", "export", "-o", str(tmp_path / "directory.json")])
    assert "3 organisme(s) écrit(s) dans" in to_file.output
    no_folder = runner.invoke(main, ["directory", "export", "--format", "csv"])
    assert no_folder.exit_code == 2
    assert "donnez un dossier avec -o/--output" in no_folder.output
    broken = tmp_path / "broken.json"
    broken.write_text("[", encoding="utf-8")
    refused = runner.invoke(main, ["directory", "import", str(broken)])
    assert refused.exit_code == 1
    assert "rien n\N{RIGHT SINGLE QUOTATION MARK}a été importé" in refused.output

"""The `maillage` command line as a person uses it: exit codes and plain messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.config import settings


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_answers_help(runner):
    for args in (
        [],
        ["db"],
        ["db", "upgrade"],
        ["protocols"],
        ["protocols", "check"],
        ["protocols", "list"],
        ["protocols", "show"],
    ):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output


def test_check_passes_the_shipped_protocols(runner, protocols_folder):
    files = sorted(str(p) for p in protocols_folder.glob("*.yaml"))
    result = runner.invoke(main, ["protocols", "check", *files])
    assert result.exit_code == 0
    assert f"{len(files)} protocol file(s) OK." in result.output


def test_check_names_file_line_field_and_problem(runner, protocols_folder, tmp_path: Path):
    broken = tmp_path / "broken.v1.yaml"
    text = (protocols_folder / "standard.v1.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("    to: received\n", "    to: recieved\n"), encoding="utf-8")
    result = runner.invoke(main, ["protocols", "check", str(broken), str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    line = text[: text.index("    to: received\n")].count("\n") + 1
    assert f"{broken}:{line}: transitions[2].to: unknown state 'recieved'" in result.output
    assert f"{tmp_path / 'missing.yaml'}: no such file" in result.output
    assert "Traceback" not in result.output


def test_list_and_show_describe_the_protocols(runner):
    listed = runner.invoke(main, ["protocols", "list"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == [
        "accompanied",
        "activity",
        "join_request",
        "loan",
        "mobilization",
        "presentation",
        "session",
        "standard",
        "urgent",
    ]
    shown = runner.invoke(main, ["protocols", "show", "standard", "--language", "en"])
    assert shown.exit_code == 0
    assert "Standard referral (standard, version 1)" in shown.output
    assert "acknowledge            sent → received" in shown.output
    assert "after 2 business days (parameter receipt_deadline): reminder" in shown.output


def test_show_says_when_a_deadline_counts_from_a_date_of_the_request(runner):
    shown = runner.invoke(main, ["protocols", "show", "loan", "--language", "en"])
    assert shown.exit_code == 0
    assert "2 days before starts_at: reminder; partnership_request_reminder → answering" in shown.output
    assert "1 day after ends_at: reminder" in shown.output
    french = runner.invoke(main, ["protocols", "show", "loan", "--language", "fr"])
    assert "5 days après ends_at : escalade" in french.output


def test_show_of_an_unknown_protocol_is_a_clear_error(runner):
    result = runner.invoke(main, ["protocols", "show", "standrd"])
    assert result.exit_code == 1
    assert "no protocol named standrd" in result.output
    result = runner.invoke(main, ["protocols", "show", "standard", "--version", "9"])
    assert "no protocol named standard version 9" in result.output


def test_db_upgrade_creates_the_embedded_database_and_is_repeatable(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    settings.cache_clear()
    try:
        first = runner.invoke(main, ["db", "upgrade"])
        again = runner.invoke(main, ["db", "upgrade"])
    finally:
        settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert (tmp_path / "data" / "maillage.db").exists()
    assert "27 needs added" in first.output
    assert "0 needs added" in again.output


def test_db_upgrade_on_an_unreachable_database_says_so(runner, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    settings.cache_clear()
    try:
        result = runner.invoke(main, ["db", "upgrade"])
    finally:
        settings.cache_clear()
    assert result.exit_code == 1
    assert "could not be upgraded" in result.output
    assert "Traceback" not in result.output


def test_diagram_draws_mermaid_and_svg(runner, tmp_path):
    drawn = runner.invoke(
        main, ["protocols", "diagram", "standard", "--format", "mermaid", "--language", "fr"]
    )
    assert drawn.exit_code == 0
    assert "stateDiagram-v2" in drawn.output
    assert 'state "Envoyé" as sent' in drawn.output
    target = tmp_path / "standard.svg"
    written = runner.invoke(
        main, ["protocols", "diagram", "urgent", "--format", "svg", "--language", "en", "-o", str(target)]
    )
    assert written.exit_code == 0
    picture = target.read_text(encoding="utf-8")
    assert "<svg" in picture
    assert "Urgent referral" in picture
    unknown = runner.invoke(main, ["protocols", "diagram", "nope"])
    assert unknown.exit_code == 1
    assert "no protocol named nope" in unknown.output

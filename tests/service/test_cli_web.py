"""`maillage demo`, `maillage run` and `maillage users create` as a person uses them."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.cli.run import Embedded
from service.cli.run import embedded
from service.config import Settings
from service.config import settings
from service.demo import DEMO_PASSWORD


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded default: SQLite in a folder of its own, in development mode."""
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    # `maillage run` sets the address it serves when none is set: set then removed, so that
    # monkeypatch restores its absence and no later test (the demo's) sees this one's address.
    monkeypatch.setenv("MAILLAGE_BASE_URL", "unset")
    monkeypatch.delenv("MAILLAGE_BASE_URL")
    settings.cache_clear()
    yield tmp_path / "data"
    settings.cache_clear()


@pytest.fixture
def demo_loaded(runner, data_dir) -> Path:
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    return data_dir


def test_every_new_command_answers_help(runner):
    for args in (["demo"], ["run"], ["users"], ["users", "create"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output


# maillage demo ---------------------------------------------------------------------


def test_demo_loads_into_an_empty_database_and_prints_the_logins(runner, data_dir):
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert (data_dir / "maillage.db").exists()
    assert "Demo network loaded: 10 fictional organizations" in result.output
    for role in ("Caseworker", "Coordinator", "Partner contact", "Regional admin"):
        assert role in result.output
    assert "intervenante.ilot@demo.example" in result.output
    assert DEMO_PASSWORD in result.output


def test_the_demo_names_no_address_it_cannot_know(runner, data_dir, monkeypatch):
    """`make run PORT=5302` runs the demo, then `maillage run --port 5302`: only run knows the port."""
    monkeypatch.delenv("MAILLAGE_BASE_URL", raising=False)
    guessed = runner.invoke(main, ["demo"])
    assert guessed.exit_code == 0, guessed.output
    assert "http://" not in guessed.output
    assert "Start Maillage with `maillage run`: it prints the address to open." in guessed.output
    monkeypatch.setenv("MAILLAGE_BASE_URL", "https://maillage.example.org")
    settings.cache_clear()
    told = runner.invoke(main, ["demo"])
    assert "Maillage's address: https://maillage.example.org" in told.output


def test_demo_a_second_time_says_it_is_already_loaded(runner, demo_loaded):
    again = runner.invoke(main, ["demo"])
    assert again.exit_code == 0, again.output
    assert "already loaded; nothing was added" in again.output
    assert "intervenante.ilot@demo.example" in again.output


# maillage users create ------------------------------------------------------------


def test_a_coordinator_account_with_a_generated_password(runner, demo_loaded):
    result = runner.invoke(
        main,
        [
            *("users", "create", "--email", "Nouvelle@Exemple.org", "--org", "maison fictive du phare"),
            *("--role", "coordinator", "--name", "Nouvelle Fictive", "--generate"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Account created: Nouvelle@exemple.org, Coordinator at Maison Fictive du Phare." in result.output
    password = result.output.split("Password: ")[1].split()[0]
    assert len(password) >= 12


def test_the_password_is_asked_twice_and_must_be_long_enough(runner, demo_loaded):
    short = runner.invoke(
        main,
        ["users", "create", "--email", "courte@exemple.org", "--org", "1", "--role", "caseworker"],
        input="court\ncourt\n",
    )
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    good = runner.invoke(
        main,
        ["users", "create", "--email", "longue@exemple.org", "--org", "1", "--role", "caseworker"],
        input="un mot de passe assez long\nun mot de passe assez long\n",
    )
    assert good.exit_code == 0, good.output
    assert "un mot de passe assez long" not in good.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--org", "Maison Fictive du Phar", "--role", "caseworker"],
            "did you mean: Maison Fictive du Phare",
        ),
        (["--org", "999", "--role", "caseworker"], "there is no organization with id 999"),
        (
            ["--org", "1", "--role", "boss"],
            "there is no role 'boss'; the roles are: caseworker (Caseworker), coordinator (Coordinator)",
        ),
        (["--role", "caseworker"], "a caseworker belongs to an organization"),
        (["--org", "1", "--role", "regional_admin"], "a regional admin belongs to no organization"),
    ],
)
def test_mistakes_are_plain_errors(runner, demo_loaded, args, message):
    result = runner.invoke(main, ["users", "create", "--email", "x@exemple.org", *args, "--generate"])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_email_already_used_is_refused(runner, demo_loaded):
    result = runner.invoke(
        main,
        [
            *("users", "create", "--email", "INTERVENANTE.ilot@demo.example", "--org", "1"),
            *("--role", "caseworker", "--generate"),
        ],
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_users_create_before_the_database_exists_says_what_to_do(runner, data_dir):
    result = runner.invoke(
        main,
        ["users", "create", "--email", "x@exemple.org", "--org", "1", "--role", "caseworker", "--generate"],
    )
    assert result.exit_code == 1
    assert "run `maillage db upgrade` first" in result.output


# maillage run --------------------------------------------------------------------------


def test_the_embedded_server_is_bound_and_serves_the_app(data_dir):
    maillage = embedded("127.0.0.1", 0)
    port = maillage.server.effective_port
    assert maillage.address == f"http://127.0.0.1:{port}/"
    assert "links" in maillage.app.blueprints
    answers = []

    def browse() -> None:
        with urllib.request.urlopen(f"{maillage.address}sign-in", timeout=10) as response:  # noqa: S310
            answers.append((response.status, response.read()))

    browser = threading.Thread(target=browse)
    browser.start()
    # The server's loop turns in this thread, so it is stopped where it runs.
    deadline = time.monotonic() + 10
    while browser.is_alive() and time.monotonic() < deadline:
        maillage.server.asyncore.loop(timeout=0.05, map=maillage.server._map, count=1)
    browser.join()
    maillage.stop()
    [(status, page)] = answers
    assert status == 200
    assert b"<form" in page


def test_run_upgrades_the_database_then_serves_in_development_mode(runner, data_dir, monkeypatch):
    # The variable is set then removed so that monkeypatch restores its absence afterwards.
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.delenv("MAILLAGE_ENV")
    served = []
    monkeypatch.setattr(Embedded, "serve", lambda self: (served.append(self.address), self.stop()))
    result = runner.invoke(main, ["run", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert os.environ["MAILLAGE_ENV"] == "development"
    assert (data_dir / "maillage.db").exists()
    assert f"Maillage is running at {served[0]}" in result.output


def test_run_on_a_port_in_use_says_so(runner, data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["run", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_run_on_another_port_puts_that_address_in_the_emails(runner, data_dir, monkeypatch):
    # Set then removed, so that monkeypatch restores their absence after `run` sets them.
    monkeypatch.setenv("MAILLAGE_BASE_URL", "unset")
    monkeypatch.delenv("MAILLAGE_BASE_URL")
    seen = []

    def serve(self: Embedded) -> None:
        seen.append((self.address, settings().base_url, self.app.config["PUBLIC_BASE_URL"]))
        self.stop()

    monkeypatch.setattr(Embedded, "serve", serve)
    result = runner.invoke(main, ["run", "--port", "0", "--no-worker"])
    assert result.exit_code == 0, result.output
    [(address, base_url, public)] = seen
    assert address != "http://127.0.0.1:5000/"
    assert base_url == public == address.rstrip("/")
    # The worker, started after this, inherits it.
    assert os.environ["MAILLAGE_BASE_URL"] == address.rstrip("/")


def test_run_keeps_the_base_url_it_is_given(runner, data_dir, monkeypatch):
    monkeypatch.setenv("MAILLAGE_BASE_URL", "https://maillage.example.org")
    seen = []
    monkeypatch.setattr(Embedded, "serve", lambda self: (seen.append(settings().base_url), self.stop()))
    result = runner.invoke(main, ["run", "--port", "0", "--no-worker"])
    assert result.exit_code == 0, result.output
    assert seen == ["https://maillage.example.org"]


def test_commands_run_from_any_folder_use_the_same_data(runner, tmp_path, monkeypatch):
    """Without MAILLAGE_DATA_DIR the data lives in the user's data folder, not the current one."""
    monkeypatch.delenv("MAILLAGE_DATA_DIR", raising=False)
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home-data"))
    for folder in ("checkout", "elsewhere"):
        (tmp_path / folder).mkdir()
    settings.cache_clear()
    try:
        monkeypatch.chdir(tmp_path / "checkout")
        assert runner.invoke(main, ["demo"]).exit_code == 0
        monkeypatch.chdir(tmp_path / "elsewhere")
        settings.cache_clear()
        result = runner.invoke(
            main,
            [
                *("users", "create", "--email", "ailleurs@exemple.org", "--org", "1"),
                "--role",
                "caseworker",
                "--generate",
            ],
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / "home-data" / "maillage" / "maillage.db").exists()
        assert not (tmp_path / "checkout" / "instance").exists()
        assert not (tmp_path / "elsewhere" / "instance").exists()
    finally:
        settings.cache_clear()


def test_the_data_folder_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home-data"))
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "chosen"))
    assert Settings().data_dir == tmp_path / "chosen"


# make run, make test ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def make_dry_run(*arguments: str) -> str:
    """The commands `make` would run, without running them (nor installing anything)."""
    done = subprocess.run(  # noqa: S603 - a fixed command
        ["make", "--dry-run", "--always-make", "-C", str(ROOT), *arguments],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_run_listens_where_it_is_told():
    assert "maillage run --host 127.0.0.1 --port 5000" in make_dry_run("run")
    assert "maillage run --host 0.0.0.0 --port 5302" in make_dry_run("run", "PORT=5302", "HOST=0.0.0.0")


def test_make_test_shows_the_slowest_tests_and_the_install_says_what_it_does():
    commands = make_dry_run("test")
    assert re.search(r"pytest .*--durations=15", commands)
    assert "a few minutes the first time" in commands

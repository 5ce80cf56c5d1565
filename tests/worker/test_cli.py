"""`maillage worker`, `maillage beat`, and `maillage run` starting web, worker and beat together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.cli.worker import worker_arguments
from service.config import settings
from tests.worker.conftest import free_port
from tests.worker.conftest import wait_until

MAILLAGE = Path(sys.executable).parent / "maillage"


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_worker_and_beat_answer_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main" in result.output or "Usage: maillage" in result.output
    assert "MAILLAGE_" in result.output


def test_the_embedded_worker_runs_solo_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("MAILLAGE_BROKER_URL", raising=False)
    monkeypatch.setenv("MAILLAGE_QUEUE", "maillage")
    settings.cache_clear()
    try:
        assert worker_arguments(beat=True, loglevel="INFO") == [
            "worker", "--queues", "maillage", "--loglevel", "INFO", "--beat", "--pool", "solo",
        ]  # fmt: skip
        assert "solo" not in worker_arguments(beat=False, loglevel="INFO", extra=["--pool=threads"])
        monkeypatch.setenv("MAILLAGE_BROKER_URL", "redis://redis:6379/0")
        settings.cache_clear()
        assert "--pool" not in worker_arguments(beat=False, loglevel="INFO")
    finally:
        settings.cache_clear()


def test_run_starts_the_web_a_worker_and_its_beat_which_deliver_the_demos_emails(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(MAILLAGE_DATA_DIR=str(tmp_path / "data"), MAILLAGE_RELAY_INTERVAL="0.5")
    demo = subprocess.run([MAILLAGE, "demo"], env=env, cwd=tmp_path, capture_output=True, check=False)  # noqa: S603
    assert demo.returncode == 0, demo.stderr
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        run = subprocess.Popen(  # noqa: S603 - our own command
            [MAILLAGE, "run", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    mailbox = tmp_path / "data" / "mailbox"
    try:
        wait_until(lambda: b"Maillage is running at" in log.read_bytes(), what="the web server")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in") as page:
            assert page.status == 200
        wait_until(lambda: b"beat: Starting" in log.read_bytes(), what="the beat")
        # The demo's referrals wrote outbox rows: the beat's relay hands them to the worker.
        wait_until(lambda: mailbox.exists() and any(mailbox.glob("*.eml")), what="emails in the mailbox")
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert "Maillage stopped." in output, output[-3000:]
    time.sleep(0.5)
    assert not _celery_children(run.pid), "the worker stops with the server"


def _celery_children(parent: int) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "ppid=,args="], capture_output=True, text=True, check=False)  # noqa: S607
    return [
        line for line in listing.stdout.splitlines() if line.split()[0] == str(parent) and "celery" in line
    ]

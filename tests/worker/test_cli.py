"""`maillage worker`, `maillage beat`, and `maillage run` starting web, worker and beat together."""

from __future__ import annotations

import email
import email.policy
import logging
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
        # In French, as a person gets it without asking for another language.
        wait_until(lambda: "Maillage tourne à l'adresse".encode() in log.read_bytes(), what="the web server")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in") as page:
            assert page.status == 200
        wait_until(lambda: b"beat: Starting" in log.read_bytes(), what="the beat")
        # The demo's referrals wrote outbox rows: the beat's relay hands them to the worker.
        wait_until(lambda: mailbox.exists() and any(mailbox.glob("*.eml")), what="emails in the mailbox")
        # Two processes, which is what one machine's memory can spare: the web, and one worker that
        # runs the beat in a thread (no process forked for it) and the tasks in its own (solo pool).
        workers = _child_pids(run.pid)
        assert len(workers) == 1, workers
        assert _child_pids(workers[0]) == []
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert "Maillage est arrêté." in output, output[-3000:]
    # Without MAILLAGE_BASE_URL, the links lead to the port it serves, not to 5000.
    letters = "".join(
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
        for path in mailbox.glob("*.eml")
    )
    assert f"http://127.0.0.1:{port}/" in letters
    assert "127.0.0.1:5000" not in letters
    # Quiet when nothing happens: no line for each pass of the relay, no warning nobody can act on.
    assert "relay_outbox" not in output
    assert "relay-outbox" not in output
    assert "WARNING" not in output
    assert "SecurityWarning" not in output
    time.sleep(0.5)
    assert not _celery_children(run.pid), "the worker stops with the server"


def _child_pids(parent: int) -> list[int]:
    listing = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=False)  # noqa: S607
    return [
        int(pid)
        for pid, ppid in (line.split() for line in listing.stdout.splitlines())
        if ppid == str(parent)
    ]


def _celery_children(parent: int) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "ppid=,args="], capture_output=True, text=True, check=False)  # noqa: S607
    return [
        line for line in listing.stdout.splitlines() if line.split()[0] == str(parent) and "celery" in line
    ]


def test_the_relay_and_sweep_ticks_leave_no_line_but_their_warnings_and_other_tasks_do(caplog):
    import worker.app  # noqa: F401 - installs its filters on Celery's loggers

    caplog.set_level(logging.INFO)
    beat = logging.getLogger("celery.beat")
    received = logging.getLogger("celery.worker.strategy")
    done = logging.getLogger("celery.app.trace")
    beat.info("Scheduler: Sending due task %s (%s)", "relay-outbox", "maillage.relay_outbox")
    beat.info("Scheduler: Sending due task %s (%s)", "sweep-deadlines", "maillage.sweep_deadlines")
    received.info("Task %s[%s] received", "maillage.relay_outbox", "b392")
    logging.getLogger("celery.worker.request").info(
        "Discarding revoked task: %s[%s]", "maillage.relay_outbox", "a1"
    )
    outcome = {"name": "maillage.relay_outbox", "id": "b392", "runtime": 0.002, "return_value": 0}
    done.info("Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", outcome)
    assert caplog.records == []
    done.info("Task %s[%s] succeeded", "maillage.send_batch", "c1")
    beat.warning("Task %s raised", "maillage.relay_outbox")
    by_hand = {**outcome, "name": "maillage.sweep_deadlines", "kwargs": "{'at': '2025-06-24T23:00:00'}"}
    done.info("Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", by_hand)
    assert [record.levelname for record in caplog.records] == ["INFO", "WARNING", "INFO"]

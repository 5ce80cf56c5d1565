"""One action, one id, in the web's log and the worker's: a caseworker sends a referral through
the web app with `X-Request-ID`; the emails that sending queues keep the id, and the worker's
JSON line for each of them, sent later from the outbox, carries it.
"""

from __future__ import annotations

import json
import re
import subprocess
from unittest import mock

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli.worker import worker
from service.config import settings
from service.directory.models import Organization
from service.directory.needs import seed_needs
from service.notifications.models import OutboxMessage
from tests.conftest import sign_in
from tests.worker.conftest import WorkerProcess
from tests.worker.conftest import opened_from_the_web
from tests.worker.conftest import wait_until
from tests.worker.test_canary import all_sent
from tests.worker.test_canary import version
from worker.app import celery

REQUEST_ID = "send-4f2c9e.A_1"
HER = {
    "name": "Fictive Requestid",
    "phone": "450-555-0142",
    "email": "fictive.requestid@example.net",
    "language": "",
    "contact_preferences": "",
    "safety_constraints": "",
    "notes": "",
}


class QuietWorker(WorkerProcess):
    """The conftest's worker without Celery's banner, as `maillage worker` runs it when logs are JSON."""

    def start(self, *, beat: bool = False, pool: str = "solo") -> WorkerProcess:
        popen = subprocess.Popen

        def quiet(command: list[str], **options):
            command = list(command)
            command.insert(command.index("worker.app") + 1, "--quiet")
            return popen(command, **options)

        with mock.patch.object(subprocess, "Popen", quiet):
            return super().start(beat=beat, pool=pool)


@pytest.fixture
def json_worker(worker_env, tmp_path):
    process = QuietWorker(env={**worker_env, "MAILLAGE_LOG_FORMAT": "json"}, log=tmp_path / "worker")
    yield process
    process.stop()


def test_the_worker_logs_the_email_a_request_caused_with_that_request_id(
    session, world, sink, json_worker, run_relay, web_app
):
    seed_needs(session)
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = "accueil@phare.example.org"
    session.commit()
    json_worker.start()

    caseworker = sign_in(web_app.test_client(), world.centre.caseworker, session)
    referral_id = opened_from_the_web(caseworker, shelter.id, HER)
    consented = caseworker.post(
        f"/referrals/{referral_id}/consent",
        data={"method": "verbal", "shared_with": "name and phone", "purpose": "shelter"},
    )
    assert consented.status_code == 303, consented.text
    sent = caseworker.post(
        f"/referrals/{referral_id}/actions",
        data={"trigger": "send", "send-version": version(session, referral_id)},
        headers={"X-Request-ID": REQUEST_ID},
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["X-Request-ID"] == REQUEST_ID

    # The sending queued its emails under the request's id.
    session.rollback()
    queued = session.scalars(select(OutboxMessage.id).where(OutboxMessage.request_id == REQUEST_ID)).all()
    session.rollback()
    assert queued

    # Later, from the outbox, the worker sends them: each one's line carries the id.
    run_relay()
    all_sent(session)

    def sent_lines() -> list[dict]:
        lines = [json.loads(line) for line in json_worker.logs().splitlines() if line.strip()]
        return [line for line in lines if re.fullmatch(r"outbox message \d+ sent", line["message"])]

    wait_until(lambda: len(sent_lines()) >= len(queued), what="the worker's lines")
    traced = {int(line["message"].split()[2]) for line in sent_lines() if line["request_id"] == REQUEST_ID}
    assert traced == set(queued)
    assert sink.messages()
    # Every line the worker wrote is one JSON object with the same fields, and none holds her name.
    written = json_worker.logs()
    for line in written.splitlines():
        assert {"time", "level", "logger", "message", "request_id"} <= set(json.loads(line)), line
    assert HER["name"] not in written


@pytest.mark.parametrize(("log_format", "first"), [("json", "--quiet"), ("plain", "worker")])
def test_maillage_worker_prints_no_banner_when_logs_are_json(monkeypatch, log_format, first):
    """Celery's banner is printed, not logged: in JSON it would be the one line a collector cannot read."""
    started = []
    monkeypatch.setenv("MAILLAGE_LOG_FORMAT", log_format)
    monkeypatch.setattr(celery, "start", started.append)
    settings.cache_clear()
    try:
        assert CliRunner().invoke(worker, []).exit_code == 0
    finally:
        settings.cache_clear()
    assert started[0][0] == first

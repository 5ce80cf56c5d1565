"""The canary: a referral carrying unmistakable fake personal data lives its whole life through the
real pieces (the web app, a Celery worker on Redis, an SMTP server), everything logging at DEBUG.
Afterwards none of it may be found where it must never go: logs, emails, Celery messages, URLs,
and, once purged, the database. The anonymized record stays.

How each channel is watched:
- logs: the test process's records at DEBUG (pytest's `caplog`: the app, the relay, the SMTP
  server) and the worker's own log file, the worker started with `--loglevel DEBUG` (Celery and
  kombu at DEBUG). SQLAlchemy's loggers keep the WARNING level SQLAlchemy gives them: turned to
  DEBUG by hand they print every row read, a developer's tool that no setting of ours enables;
- emails: every message the SMTP server received, headers and every decoded part;
- Celery messages: a Redis `MONITOR` connection held open for the whole test sees every command
  every client sends; the messages Celery pushes carry a base64 body, which is decoded, and
  both the raw commands and the decoded bodies are searched;
- URLs: a `before_request` hook of the test's app keeps every path and query string requested,
  and every `Location` it answered with;
- the database: every column of every table (reflected, so tables this test does not know are
  included), before the purge (where the canary must be found: the search works) and after;
- the document store: the folder the web app and the worker share, whose files must hold nothing
  readable of her PDF, and nothing at all once purged.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import random
import re
import subprocess
import threading
import warnings
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from unittest import mock

import pytest
import redis
from flask import request
from sqlalchemy import MetaData
from sqlalchemy import select
from sqlalchemy.exc import SAWarning

from service.config import settings
from service.directory.models import Organization
from service.directory.needs import seed_needs
from service.notifications.models import OutboxMessage
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from tests.conftest import sign_in
from tests.service.test_documents import pdf
from tests.worker.conftest import BASE_URL
from tests.worker.conftest import WorkerProcess
from tests.worker.conftest import opened_from_the_web
from tests.worker.conftest import wait_until
from tests.worker.test_deadlines import sweep_at
from tests.worker.test_notifications import everything_in
from tests.worker.test_periodic import run_at
from worker.app import RETENTION

# Letters that never occur in hexadecimal: no task id, token or hash can contain the tag by chance.
TAG = "".join(random.choice("ghjkmnpqrstvwxyz") for _ in range(10))
PHONE_DIGITS = "450555" + "".join(random.choice("0123456789") for _ in range(4))
HER = {
    "name": f"Canari{TAG} Nomfictif",
    "phone": f"{PHONE_DIGITS[:3]}-{PHONE_DIGITS[3:6]}-{PHONE_DIGITS[6:]}",
    "email": f"canari.{TAG}@example.net",
    "language": f"Canari{TAG}-langue",
    "contact_preferences": f"Canari{TAG} texto seulement le mardi",
    "safety_constraints": f"Canari{TAG} jamais de message vocal",
    "notes": f"Canari{TAG} vit chez sa soeur",
}
CONSENT = {"shared_with": f"Canari{TAG} nom et telephone", "purpose": f"Canari{TAG} hebergement"}
COMMENTS = {
    "first_contact": f"Canari{TAG} jointe au 2e essai",
    "close": f"Canari{TAG} bien installee",
    "partner_message": f"Canari{TAG} elle a besoin de sa carte soleil",
    "caseworker_message": f"Canari{TAG} appeler apres 15 h seulement",
}
# Inside the PDF the centre attaches: a signed consent naming her.
DOCUMENT_TEXT = f"Canari{TAG} consentement signe par elle"
CANARIES = [TAG, *HER.values(), *CONSENT.values(), *COMMENTS.values(), DOCUMENT_TEXT]


def leaks(text: str) -> list[str]:
    """The canary strings found in `text`, ignoring case; her phone also as bare digits."""
    folded = text.casefold()
    found = [canary for canary in CANARIES if canary.casefold() in folded]
    if PHONE_DIGITS in re.sub(r"\D", "", text):
        found.append(PHONE_DIGITS)
    return found


# The worker at DEBUG ----------------------------------------------------------------------


class DebugWorker(WorkerProcess):
    """The conftest's worker, its `--loglevel` raised to DEBUG (the conftest starts it at INFO)."""

    def start(self, *, beat: bool = False) -> WorkerProcess:
        popen = subprocess.Popen

        def at_debug(command: list[str], **options):
            command = list(command)
            command[command.index("--loglevel") + 1] = "DEBUG"
            return popen(command, **options)

        with mock.patch.object(subprocess, "Popen", at_debug):
            return super().start(beat=beat)


@pytest.fixture
def debug_worker(worker_env, tmp_path):
    process = DebugWorker(env=worker_env, log=tmp_path / "worker")
    yield process
    process.stop()


# Redis MONITOR -----------------------------------------------------------------------------


@dataclass
class RedisWatch:
    """Every command Redis receives while the test runs, from every client."""

    url: str
    commands: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        # No read timeout (redis-py's default is 5 s): the test may well pause longer than that.
        client = redis.Redis.from_url(self.url, socket_timeout=None)
        with client.monitor() as monitor:
            self.ready.set()
            while not self.stop.is_set():
                self.commands.append(monitor.next_command()["command"])
        client.close()

    def start(self) -> None:
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "the MONITOR connection did not open"

    def finish(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        # One more command wakes the reader up, which then sees it must stop.
        client = redis.Redis.from_url(self.url)
        client.ping()
        client.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the MONITOR connection did not close"

    def celery_messages(self, queue: str) -> list[tuple[dict, str]]:
        """The Celery messages pushed onto `queue`: each as its envelope and its decoded body."""
        messages = []
        for command in self.commands:
            if not command.upper().startswith("LPUSH") or queue not in command:
                continue
            envelope = json.loads(command.split(" ", 2)[2])
            body = envelope["body"]
            if envelope.get("properties", {}).get("body_encoding") == "base64":
                try:
                    body = base64.b64decode(body).decode()
                except (binascii.Error, UnicodeDecodeError):
                    body = repr(base64.b64decode(body))
            messages.append((envelope, body))
        return messages


@pytest.fixture
def redis_watch(redis_url):
    watch = RedisWatch(redis_url)
    watch.start()
    yield watch
    watch.finish()


# The database, every column ---------------------------------------------------------------


def dump_database(engine) -> str:
    """Every value of every column of every table there is, as text."""
    metadata = MetaData()
    with warnings.catch_warnings():
        # SQLite cannot reflect the expression keys of some indexes (migration 0030): only their rows matter.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        metadata.reflect(engine)
    lines = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


# The story -------------------------------------------------------------------------------


def test_a_canary_referral_leaves_no_trace_outside_its_page_and_none_at_all_once_purged(
    session,
    engine,
    protocols,
    world,
    sink,
    debug_worker,
    publisher,
    run_relay,
    redis_watch,
    queue,
    clock,
    caplog,
    web_app,
    worker_env,
    monkeypatch,
    tmp_path,
):
    caplog.set_level(logging.DEBUG)
    # One document store for the web app and the worker (whose retention job erases it), as the
    # data volume docker-compose.yml gives both.
    documents = tmp_path / "documents"
    monkeypatch.setenv("MAILLAGE_DOCUMENTS_URL", str(documents))
    settings.cache_clear()
    worker_env["MAILLAGE_DOCUMENTS_URL"] = str(documents)
    seed_needs(session)
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = "accueil@phare.example.org"
    session.commit()
    debug_worker.start()

    # The web app on the worker's database, at DEBUG too, keeping every address it is asked for.
    app = web_app
    app.logger.setLevel(logging.DEBUG)
    urls: list[str] = []
    app.before_request(lambda: urls.append(request.full_path))

    @app.after_request
    def keep_location(response):
        urls.append(response.headers.get("Location", ""))
        return response

    # Intake, consent and sending, from the web, by the centre's caseworker.
    caseworker = sign_in(app.test_client(), world.centre.caseworker, session)
    referral_id = opened_from_the_web(caseworker, shelter.id, HER)
    consented = caseworker.post(f"/referrals/{referral_id}/consent", data={"method": "verbal", **CONSENT})
    assert consented.status_code == 303, consented.text
    sent = caseworker.post(
        f"/referrals/{referral_id}/actions",
        data={"trigger": "send", "send-version": version(session, referral_id)},
    )
    assert sent.status_code == 303, sent.text
    assert HER["safety_constraints"] in caseworker.get(f"/referrals/{referral_id}").text

    # The email of the sending goes to the shelter's address, with a signed link.
    run_relay()
    sink.wait_for(1)
    all_sent(session)
    link_email = next(m for address, m in sink.messages() if address == "accueil@phare.example.org")
    token = re.search(rf"{re.escape(BASE_URL)}/link/([\w-]+)", everything_in(link_email)).group(1)

    # Nobody acknowledges: the reminder after two business days, the escalation after four.
    assert sweep_at(publisher, debug_worker, datetime(2025, 6, 25, 15, 0, tzinfo=UTC)) == 1
    assert sweep_at(publisher, debug_worker, datetime(2025, 6, 27, 15, 0, tzinfo=UTC)) == 1
    run_relay()
    # The worker done writing before the web writes: on SQLite (WAL) a request whose read snapshot
    # went stale under a worker's commit fails to write (SQLITE_BUSY_SNAPSHOT); not this test's subject.
    all_sent(session)

    # The shelter answers from the signed link, without an account.
    clock.advance(days=7)
    partner = app.test_client()
    assert HER["name"] not in partner.get(f"/link/{token}").text  # what a mail scanner fetches
    assert HER["name"] in partner.post(f"/link/{token}/person").text  # her button, pressed
    for trigger, extra in [
        ("acknowledge", {}),
        ("accept", {}),
        ("record_first_contact", {"record_first_contact-comment": COMMENTS["first_contact"]}),
    ]:
        answer = partner.post(
            f"/link/{token}",
            data={"trigger": trigger, f"{trigger}-version": version(session, referral_id), **extra},
        )
        assert answer.status_code == 303, answer.text
    # The two sides write to each other: the shelter from its link, the centre from the referral's page.
    wrote = partner.post(f"/link/{token}/messages", data={"message-text": COMMENTS["partner_message"]})
    assert wrote.status_code == 303, wrote.text
    clock.advance(days=1)
    caseworker = sign_in(app.test_client(), world.centre.caseworker, session)  # a week later: a new session
    wrote = caseworker.post(
        f"/referrals/{referral_id}/messages", data={"message-text": COMMENTS["caseworker_message"]}
    )
    assert wrote.status_code == 303, wrote.text
    assert COMMENTS["partner_message"] in caseworker.get(f"/referrals/{referral_id}").text
    # The centre attaches her signed consent: her name in the file's name, the canary inside it.
    signed = pdf(DOCUMENT_TEXT)
    attached = caseworker.post(
        f"/referrals/{referral_id}/documents",
        data={"document-file": (io.BytesIO(signed), f"Consentement {HER['name']}.pdf")},
        content_type="multipart/form-data",
    )
    assert attached.status_code == 303, attached.text
    page = caseworker.get(f"/referrals/{referral_id}").text
    download = re.search(rf'href="(/referrals/{referral_id}/documents/\d+)"', page).group(1)
    assert caseworker.get(download).data == signed
    [stored] = [path for path in documents.rglob("*") if path.is_file()]
    assert leaks(stored.read_bytes().decode("latin-1")) == [], "encrypted in the store"
    closed = caseworker.post(
        f"/referrals/{referral_id}/actions",
        data={
            "trigger": "close",
            "close-version": version(session, referral_id),
            "close-reason": "service_received",
            "close-comment": COMMENTS["close"],
        },
    )
    assert closed.status_code == 303, closed.text
    run_relay()
    all_sent(session)

    # Before the purge the database holds her data: the search below does find what is there.
    assert set(leaks(dump_database(engine))) >= {HER["name"], HER["notes"], CONSENT["purpose"]}

    # Thirteen months after the closing, the worker's retention job erases her.
    assert run_at(publisher, debug_worker, RETENTION, clock.now + timedelta(days=400)) == 1
    run_relay()
    all_sent(session)
    debug_worker.stop()
    redis_watch.finish()

    # Logs: the test process's and the worker's, at DEBUG.
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    worker_log = debug_worker.logs()
    assert "DEBUG" in worker_log
    assert leaks(caplog.text) == []
    assert leaks("\n".join(r.getMessage() for r in caplog.records)) == []
    assert leaks(worker_log) == []

    # Emails: sending, reminder, escalation, answers, closing; every header and part.
    messages = sink.messages()
    assert len(messages) >= 10, [m["Subject"] for _a, m in messages]
    assert sum("Nouveau message" in str(m["Subject"]) for _a, m in messages) == 2  # one to each side
    for address, message in messages:
        assert leaks(everything_in(message)) == [], (address, message["Subject"])

    # Celery messages through Redis: raw commands and decoded bodies.
    celery = redis_watch.celery_messages(queue)
    assert len(celery) >= 5, f"{len(redis_watch.commands)} commands seen"
    assert any(envelope["headers"].get("task") == "maillage.send_batch" for envelope, _body in celery)
    assert any(re.search(r"\[\[\d+", body) for _envelope, body in celery), "decoded send_batch arguments"
    assert leaks("\n".join(redis_watch.commands)) == []
    assert leaks("\n".join(body for _envelope, body in celery)) == []

    # URLs requested, and redirected to.
    assert f"/link/{token}?" in urls
    assert f"/referrals/{referral_id}?" in urls
    assert leaks("\n".join(urls)) == []

    # The database after the purge: nothing of her anywhere, nor in the document store...
    assert leaks(dump_database(engine)) == []
    assert [path for path in documents.rglob("*") if path.is_file()] == []
    # ...and the anonymized record is whole.
    session.rollback()
    referral = session.get(Referral, referral_id)
    assert referral.state == "closed"
    assert session.get(ReferralPerson, referral_id) is None
    events = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.seq)
    ).all()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].to_state == "closed"
    assert {"reminder", "escalation", "message", "document"} <= {e.kind for e in events}
    assert [e.trigger for e in events if e.trigger] == [
        "send",
        "acknowledge",
        "accept",
        "record_first_contact",
        "close",
    ]


def version(session, referral_id: int) -> int:
    """The referral's version now; the read ends at once (SQLite: a reader blocks the app's writes)."""
    session.rollback()
    found = session.get(Referral, referral_id).version
    session.rollback()
    return found


def all_sent(session) -> None:
    """Wait until the worker has sent every message the relay published."""

    def done() -> bool:
        session.rollback()
        statuses = session.scalars(select(OutboxMessage.status)).all()
        session.rollback()
        return all(status != "pending" for status in statuses)

    wait_until(done, what="every email sent")

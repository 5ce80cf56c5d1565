"""A partner hears of a referral as soon as it is sent, not at beat's next relay tick: the web app
hands the emails a request queued to the worker right after its commit. With the broker away at
that moment, the request still succeeds, and the periodic relay sends the emails later, once."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select

from service.directory.models import Organization
from service.directory.needs import seed_needs
from service.notifications.models import OutboxMessage
from tests.conftest import sign_in
from tests.worker.conftest import free_port
from tests.worker.conftest import opened_from_the_web
from tests.worker.test_canary import version
from worker import app as worker_app
from worker import publishing

HER = {
    "name": "Fictive Atonce",
    "phone": "450-555-0177",
    "email": "fictive.atonce@example.net",
    "language": "",
    "contact_preferences": "",
    "safety_constraints": "",
    "notes": "",
}
SHELTER_ADDRESS = "accueil@phare.example.org"


@pytest.fixture
def web_broker(worker_env, monkeypatch) -> str:
    """The web app publishes to the worker's queue, on the worker's broker (the test may change it)."""
    for name in ("MAILLAGE_BROKER_URL", "MAILLAGE_QUEUE", "MAILLAGE_BROKER_KEY_PREFIX"):
        monkeypatch.setenv(name, worker_env[name])
    return worker_env["MAILLAGE_BROKER_URL"]


def send_from_the_web(web_app, session, world):
    """A caseworker opens a referral to the shelter, records consent and sends it: the answer to the
    sending, the referral's id and how long the sending took."""
    seed_needs(session)
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = SHELTER_ADDRESS
    session.commit()
    caseworker = sign_in(web_app.test_client(), world.centre.caseworker, session)
    referral_id = opened_from_the_web(caseworker, shelter.id, HER)
    consented = caseworker.post(
        f"/referrals/{referral_id}/consent",
        data={"method": "verbal", "shared_with": "name and phone", "purpose": "shelter"},
    )
    assert consented.status_code == 303, consented.text
    seen = version(session, referral_id)
    began = time.monotonic()
    form = {"trigger": "send", "send-version": seen}
    sent = caseworker.post(f"/referrals/{referral_id}/actions", data=form)
    return sent, referral_id, time.monotonic() - began


def statuses(session, referral_id: int) -> list[str]:
    session.rollback()
    query = select(OutboxMessage.status).where(OutboxMessage.referral_id == referral_id)
    found = session.scalars(query).all()
    session.rollback()
    return list(found)


def test_the_send_task_has_the_name_the_worker_gives_it():
    assert publishing.SEND_BATCH == worker_app.SEND_BATCH


def test_with_no_beat_running_the_partner_gets_the_email_right_after_the_sending(
    session, world, sink, worker_process, web_broker, web_app
):
    worker_process.start()  # no beat: nothing relays the outbox periodically

    sent, referral_id, _seconds = send_from_the_web(web_app, session, world)
    assert sent.status_code == 303, sent.text

    # Generous for a loaded machine: with no relay running, an email that arrives at all came at once.
    received = sink.wait_for(1, timeout=30)
    assert [address for address, _message in received] == [SHELTER_ADDRESS]
    assert statuses(session, referral_id) == ["sent"]
    # Once: nothing else comes.
    sink.wait_for(2, timeout=1)
    assert len(sink.messages()) == 1


@pytest.fixture
def broker_away(web_broker, monkeypatch) -> None:
    """The web app's broker is a port nobody listens on; the worker and beat keep the real one."""
    monkeypatch.setenv("MAILLAGE_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")


def test_with_the_broker_away_at_the_commit_the_sending_succeeds_and_beat_sends_the_email_once(
    session, world, sink, worker_process, broker_away, web_app, caplog
):
    caplog.set_level(logging.WARNING, logger="worker.publishing")

    sent, referral_id, seconds = send_from_the_web(web_app, session, world)
    assert sent.status_code == 303, sent.text
    assert seconds < 5, "a broker away does not hold the request"
    assert "broker unavailable" in caplog.text
    assert HER["name"] not in caplog.text
    assert statuses(session, referral_id) == ["pending"]

    # Beat's relay, every second here, is the safety net: it sends the email, once.
    worker_process.env["MAILLAGE_RELAY_INTERVAL"] = "1"
    worker_process.start(beat=True)
    received = sink.wait_for(1, timeout=30)
    assert [address for address, _message in received] == [SHELTER_ADDRESS]
    time.sleep(3)  # three more relay ticks
    assert len(sink.messages()) == 1
    assert statuses(session, referral_id) == ["sent"]

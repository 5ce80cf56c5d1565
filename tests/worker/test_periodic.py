"""The periodic jobs through a real worker, with a moved clock: run twice in a period, they send once;
a referral whose consent lapsed stops notifying, and its sender is asked, once, to renew or close;
one whose consent she withdrew is in nobody's digest."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select

from service.accounts.models import User
from service.notifications.models import OutboxMessage
from service.referrals.models import Consent
from service.referrals.operations import withdraw_consent
from tests.worker.conftest import wait_until
from tests.worker.test_notifications import assert_nothing_about_her
from tests.worker.test_notifications import send_referral
from worker.app import CONSENT_EXPIRY
from worker.app import DIGEST


def run_at(publisher, worker_process, task: str, moment: datetime) -> int:
    """Run a periodic task in the worker as if it were `moment`; returns what it reports doing."""
    task_id = str(uuid.uuid4())
    publisher.send_task(task, kwargs={"at": moment.isoformat()}, task_id=task_id)
    done = re.compile(rf"Task {re.escape(task)}\[{task_id}\] succeeded in [\d.e-]+s: (\d+)")
    found: list[int] = []

    def finished() -> bool:
        match = done.search(worker_process.logs())
        if match:
            found.append(int(match.group(1)))
        return bool(match)

    wait_until(finished, what=f"{task} at {moment}")
    return found[0]


def test_a_lapsed_consent_silences_the_referral_and_asks_its_sender_once(
    session, protocols, world, sink, worker_process, publisher, run_relay, clock
):
    referral_id = send_referral(session, protocols, world, clock)
    consent = session.scalars(select(Consent).where(Consent.referral_id == referral_id)).one()
    consent.expires_at = clock.now + timedelta(days=1)
    session.commit()
    worker_process.start()

    later = clock.now + timedelta(days=2)
    assert run_at(publisher, worker_process, CONSENT_EXPIRY, later) == 1
    assert run_at(publisher, worker_process, CONSENT_EXPIRY, later) == 0
    assert run_at(publisher, worker_process, CONSENT_EXPIRY, later + timedelta(days=1)) == 0

    run_relay()
    received = sink.wait_for(1)
    sink.wait_for(2, timeout=2)
    # The referral's own messages, still pending when the consent lapsed, were never sent.
    assert len(sink.messages()) == 1
    [(address, message)] = received
    assert address == session.get(User, world.centre.caseworker.user_id).email
    assert "onsent" in message["Subject"]  # "Consentement à renouveler" in French, her caseworker's language
    assert_nothing_about_her(message)

    session.rollback()
    statuses = session.execute(
        select(OutboxMessage.template, OutboxMessage.status, OutboxMessage.last_error).order_by(
            OutboxMessage.id
        )
    ).all()
    assert {(status, error) for template, status, error in statuses if template != "consent_lapsed"} == {
        ("cancelled", "consent_expired")
    }


def test_the_digest_run_twice_in_a_day_sends_once(
    session, protocols, world, sink, worker_process, publisher, run_relay, clock
):
    send_referral(session, protocols, world, clock)
    worker_process.start()
    run_relay()
    sink.wait_for(2)
    before = len(sink.messages())

    # Monday 23 June 2025, 8:00 then 17:00 in Montréal: the shelter's caseworker and coordinator.
    monday = clock.now + timedelta(days=2, hours=21)
    assert run_at(publisher, worker_process, DIGEST, monday) == 2
    assert run_at(publisher, worker_process, DIGEST, monday + timedelta(hours=9)) == 0
    run_relay()
    sink.wait_for(before + 2)
    sink.wait_for(before + 3, timeout=2)
    digests = sink.messages()[before:]
    assert len(digests) == 2
    for _address, message in digests:
        assert "/referrals/" in message.get_body(("plain",)).get_content()
        assert_nothing_about_her(message)


def test_the_digest_leaves_out_a_referral_whose_consent_was_withdrawn(
    session, protocols, world, sink, worker_process, publisher, run_relay, clock
):
    kept = send_referral(session, protocols, world, clock)
    withdrawn = send_referral(session, protocols, world, clock)
    withdraw_consent(session, withdrawn, world.centre.caseworker, clock=clock)
    worker_process.start()
    run_relay()
    # The kept referral to the shelter's two people, and to both the notice to stop; the withdrawn
    # one's own notice never leaves (her consent ended before the relay's pass).
    assert len(sink.wait_for(4)) == 4
    before = len(sink.messages())

    # Thursday 26 June 2025, 8:00 in Montréal: both referrals are overdue by now.
    assert run_at(publisher, worker_process, DIGEST, clock.now + timedelta(days=5, hours=21)) == 2
    run_relay()
    sink.wait_for(before + 2)
    sink.wait_for(before + 3, timeout=2)
    digests = sink.messages()[before:]
    assert len(digests) == 2
    for _address, message in digests:
        text = message.get_body(("plain",)).get_content()
        assert set(re.findall(r"/referrals/(\d+)", text)) == {str(kept)}
        assert_nothing_about_her(message)

"""A worker killed with SIGKILL while sending, again and again: every message is still delivered,
and the rare copy (the server took it, the worker died before recording it) has the same Message-ID."""

from __future__ import annotations

import random
import time
from collections import Counter

from sqlalchemy import func
from sqlalchemy import select

from service.directory.models import Organization
from service.notifications.emails import message_id
from service.notifications.models import OutboxMessage
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.worker.conftest import BASE_URL
from tests.worker.conftest import WorkerProcess
from tests.worker.conftest import wait_until
from tests.worker.test_notifications import send_referral
from worker.app import SEND_BATCH

MESSAGES = 1000
KILLS = 5
ADDRESS = "accueil@phare.example.org"


def pending_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))


def test_killed_five_times_while_sending_a_thousand_every_message_arrives(
    session, sessions, protocols, world, sink, worker_process, run_relay, clock
):
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = ADDRESS
    session.commit()
    sender = world.centre.caseworker
    for _ in range(MESSAGES):
        draft = open_referral(
            session,
            protocols,
            sender,
            receiver_organization_id=shelter.id,
            protocol_name="standard",
            clock=clock,
        )
        record_consent(session, draft.id, sender, method="verbal", shared_with="M", purpose="p", clock=clock)
        fire(session, protocols, draft.id, "send", sender, clock=clock)
    expected = {
        message_id(key, ADDRESS, BASE_URL) for key in session.scalars(select(OutboxMessage.dedupe_key))
    }
    session.rollback()
    assert len(expected) == MESSAGES

    # A short lease, so that the messages a dead worker held come back within the test.
    lease = 3.0
    worker_process.start()
    run_relay(lease=lease)
    rng = random.Random(4)
    for _kill in range(KILLS):
        before = len(sink.messages())
        wait_until(lambda before=before: len(sink.messages()) > before + 20, what="sending to resume")
        time.sleep(rng.uniform(0.05, 0.4))
        worker_process.kill()
        worker_process.start()
        run_relay(lease=lease)
    started = time.monotonic()

    def all_sent() -> bool:
        if pending_count(sessions) == 0:
            return True
        run_relay(lease=lease)
        time.sleep(0.5)
        return False

    wait_until(all_sent, timeout=120, what="every message to be sent")
    sink.wait_for(MESSAGES + 1, timeout=2)

    ids = Counter(m["Message-ID"] for _address, m in sink.messages())
    duplicates = {mid: count for mid, count in ids.items() if count > 1}
    print(
        f"\n{MESSAGES} messages, {KILLS} SIGKILLs: {len(sink.messages())} emails received, "
        f"{len(ids)} distinct Message-IDs, {sum(duplicates.values()) - len(duplicates)} duplicate copies; "
        f"{time.monotonic() - started:.1f}s to finish after the last restart"
    )
    assert set(ids) == expected, "every message delivered, and nothing else"
    # At most one email per kill is in the window between the server's "250" and our commit.
    assert sum(duplicates.values()) - len(duplicates) <= KILLS
    with sessions() as check:
        statuses = dict(
            check.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
    assert statuses == {"sent": MESSAGES}


def test_two_workers_given_the_same_batches_send_each_message_once(
    session, sessions, protocols, world, sink, worker_env, tmp_path, publisher, clock
):
    for _ in range(100):
        send_referral(session, protocols, world, clock)
    ids = sorted(session.scalars(select(OutboxMessage.id)))
    session.rollback()
    workers = [WorkerProcess(env=worker_env, log=tmp_path / f"worker{n}").start() for n in (1, 2)]
    try:
        # Every batch published twice, as a redelivery or a second relay would: both workers take them.
        for _copy in range(2):
            for start in range(0, len(ids), 10):
                publisher.send_task(SEND_BATCH, args=[ids[start : start + 10]])
        wait_until(lambda: pending_count(sessions) == 0, what="every message to be sent")
        sink.wait_for(201, timeout=3)
    finally:
        for process in workers:
            process.stop()
    assert len(sink.messages()) == 200, "each referral's two shelter people, once each"
    assert len({(a, m["Message-ID"]) for a, m in sink.messages()}) == 200
    both = [w.logs().count("outbox batch:") for w in workers]
    assert all(both), f"both workers took batches: {both}"

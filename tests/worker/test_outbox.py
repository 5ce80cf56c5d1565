"""The outbox guarantees: a rolled-back change emails nothing, a committed one emails once,
a relay publishes a message once per lease, a refused message backs off and then fails."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update

from service.accounts.models import User
from service.config import Settings
from service.directory.models import Organization
from service.errors import ReferralError
from service.notifications.models import OutboxMessage
from service.notifications.outbox import MAX_ATTEMPTS
from service.notifications.outbox import backoff
from service.notifications.outbox import claim_due
from service.notifications.outbox import retry_failed
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.worker.conftest import BASE_URL
from tests.worker.test_notifications import send_referral
from worker.sending import deliver
from worker.tasks import relay


def test_of_500_sends_only_the_250_committed_email_and_each_once(
    session, protocols, world, sink, worker_process, run_relay, clock
):
    sender = world.centre.caseworker
    committed, refused = set(), 0
    for number in range(500):
        draft = open_referral(
            session,
            protocols,
            sender,
            receiver_organization_id=world.shelter.organization.id,
            protocol_name="standard",
            clock=clock,
        )
        if number % 2 == 0:
            record_consent(
                session, draft.id, sender, method="verbal", shared_with="M", purpose="p", clock=clock
            )
        try:
            fire(session, protocols, draft.id, "send", sender, clock=clock)
        except ReferralError:  # no consent: the whole change is rolled back, outbox rows included
            refused += 1
        else:
            committed.add(draft.id)
    assert (len(committed), refused) == (250, 250)
    worker_process.start()

    assert run_relay() == 250
    received = sink.wait_for(500, timeout=60)
    sink.wait_for(501, timeout=2)  # give a stray extra email the time to show up

    referral_ids = Counter(
        int(
            re.search(rf"{re.escape(BASE_URL)}/referrals/(\d+)", m.get_body(("plain",)).get_content()).group(
                1
            )
        )
        for _address, m in sink.messages()
    )
    assert len(received) == 500
    assert set(referral_ids) == committed
    assert set(referral_ids.values()) == {2}, "each referral's two shelter people get it once"
    assert len({(a, m["Message-ID"]) for a, m in received}) == 500


def test_a_second_relay_within_the_lease_publishes_nothing_and_a_sent_message_never_again(
    session, sessions, protocols, world, sink, clock
):
    send_referral(session, protocols, world, clock)
    send_referral(session, protocols, world, clock)
    published: list[list[int]] = []

    def publish(ids: list[int]) -> None:
        published.append(ids)

    lease = timedelta(minutes=2)
    assert relay(sessions, publish=publish, lease=lease, batch_size=1) == 2
    assert relay(sessions, publish=publish, lease=lease, batch_size=1) == 0
    assert sorted(i for ids in published for i in ids) == sorted(session.scalars(select(OutboxMessage.id)))
    assert all(len(ids) == 1 for ids in published), "published in chunks of the batch size"

    session.rollback()  # end the read above: on SQLite, a stale reader may not write later
    config = Settings(smtp_url=sink.url, base_url=BASE_URL)
    ids = [i for chunk in published for i in chunk]
    assert deliver(ids, sessions=sessions, protocols=protocols, config=config).sent == 2
    # The task delivered twice (a redelivery) and the lease over: nothing is sent again.
    again = deliver(ids, sessions=sessions, protocols=protocols, config=config)
    assert (again.sent, again.skipped) == (0, 2)
    session.execute(update(OutboxMessage).values(available_at=clock.now))
    session.commit()
    assert relay(sessions, publish=publish, lease=lease, batch_size=50) == 0
    assert len(sink.messages()) == 4


def test_a_message_the_server_keeps_refusing_backs_off_then_fails_and_can_be_retried(
    session, sessions, protocols, world, sink, clock
):
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = "nobody@phare.example.org"
    session.commit()
    send_referral(session, protocols, world, clock)
    sink.refuse.add("nobody@phare.example.org")
    config = Settings(smtp_url=sink.url, base_url=BASE_URL)
    [message_id] = session.scalars(select(OutboxMessage.id))

    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        now = clock()
        ids = claim_due(session, now=now, lease=timedelta(minutes=2))
        assert ids == [message_id], f"due again at attempt {attempt}"
        deliver(ids, sessions=sessions, protocols=protocols, config=config, clock=clock, jitter=lambda: 1.0)
        session.expire_all()
        row = session.get(OutboxMessage, message_id)
        assert row.attempts == attempt
        assert row.last_error == "SMTPRecipientsRefused:550"
        if row.status == "failed":
            break
        waits.append(row.available_at - now)
        assert claim_due(session, now=now + waits[-1] - timedelta(seconds=1), lease=timedelta(0)) == []
        clock.now = row.available_at
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert waits == [timedelta(seconds=30) * 2**n for n in range(MAX_ATTEMPTS - 1)]  # 30 s ... 32 min
    assert claim_due(session, now=clock.now + timedelta(days=30), lease=timedelta(0)) == []
    assert sink.messages() == []

    # The server takes it again; a coordinator asks for it to be retried.
    sink.refuse.clear()
    assert retry_failed(session, message_id, now=clock.now)
    ids = claim_due(session, now=clock.now, lease=timedelta(minutes=2))
    assert deliver(ids, sessions=sessions, protocols=protocols, config=config).sent == 1
    assert [address for address, _m in sink.messages()] == ["nobody@phare.example.org"]


@pytest.mark.parametrize("attempts", [1, 2, 5, 8, 20])
def test_the_backoff_grows_is_capped_and_is_jittered_within_its_upper_half(attempts):
    longest = min(timedelta(seconds=30) * 2 ** (attempts - 1), timedelta(hours=1))
    assert backoff(attempts, jitter=lambda: 0.0) == longest / 2
    assert backoff(attempts, jitter=lambda: 1.0) == longest


def test_an_address_refused_among_several_is_recorded_and_the_others_get_it_once(
    session, sessions, protocols, world, sink, clock
):
    gone = session.get(User, world.shelter.caseworker.user_id).email
    coordinator = session.get(User, world.shelter.coordinator.user_id).email
    sink.refuse.add(gone)
    send_referral(session, protocols, world, clock)
    config = Settings(smtp_url=sink.url, base_url=BASE_URL)

    ids = claim_due(session, now=clock(), lease=timedelta(minutes=2))
    assert deliver(ids, sessions=sessions, protocols=protocols, config=config).sent == 1
    session.expire_all()
    row = session.get(OutboxMessage, ids[0])
    assert row.status == "sent"
    assert row.last_error == "refused for 1 of 2: SMTPRecipientsRefused:550"
    assert claim_due(session, now=clock.now + timedelta(days=1), lease=timedelta(0)) == []
    assert [address for address, _m in sink.messages()] == [coordinator]


def test_one_relay_pass_keeps_claiming_while_claims_come_back_full(
    session, sessions, protocols, world, clock, monkeypatch
):
    monkeypatch.setattr("worker.tasks.CLAIM_LIMIT", 2)
    for _ in range(5):
        send_referral(session, protocols, world, clock)
    pending = sorted(session.scalars(select(OutboxMessage.id)))
    session.rollback()
    published: list[list[int]] = []
    assert relay(sessions, publish=published.append, lease=timedelta(minutes=2), batch_size=50) == len(
        pending
    )
    assert [len(chunk) for chunk in published] == [2, 2, 1]
    assert sorted(i for chunk in published for i in chunk) == pending


def test_a_batch_reads_its_referrals_once_and_writes_one_row_per_message(
    engine, session, sessions, protocols, world, sink, clock
):
    for _ in range(6):
        send_referral(session, protocols, world, clock)
    ids = claim_due(session, now=clock(), lease=timedelta(minutes=2))
    config = Settings(smtp_url=sink.url, base_url=BASE_URL)
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert deliver(ids, sessions=sessions, protocols=protocols, config=config).sent == 6
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # Reading the batch: its messages, their consents, referrals, events, organizations and
    # the shelter's people, each once whatever the batch's size; then one UPDATE per message.
    assert Counter(statements)["SELECT"] <= 6
    assert Counter(statements)["UPDATE"] == 6 + (1 if engine.dialect.name == "sqlite" else 0)
    assert len(sink.messages()) == 12

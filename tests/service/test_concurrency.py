"""Two people, or two sweeps, acting on one referral at the same moment: one wins, nothing is doubled.

PostgreSQL only: each contender has its own connection and Session and commits
for real; a barrier starts them together. Rounds marked "queued" make the
overlap certain instead of lucky: operations read the clock only once they
hold the referral's row lock, so the first contender to read it waits, lock
held, until PostgreSQL reports the other one blocked behind it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.clock import Clock
from service.db import make_engine
from service.db import session_factory
from service.errors import ConcurrentUpdate
from service.errors import InvalidTransition
from service.notifications.models import OutboxMessage
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from tests.conftest import Side
from tests.conftest import make_side
from tests.conftest import new_postgresql_database
from workflows.loader import ProtocolLibrary

pytestmark = pytest.mark.postgresql

SENT_AT = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon
ACTED_AT = SENT_AT + timedelta(hours=2)
# The receipt reminder falls due on Tuesday 15:00; the escalation not before Thursday.
SWEPT_AT = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
# Long enough for a slow CI machine, short enough that a deadlock fails the test quickly.
WAIT = 5.0
ROUNDS = {"free": 20, "queued": 5}


@dataclass
class Partners:
    sender: Side
    receiver: Side


@dataclass
class Attempt:
    """What one contender got: the operation's answer or the error it raised."""

    result: object = None
    error: BaseException | None = None


@dataclass
class Race:
    attempts: dict[str, Attempt]
    # Whether PostgreSQL showed the second contender waiting on the first one's row lock.
    queued: bool = False

    def winner_and_loser(self) -> tuple[str, str]:
        """The contender that succeeded and the one refused; fails unless there is exactly one of each."""
        winners = [name for name, attempt in self.attempts.items() if attempt.error is None]
        losers = [name for name, attempt in self.attempts.items() if attempt.error is not None]
        assert len(winners) == len(losers) == 1, self.attempts
        return winners[0], losers[0]


@dataclass
class Overlap:
    """The contenders' clock: in queued mode, the first to read it (the lock holder) waits for the other."""

    monitor: Engine
    now: datetime
    queued_mode: bool
    pids: dict[str, int] = field(default_factory=dict)
    queued: bool = False
    _readers: int = 0
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def clock_for(self, name: str) -> Clock:
        def clock() -> datetime:
            with self._guard:
                self._readers += 1
                first = self._readers == 1
            if first and self.queued_mode:
                [rival] = [pid for other, pid in self.pids.items() if other != name]
                self.queued = self._wait_until_blocked(rival, by=self.pids[name])
            return self.now

        return clock

    def _wait_until_blocked(self, waiter: int, by: int) -> bool:
        query = text("SELECT CAST(:holder AS integer) = ANY(pg_blocking_pids(:waiter))")
        deadline = time.monotonic() + WAIT
        with self.monitor.connect() as connection:
            while time.monotonic() < deadline:
                if connection.execute(query, {"holder": by, "waiter": waiter}).scalar_one():
                    return True
                time.sleep(0.001)
        return False


Operation = Callable[[Session, Clock], object]


@pytest.fixture(scope="module")
def postgresql_url() -> Iterator[str]:
    """A database of this module's own: its races commit for real, and would show in other tests' figures."""
    with new_postgresql_database() as url:
        yield url


@pytest.fixture(scope="module")
def racing_engine(postgresql_url: str) -> Iterator[Engine]:
    # A lock wait beyond a few seconds is a deadlock or a bug: let it raise rather than hang.
    engine = make_engine(
        postgresql_url, connect_args={"options": "-c lock_timeout=5s -c statement_timeout=10s"}
    )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def monitor(postgresql_url: str) -> Iterator[Engine]:
    engine = make_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def partners(racing_engine: Engine) -> Partners:
    """Two organizations of our own, committed, with names no other test uses."""
    tag = uuid.uuid4().hex[:8]
    with session_factory(racing_engine)() as session:
        partners = Partners(
            sender=make_side(session, f"Centre de femmes Fictif {tag}", SENT_AT),
            receiver=make_side(session, f"Maison Fictive {tag}", SENT_AT),
        )
        session.commit()
    return partners


def new_referral(engine: Engine, protocols: ProtocolLibrary, partners: Partners, *, to: str) -> int:
    """A committed standard referral, sent at SENT_AT and moved on to state `to`."""
    sender, receiver = partners.sender.caseworker, partners.receiver.caseworker
    with session_factory(engine)() as session:
        referral = open_referral(
            session,
            protocols,
            sender,
            receiver_organization_id=partners.receiver.organization.id,
            protocol_name="standard",
            clock=lambda: SENT_AT,
        )
        record_consent(
            session, referral.id, sender, method="verbal", shared_with="Maison", purpose="hébergement"
        )
        fire(session, protocols, referral.id, "send", sender, clock=lambda: SENT_AT)
        if to == "received":
            fire(session, protocols, referral.id, "acknowledge", receiver, clock=lambda: SENT_AT)
        return referral.id


def race(
    engine: Engine, monitor: Engine, contenders: dict[str, Operation], *, now: datetime, mode: str
) -> Race:
    """Run the contenders at once, each on its own connection and Session; always joins its threads."""
    overlap = Overlap(monitor, now, queued_mode=mode == "queued")
    attempts = {name: Attempt() for name in contenders}
    barrier = threading.Barrier(len(contenders), timeout=WAIT)
    connected = threading.Barrier(len(contenders), timeout=WAIT)

    def contend(name: str, operation: Operation) -> None:
        try:
            with engine.connect() as connection:
                overlap.pids[name] = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                connection.commit()
                # Both pids are known before anyone can hold the lock and look for its rival.
                connected.wait()
                with Session(bind=connection, expire_on_commit=False) as session:
                    barrier.wait()
                    attempts[name].result = operation(session, overlap.clock_for(name))
        except BaseException as error:  # any failure is the test's to judge, not the thread's to print
            attempts[name].error = error

    threads = [
        threading.Thread(target=contend, args=(name, operation), name=f"contender-{name}", daemon=True)
        for name, operation in contenders.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * WAIT)
    assert not any(thread.is_alive() for thread in threads), "a contender is stuck: deadlock?"
    return Race(attempts, queued=overlap.queued)


def firing(
    protocols: ProtocolLibrary, referral_id: int, trigger: str, actor: Actor, **options: Any
) -> Operation:
    def operation(session: Session, clock: Clock) -> object:
        return fire(session, protocols, referral_id, trigger, actor, clock=clock, **options).state

    return operation


def journal(engine: Engine, referral_id: int) -> list[tuple[str, str | None, str | None, str]]:
    """The referral's event log as (kind, trigger, from, to), in order."""
    query = select(ReferralEvent).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.seq)
    with Session(engine) as session:
        return [(e.kind, e.trigger, e.from_state, e.to_state) for e in session.scalars(query)]


def outbox(engine: Engine, referral_id: int) -> list[str]:
    query = select(OutboxMessage.template).where(OutboxMessage.referral_id == referral_id)
    with Session(engine) as session:
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def stored_state(engine: Engine, referral_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        referral = session.get_one(Referral, referral_id)
        return referral.state, referral.version


def assert_queued_if_forced(outcome: Race, mode: str) -> None:
    if mode == "queued":
        assert outcome.queued, "the second contender never waited on the first one's row lock"


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_accept_and_decline_at_once_one_wins_and_only_its_message_goes_out(
    racing_engine, monitor, protocols, partners, mode
):
    dest = {"accept": "accepted", "decline": "declined"}
    template = {"accept": "referral_accepted", "decline": "referral_declined"}
    for _ in range(ROUNDS[mode]):
        referral_id = new_referral(racing_engine, protocols, partners, to="received")
        log_before, outbox_before = journal(racing_engine, referral_id), outbox(racing_engine, referral_id)
        receiver = partners.receiver
        outcome = race(
            racing_engine,
            monitor,
            {
                "accept": firing(protocols, referral_id, "accept", receiver.caseworker),
                "decline": firing(
                    protocols, referral_id, "decline", receiver.coordinator, reason="no_capacity"
                ),
            },
            now=ACTED_AT,
            mode=mode,
        )

        winner, loser = outcome.winner_and_loser()
        error = outcome.attempts[loser].error
        assert isinstance(error, ConcurrentUpdate | InvalidTransition), repr(error)
        assert outcome.attempts[winner].result == dest[winner]
        assert stored_state(racing_engine, referral_id)[0] == dest[winner]
        assert journal(racing_engine, referral_id) == [
            *log_before,
            ("transition", winner, "received", dest[winner]),
        ]
        assert outbox(racing_engine, referral_id) == [*outbox_before, template[winner]]
        assert_queued_if_forced(outcome, mode)


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_whoever_acted_on_what_she_saw_is_told_to_reload_when_the_other_won(
    racing_engine, monitor, protocols, partners, mode
):
    for _ in range(ROUNDS[mode] // 2):
        referral_id = new_referral(racing_engine, protocols, partners, to="received")
        _, seen = stored_state(racing_engine, referral_id)
        receiver = partners.receiver
        outcome = race(
            racing_engine,
            monitor,
            {
                "accept": firing(
                    protocols, referral_id, "accept", receiver.caseworker, expected_version=seen
                ),
                "decline": firing(
                    protocols,
                    referral_id,
                    "decline",
                    receiver.coordinator,
                    reason="no_capacity",
                    expected_version=seen,
                ),
            },
            now=ACTED_AT,
            mode=mode,
        )

        winner, loser = outcome.winner_and_loser()
        # Under the lock the loser sees the winner's version before it looks at any trigger.
        error = outcome.attempts[loser].error
        assert isinstance(error, ConcurrentUpdate), repr(error)
        assert stored_state(racing_engine, referral_id) == (outcome.attempts[winner].result, seen + 1)
        assert len(journal(racing_engine, referral_id)) == 4  # opened, send, acknowledge, the winner
        assert_queued_if_forced(outcome, mode)


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_two_people_confirming_receipt_at_once_log_it_once(racing_engine, monitor, protocols, partners, mode):
    for _ in range(ROUNDS[mode] // 2):
        referral_id = new_referral(racing_engine, protocols, partners, to="sent")
        log_before, outbox_before = journal(racing_engine, referral_id), outbox(racing_engine, referral_id)
        receiver = partners.receiver
        outcome = race(
            racing_engine,
            monitor,
            {
                "caseworker": firing(protocols, referral_id, "acknowledge", receiver.caseworker),
                "coordinator": firing(protocols, referral_id, "acknowledge", receiver.coordinator),
            },
            now=ACTED_AT,
            mode=mode,
        )

        winner, loser = outcome.winner_and_loser()
        error = outcome.attempts[loser].error
        assert isinstance(error, InvalidTransition), repr(error)
        assert outcome.attempts[winner].result == "received"
        assert journal(racing_engine, referral_id) == [
            *log_before,
            ("transition", "acknowledge", "sent", "received"),
        ]
        assert outbox(racing_engine, referral_id) == [*outbox_before, "referral_received"]
        assert_queued_if_forced(outcome, mode)


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_two_sweeps_at_once_send_the_reminder_once(racing_engine, monitor, protocols, partners, mode):
    for _ in range(ROUNDS[mode] // 2):
        referral_id = new_referral(racing_engine, protocols, partners, to="sent")
        log_before, outbox_before = journal(racing_engine, referral_id), outbox(racing_engine, referral_id)

        def sweep(session: Session, clock: Clock, referral_id: int = referral_id) -> object:
            return run_due_deadline(session, protocols, referral_id, clock=clock)

        outcome = race(racing_engine, monitor, {"first": sweep, "second": sweep}, now=SWEPT_AT, mode=mode)

        assert [attempt.error for attempt in outcome.attempts.values()] == [None, None]
        assert sorted(attempt.result for attempt in outcome.attempts.values()) == [False, True]
        assert journal(racing_engine, referral_id) == [*log_before, ("reminder", None, "sent", "sent")]
        assert outbox(racing_engine, referral_id) == [*outbox_before, "deadline_reminder"]
        assert_queued_if_forced(outcome, mode)


def test_a_stale_version_is_refused_without_any_race(racing_engine, protocols, partners):
    referral_id = new_referral(racing_engine, protocols, partners, to="sent")
    _, seen = stored_state(racing_engine, referral_id)  # the caseworker's page shows this version
    factory = session_factory(racing_engine)
    with factory() as session:
        fire(
            session,
            protocols,
            referral_id,
            "acknowledge",
            partners.receiver.coordinator,
            clock=lambda: ACTED_AT,
        )
    log_before, outbox_before = journal(racing_engine, referral_id), outbox(racing_engine, referral_id)

    with factory() as session, pytest.raises(ConcurrentUpdate):
        fire(
            session,
            protocols,
            referral_id,
            "acknowledge",
            partners.receiver.caseworker,
            expected_version=seen,
            clock=lambda: ACTED_AT,
        )
    assert stored_state(racing_engine, referral_id) == ("received", seen + 1)
    assert journal(racing_engine, referral_id) == log_before
    assert outbox(racing_engine, referral_id) == outbox_before

    # Once she reloads, the version she sees is current and her decision goes through.
    with factory() as session:
        referral = fire(
            session,
            protocols,
            referral_id,
            "accept",
            partners.receiver.caseworker,
            expected_version=seen + 1,
            clock=lambda: ACTED_AT,
        )
    assert (referral.state, referral.version) == ("accepted", seen + 2)


def test_a_lock_held_too_long_is_a_concurrent_update_not_a_raw_error(
    postgresql_url, racing_engine, protocols, partners
):
    referral_id = new_referral(racing_engine, protocols, partners, to="received")
    impatient = make_engine(postgresql_url, connect_args={"options": "-c lock_timeout=100ms"})
    try:
        with racing_engine.connect() as holder:
            holder.execute(text("SELECT id FROM referrals WHERE id = :id FOR UPDATE"), {"id": referral_id})
            with session_factory(impatient)() as session, pytest.raises(ConcurrentUpdate):
                fire(session, protocols, referral_id, "accept", partners.receiver.caseworker)
            holder.rollback()
    finally:
        impatient.dispose()
    assert stored_state(racing_engine, referral_id)[0] == "received"

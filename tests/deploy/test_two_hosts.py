"""Nothing in Maillage assumes one host: two web instances and two workers, each in a process
group of its own as on two machines, with one beat, share one PostgreSQL database and one Redis.

Partner systems drive 200 referrals through the standard protocol over the JSON API, through
Caddy, which shares the requests between both web instances. Mid-run one worker and one web
instance are killed (SIGKILL to the whole group). In the end every email arrived (counted by
Message-ID), every referral stands in a state its protocol allows, reached by its protocol's
transitions, and no deadline fired twice.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.api.keys import create_key
from service.db import make_engine
from service.directory.models import Organization
from service.notifications.emails import Staff
from service.notifications.emails import message_id
from service.notifications.emails import recipients
from service.notifications.models import OutboxMessage
from service.protocols import protocol_library
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from tests.conftest import make_side
from tests.deploy.conftest import WAIT
from tests.deploy.conftest import unverified

pytestmark = pytest.mark.postgresql

REFERRALS = 200
PAIRS = 4  # each a women's centre referring to a shelter: a key each, well within its allowance
WORKER_PROCESSES = 2  # each worker's pool (compose's has 4), each process sending its own batch
KILL_AFTER = 70  # referrals driven to their end before one worker and one web instance die
DEADLINE_KINDS = ("reminder", "escalation")

# What each fifth of the referrals goes through: (whose system acts, trigger, reason); the state it ends in.
STORIES: list[tuple[list[tuple[str, str, str | None]], str]] = [
    (
        [
            ("centre", "send", None),
            ("shelter", "acknowledge", None),
            ("shelter", "accept", None),
            ("shelter", "record_first_contact", None),
            ("centre", "record_follow_up", None),
            ("centre", "close", "service_received"),
        ],
        "closed",
    ),
    (
        [("centre", "send", None), ("shelter", "acknowledge", None), ("shelter", "decline", "no_capacity")],
        "declined",
    ),
    ([("centre", "send", None), ("centre", "cancel", "sent_in_error")], "cancelled"),
    # These two wait on the shelter: their deadline comes (see `make_due`) and fires once.
    ([("centre", "send", None)], "sent"),
    ([("centre", "send", None), ("shelter", "acknowledge", None), ("shelter", "accept", None)], "accepted"),
]


@dataclass
class Pair:
    centre: str  # its system's API key
    shelter: str
    shelter_id: int


class Proxy:
    """Caddy in front of both web instances, as partner systems reach it, one kept-alive connection
    per thread. A request that met no instance to answer it (Caddy's 502: the instance died before
    or while answering) is made again."""

    def __init__(self, address: str) -> None:
        self.host = address.removeprefix("https://")
        self.retries = 0
        self.lock = threading.Lock()
        self.connections = threading.local()
        self.opened: list[http.client.HTTPSConnection] = []

    def call(self, key: str, method: str, path: str, body: dict) -> tuple[int, dict]:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                status, answer = self.request(key, method, path, body)
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                # A connection Caddy closed, or broken: the next request opens another.
                self.connections.current = None
                status, answer = 0, {}
            if status == 429:  # an allowance spent: the partner's system waits, as told
                time.sleep(float(answer.get("retry_after", 1)))
            elif status not in (0, 502, 503, 504):
                return status, answer
            with self.lock:
                self.retries += 1
            assert time.monotonic() < deadline, f"no web instance answered {method} {path}"

    def request(self, key: str, method: str, path: str, body: dict) -> tuple[int, dict]:
        connection = getattr(self.connections, "current", None)
        if connection is None:
            connection = http.client.HTTPSConnection(self.host, timeout=WAIT, context=unverified())
            self.connections.current = connection
            with self.lock:
                self.opened.append(connection)
        connection.request(
            method,
            f"/api/v1{path}",
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        text = response.read()
        answer = json.loads(text) if text and response.getheader("Content-Type", "").endswith("json") else {}
        if response.status == 429:
            answer = {"retry_after": response.getheader("Retry-After", "1")}
        return response.status, answer

    def close(self) -> None:
        for connection in self.opened:
            connection.close()


def network(database_url: str) -> list[Pair]:
    """Four centres and four shelters, each shelter with a referral address, each with its key."""
    engine = make_engine(database_url)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    pairs = []
    with Session(engine) as session:
        for number in range(PAIRS):
            centre = make_side(session, f"Centre de femmes Fictif no {number}", now)
            shelter = make_side(session, f"Maison Fictive no {number}", now)
            session.get_one(
                Organization, shelter.organization.id
            ).referral_email = f"accueil-{number}@maison.example.org"
            keys = [
                create_key(
                    session, side.coordinator, name="Dossiers", role="caseworker", clock=lambda: now
                ).token
                for side in (centre, shelter)
            ]
            pairs.append(Pair(*keys, shelter_id=shelter.organization.id))
        session.commit()
    engine.dispose()
    return pairs


def drive(web: Proxy, pairs: list[Pair], number: int) -> tuple[int, str]:
    """Referral `number`, from opening to the end of its story; its id and the state it must be in."""
    pair = pairs[number % PAIRS]
    steps, end = STORIES[number % len(STORIES)]
    status, opened = web.call(
        pair.centre,
        "POST",
        "/referrals",
        {
            "receiver_organization_id": pair.shelter_id,
            "need_codes": [],
            "person": {"name": "Prénom Fictif", "phone": "450-555-0199"},
            "consent": {"method": "verbal", "shared_with": "Nom et téléphone", "purpose": "Hébergement"},
        },
    )
    assert status == 201, opened
    referral_id = opened["id"]
    for side, trigger, reason in steps:
        key = pair.centre if side == "centre" else pair.shelter
        body = {"trigger": trigger, **({"reason": reason} if reason else {})}
        status, answer = web.call(key, "POST", f"/referrals/{referral_id}/actions", body)
        # 409: the instance that died did it before it could answer; the state says so.
        done = status == 200 or (status == 409 and answer["current"]["state"] == target(trigger))
        assert done, (status, answer)
    return referral_id, end


def target(trigger: str) -> str:
    (transition,) = [t for t in protocol_library().get("standard").transitions if t.trigger == trigger]
    return transition.dest


def make_due(database_url: str, ids: list[int]) -> None:
    """Time passes for these referrals: the first step of the deadline of the state they wait in has come."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        session.execute(update(Referral).where(Referral.id.in_(ids)).values(due_at=Referral.state_entered_at))
        session.commit()
    engine.dispose()


def settled(database_url: str) -> bool:
    """No email waits, and no deadline that has come is left to fire."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        pending = session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
        due = session.scalar(select(func.count()).where(Referral.due_at <= datetime.now(UTC)))
    engine.dispose()
    return pending == 0 and due == 0


def test_two_web_instances_and_two_workers_one_of_each_killed_lose_and_repeat_nothing(
    deployment, database_url, sink
):
    pairs = network(database_url)
    first_web, first_address = deployment.web("web-a")
    second_web, second_address = deployment.web("web-b")
    doomed_worker = deployment.worker("worker-a", concurrency=WORKER_PROCESSES)
    surviving_worker = deployment.worker("worker-b", concurrency=WORKER_PROCESSES)
    deployment.beat()
    _caddy, address, _plain = deployment.proxy(first_address, second_address)
    web = Proxy(address)

    started = time.monotonic()
    finished: list[tuple[int, str]] = []
    halfway = threading.Event()
    lock = threading.Lock()

    def story(number: int) -> None:
        result = drive(web, pairs, number)
        with lock:
            finished.append(result)
            if len(finished) == KILL_AFTER:
                halfway.set()

    with ThreadPoolExecutor(max_workers=8) as pool:
        running = [pool.submit(story, number) for number in range(REFERRALS)]
        assert halfway.wait(WAIT * 2), "the first referrals were not driven in time"
        with lock:
            waiting = [referral for referral, end in finished if end in ("sent", "accepted")]
        make_due(database_url, waiting)
        # It dies at work: once it has sent a batch of its own (under load, the first referrals may
        # all be driven before its first batch is done).
        doomed_worker.wait_for("outbox batch:")
        # Both while the sweep fires those deadlines and the workers send what the partners did.
        doomed_worker.kill()
        second_web.kill()
        try:
            for future in running:
                future.result()
        finally:
            web.close()
    driven = time.monotonic() - started
    assert not second_web.running()
    assert first_web.running()
    assert surviving_worker.running()
    # Both hosts had their share of the work before one of each died.
    assert "POST /api/v1/referrals" in first_web.output()
    assert "POST /api/v1/referrals" in second_web.output()
    assert "outbox batch:" in doomed_worker.output()
    all_waiting = [referral for referral, end in finished if end in ("sent", "accepted")]
    make_due(database_url, [referral for referral in all_waiting if referral not in waiting])

    deadline = time.monotonic() + WAIT * 2
    while not settled(database_url):
        assert time.monotonic() < deadline, "emails or deadlines were left waiting"
        time.sleep(0.5)
    settling = time.monotonic() - started - driven

    engine = make_engine(database_url)
    with Session(engine) as session:
        protocol = protocol_library().get("standard")
        staff = Staff(session)
        expected = set()
        for message in session.scalars(select(OutboxMessage)):
            assert message.status == "sent", (message.id, message.status, message.last_error)
            referral = session.get_one(Referral, message.referral_id)
            for recipient in recipients(session, message, referral, staff):
                expected.add(
                    message_id(message.dedupe_key, recipient.address, deployment.env["MAILLAGE_BASE_URL"])
                )
        referrals = {referral.id: referral for referral in session.scalars(select(Referral))}
        events: dict[int, list[ReferralEvent]] = {}
        for event in session.scalars(
            select(ReferralEvent).order_by(ReferralEvent.referral_id, ReferralEvent.seq)
        ):
            events.setdefault(event.referral_id, []).append(event)
    engine.dispose()

    time.sleep(1)  # a last copy in flight, if any, reaches the sink
    received = Counter(email["Message-ID"] for _address, email in sink.messages())
    copies = sum(received.values()) - len(received)
    print(
        f"\n{REFERRALS} referrals driven in {driven:.1f} s through Caddy and 2 web instances "
        f"({web.retries} requests made again), settled {settling:.1f} s later; "
        f"{len(expected)} emails expected, {len(received)} distinct Message-IDs received, {copies} copies"
    )
    assert set(received) == expected, "every email arrived, and nothing else"
    # SMTP cannot make "accepted" and "recorded" one step: a worker process killed between the two
    # sends that one email again, with the same Message-ID; at most one copy per process killed.
    assert copies <= WORKER_PROCESSES

    # Every referral the partners opened (a retried opening may have left an extra draft).
    assert len(finished) == REFERRALS
    for referral_id, end in finished:
        assert referrals[referral_id].state == end, referral_id
    for referral in referrals.values():
        assert referral.state in protocol.states
        moves = [event for event in events[referral.id] if event.kind == "transition"]
        allowed = {(source, t.dest) for t in protocol.transitions for source in t.sources}
        assert all((move.from_state, move.to_state) in allowed for move in moves), referral.id
        assert (moves[-1].to_state if moves else protocol.initial) == referral.state

    # Each deadline that came fired once: one reminder, in the state it waits in; none elsewhere.
    for referral in referrals.values():
        fired = [(e.kind, e.to_state) for e in events[referral.id] if e.kind in DEADLINE_KINDS]
        assert fired == ([("reminder", referral.state)] if referral.id in all_waiting else []), referral.id

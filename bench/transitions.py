# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""How fast and how lean Maillage's protocol engine is, measured on this machine.

Three measurements in one run, each printed against its target:

a. Events per second fired through the domain operation
   `service.referrals.operations.fire` on PostgreSQL (one client, each event
   its own committed transaction), against the same SQL written by hand with
   SQLAlchemy Core on the same database: lock the referral, update it, insert
   its event-log row and outbox rows, commit (both sides compute the next
   deadline with `Protocol.due_at`). Target: engine >= 50 % of hand.
b. Microseconds per `Protocol.fire` on an in-memory referral (no database),
   against a bare shared `transitions` Machine triggered on the same object.
   Target: <= 3x the bare machine.
c. Resident memory after 1,000 and after 100,000 in-memory referrals driven
   through the shared machine and kept alive. Target: the growth per referral
   is the referral objects themselves, nothing more (no machine per referral).

Run it with the project's virtualenv, from the repository root:

    .venv/bin/python bench/transitions.py [--events N] [--url URL]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the
local test server); the script creates a database of its own there, migrates
it and drops it at the end, and never touches the tables of the database
named in URL. `--events 50` is a quick smoke run. The exit code is 0 whether
targets are met or missed (this is a measurement); it is non-zero only when
the benchmark cannot run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script bears the name of the library it measures, and its folder comes
# first on the import path: drop it, or `import transitions` imports this file.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))  # last: our helpers, after every library

import argparse
import gc
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scratch_database import own_database
from scratch_database import shown
from sqlalchemy import Engine
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from transitions import Machine

from service.accounts.models import Role
from service.accounts.models import User
from service.clock import utcnow
from service.db import make_engine
from service.db import session_factory
from service.directory.models import Organization
from service.models import OutboxMessage  # every model, so that the mappers configure
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from workflows.loader import ProtocolLibrary
from workflows.loader import load_library
from workflows.protocol import Protocol

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PROTOCOL = "standard"
# The path of an accepted referral after it was sent: (trigger, acting side, reason).
PATH = (
    ("acknowledge", "receiver", None),
    ("accept", "receiver", None),
    ("record_first_contact", "receiver", None),
    ("record_follow_up", "sender", None),
    ("close", "sender", "service_received"),
)
# Sides alternate in chunks of this many events, so drift in the server
# (checkpoints, autovacuum) falls on both alike.
CHUNK = 100
WARM_UP = 2 * len(PATH)
REPEATS = 5
MEMORY_COUNTS = (1_000, 100_000)

TARGET_RATIO_DB = 0.50
TARGET_RATIO_CPU = 3.0
# A referral may grow by what its own object costs plus this much slack for
# allocator granularity; a machine per referral costs ~20 kB.
MEMORY_SLACK = 1.5


@dataclass(frozen=True)
class Step:
    """One event to fire: which referral, which trigger, by which side."""

    referral_id: int
    trigger: str
    side: str
    reason: str | None


@dataclass
class Figures:
    """One measurement's report lines and its verdicts against the targets."""

    lines: list[str]
    verdicts: list[tuple[str, bool]]


# a. Through the database ------------------------------------------------------


def reachable(server_url: str) -> None:
    """Stop now, with a clear message, rather than after the in-memory parts."""
    engine = make_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        raise SystemExit(f"PostgreSQL at {shown(server_url)} is not reachable: {error.orig}") from None
    finally:
        engine.dispose()


def parties(engine: Engine, now: datetime) -> dict[str, Actor]:
    """A sending and a receiving organization, each with one caseworker."""
    tag = uuid.uuid4().hex[:8]
    actors: dict[str, Actor] = {}
    with session_factory(engine)() as session:
        for side in ("sender", "receiver"):
            organization = Organization(name=f"Organisme fictif {side} {tag}", created_at=now)
            session.add(organization)
            session.flush()
            user = User(
                email=f"{side}-{tag}@example.org",
                name=f"Intervenante {side}",
                organization_id=organization.id,
                role=Role.CASEWORKER,
                created_at=now,
            )
            session.add(user)
            session.flush()
            actors[side] = Actor(user_id=user.id, organization_id=organization.id, role=Role.CASEWORKER)
        session.commit()
    return actors


def sent_referrals(engine: Engine, protocol: Protocol, actors: dict[str, Actor], count: int) -> list[int]:
    """`count` referrals already sent, inserted in bulk (as open_referral and send would leave them)."""
    now = utcnow()
    parameters = protocol.resolve_parameters({})
    sender, receiver = actors["sender"], actors["receiver"]
    referral = {
        "protocol_name": protocol.name,
        "protocol_version": protocol.version,
        "parameters": parameters,
        "urgent": False,
        "sender_organization_id": sender.organization_id,
        "receiver_organization_id": receiver.organization_id,
        "created_by_id": sender.user_id,
        "state": "sent",
        "state_entered_at": now,
        "deadline_step": 0,
        "due_at": protocol.due_at("sent", now, 0, parameters),
        "last_seq": 2,
        "version": 2,
        "created_at": now,
    }
    referrals = Referral.__table__
    with engine.begin() as connection:
        ids = list(
            connection.execute(insert(referrals).returning(referrals.c.id), [referral] * count).scalars()
        )
        opened = {"kind": "opened", "trigger": None, "from_state": None, "to_state": "draft"}
        sent = {"kind": "transition", "trigger": "send", "from_state": "draft", "to_state": "sent"}
        rows = [
            {"referral_id": referral_id, "seq": seq, "actor_user_id": sender.user_id, "actor_party": "sender"}
            | {"at": now, "comment": None, "reason_code": None, "target_organization_id": None}
            | event
            for referral_id in ids
            for seq, event in ((1, opened), (2, sent))
        ]
        connection.execute(insert(ReferralEvent.__table__), rows)
    return ids


def plan(referral_ids: list[int], events: int) -> list[Step]:
    """`events` steps over these referrals, step by step across all of them, in a valid order."""
    steps = [Step(rid, trigger, side, reason) for trigger, side, reason in PATH for rid in referral_ids]
    return steps[:events]


def referrals_needed(events: int) -> int:
    return -(-events // len(PATH))


class HandWritten:
    """The same writes as `fire`, in SQLAlchemy Core, with nothing but what they need."""

    def __init__(self, engine: Engine, protocol: Protocol, actors: dict[str, Actor]) -> None:
        self.engine = engine
        self.protocol = protocol
        self.actors = actors
        self.transitions = {t.trigger: t for t in protocol.transitions}
        referrals, events, outbox = Referral.__table__, ReferralEvent.__table__, OutboxMessage.__table__
        self.lock = (
            select(
                referrals.c.state,
                referrals.c.version,
                referrals.c.last_seq,
                referrals.c.parameters,
                referrals.c.sender_organization_id,
                referrals.c.receiver_organization_id,
            )
            .where(referrals.c.id == bindparam("referral_id"))
            .with_for_update()
        )
        self.move = (
            update(referrals)
            .where(referrals.c.id == bindparam("referral_id"), referrals.c.version == bindparam("seen"))
            .values(
                state=bindparam("state"),
                state_entered_at=bindparam("now"),
                due_at=bindparam("due_at"),
                deadline_step=0,
                last_seq=bindparam("seq"),
                version=bindparam("next_version"),
            )
        )
        self.log = insert(events).returning(events.c.id)
        self.notify = insert(outbox)

    def __call__(self, step: Step) -> None:
        transition = self.transitions[step.trigger]
        actor = self.actors[step.side]
        with self.engine.begin() as connection:
            row = connection.execute(self.lock, {"referral_id": step.referral_id}).one()
            if row.state not in transition.sources:
                raise RuntimeError(f"{step.trigger} from {row.state}: the benchmark's plan is wrong")
            now = utcnow()
            seq = row.last_seq + 1
            moved = connection.execute(
                self.move,
                {
                    "referral_id": step.referral_id,
                    "seen": row.version,
                    "state": transition.dest,
                    "now": now,
                    "due_at": self.protocol.due_at(transition.dest, now, 0, row.parameters),
                    "seq": seq,
                    "next_version": row.version + 1,
                },
            )
            if moved.rowcount != 1:
                raise RuntimeError("the referral changed under its lock")
            event_id = connection.execute(
                self.log,
                {
                    "referral_id": step.referral_id,
                    "seq": seq,
                    "kind": "transition",
                    "trigger": step.trigger,
                    "from_state": row.state,
                    "to_state": transition.dest,
                    "actor_user_id": actor.user_id,
                    "actor_party": step.side,
                    "at": now,
                    "comment": None,
                    "reason_code": step.reason,
                    "target_organization_id": None,
                },
            ).scalar_one()
            for notification in transition.notifications:
                side = "sender" if notification.to.startswith("sender") else "receiver"
                connection.execute(
                    self.notify,
                    {
                        "dedupe_key": f"referral:{step.referral_id}:{seq}:{notification.template}:"
                        f"{notification.to}",
                        "template": notification.template,
                        "referral_id": step.referral_id,
                        "event_id": event_id,
                        "recipient_party": notification.to,
                        "recipient_organization_id": row.sender_organization_id
                        if side == "sender"
                        else row.receiver_organization_id,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "available_at": now,
                    },
                )


def through_the_engine(
    engine: Engine, protocols: ProtocolLibrary, actors: dict[str, Actor]
) -> Callable[[Step], None]:
    """Each step through the domain operation, as the web app and the worker fire events."""
    factory = session_factory(engine)

    def run(step: Step) -> None:
        # A new Session per event, as a web request or a worker task would have.
        with factory() as session:
            fire(session, protocols, step.referral_id, step.trigger, actors[step.side], reason=step.reason)

    return run


def measure_database(server_url: str, events: int, protocols: ProtocolLibrary) -> Figures:
    protocol = protocols.get(PROTOCOL)
    with own_database(server_url) as url:
        engine = make_engine(url)
        try:
            actors = parties(engine, utcnow())
            sides: dict[str, Callable[[Step], None]] = {
                "engine": through_the_engine(engine, protocols, actors),
                "hand": HandWritten(engine, protocol, actors),
            }
            # Fresh referrals for each side, so both do the same work on rows of the same age.
            work = {
                name: plan(sent_referrals(engine, protocol, actors, referrals_needed(events)), events)
                for name in sides
            }
            for run in sides.values():
                for step in plan(sent_referrals(engine, protocol, actors, 2), WARM_UP):
                    run(step)
            chunks: dict[str, list[float]] = {name: [] for name in sides}
            order = list(sides)
            for start in range(0, events, CHUNK):
                for name in order:
                    began = time.perf_counter()
                    for step in work[name][start : start + CHUNK]:
                        sides[name](step)
                    chunks[name].append(time.perf_counter() - began)
                order.reverse()  # neither side always runs right after the other
            written = {name: rows_written(engine, steps) for name, steps in work.items()}
        finally:
            engine.dispose()
    rate = {name: events / sum(times) for name, times in chunks.items()}
    # Each pair of chunks ran back to back under the same load; the median pair
    # is what the engine costs when another process is not stealing the CPU.
    ratio = statistics.median(
        hand / engine for engine, hand in zip(chunks["engine"], chunks["hand"], strict=True)
    )
    same = "the same" if written["engine"] == written["hand"] else "DIFFERENT"
    return Figures(
        lines=[
            f"a. {events} events on PostgreSQL, one client, one commit per event",
            f"   domain operation fire():  {rate['engine']:8.0f} events/s  "
            f"({1000 / rate['engine']:.2f} ms/event)",
            f"   hand-written Core SQL:    {rate['hand']:8.0f} events/s  "
            f"({1000 / rate['hand']:.2f} ms/event)",
            f"   engine / hand:            {ratio:8.0%}   target >= {TARGET_RATIO_DB:.0%}",
            f"     (median of {len(chunks['engine'])} back-to-back pairs of {CHUNK}-event chunks; "
            f"from the totals: {rate['engine'] / rate['hand']:.0%})",
            f"   rows written by each side ({same}): "
            + ", ".join(f"{table} {count}" for table, count in written["engine"].items()),
        ],
        verdicts=[("a. engine >= 50% of hand-written SQL", ratio >= TARGET_RATIO_DB)],
    )


def rows_written(engine: Engine, steps: list[Step]) -> dict[str, int]:
    """What one side wrote: its transition log rows, its outbox rows, and how many referrals it closed."""
    ids = sorted({step.referral_id for step in steps})
    referrals, events, outbox = Referral.__table__, ReferralEvent.__table__, OutboxMessage.__table__
    with engine.connect() as connection:
        logged = select(func.count()).where(events.c.referral_id.in_(ids), events.c.kind == "transition")
        queued = select(func.count()).where(outbox.c.referral_id.in_(ids))
        closed = select(func.count()).where(referrals.c.id.in_(ids), referrals.c.state == "closed")
        return {
            # Minus the `send` row every prepared referral starts with.
            "log rows": connection.execute(logged).scalar_one() - len(ids),
            "outbox rows": connection.execute(queued).scalar_one(),
            "closed referrals": connection.execute(closed).scalar_one(),
        }


# b. In memory -------------------------------------------------------------------


class Case:
    """The least a referral needs to be driven: a state, and consent."""

    def __init__(self, state: str) -> None:
        self.state = state

    def has_valid_consent(self, now: datetime) -> bool:
        return True


def bare_machine(protocol: Protocol) -> Machine:
    """The same states and transitions in a shared machine with no conditions and no callbacks."""
    return Machine(
        model=None,
        states=list(protocol.states),
        transitions=[
            {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in protocol.transitions
        ],
        initial=None,
        auto_transitions=False,
        send_event=True,
    )


def best_of(repeats: int, runs: list[Callable[[], float]]) -> list[float]:
    """The fastest of several rounds of each run; the runs alternate so that load falls on all alike."""
    rounds = [[run() for run in runs] for _ in range(repeats)]
    return [min(times) for times in zip(*rounds, strict=True)]


def measure_cpu(protocol: Protocol, fires: int) -> Figures:
    now = utcnow()
    parameters = protocol.resolve_parameters({})
    path = [(trigger, frozenset({side}), reason) for trigger, side, reason in PATH]
    machine = bare_machine(protocol)
    dest_of = {t.trigger: t.dest for t in protocol.transitions}
    cases = max(1, fires // len(PATH))

    def engine() -> float:
        referrals = [Case("sent") for _ in range(cases)]
        began = time.perf_counter()
        for referral in referrals:
            for trigger, acting, reason in path:
                protocol.fire(
                    referral, trigger, parties=acting, now=now, reason=reason, parameters=parameters
                )
        return (time.perf_counter() - began) / (cases * len(path))

    def bare() -> float:
        referrals = [Case("sent") for _ in range(cases)]
        events = [machine.events[trigger] for trigger, _, _ in path]
        began = time.perf_counter()
        for referral in referrals:
            for event in events:
                if not event.trigger(referral):
                    raise RuntimeError("the bare machine refused its own path")
        return (time.perf_counter() - began) / (cases * len(path))

    def deadlines() -> float:
        dests = [dest_of[trigger] for trigger, _, _ in path]
        began = time.perf_counter()
        for _ in range(cases):
            for dest in dests:
                protocol.due_at(dest, now, 0, parameters)
        return (time.perf_counter() - began) / (cases * len(path))

    engine_us, bare_us, deadline_us = (t * 1e6 for t in best_of(REPEATS, [engine, bare, deadlines]))
    ratio = engine_us / bare_us
    return Figures(
        lines=[
            f"b. {cases * len(path)} fires in memory, best of {REPEATS} alternating rounds",
            f"   Protocol.fire:            {engine_us:8.1f} µs/fire",
            f"     of which the next deadline (Protocol.due_at): {deadline_us:.1f} µs",
            f"   bare shared Machine:      {bare_us:8.1f} µs/fire",
            f"   engine / bare:            {ratio:8.1f}x   target <= {TARGET_RATIO_CPU:.0f}x",
        ],
        verdicts=[("b. Protocol.fire <= 3x a bare Machine trigger", ratio <= TARGET_RATIO_CPU)],
    )


# c. Memory ------------------------------------------------------------------------


def rss() -> int:
    """Resident memory of this process, in bytes, after a full collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_memory(protocol: Protocol) -> Figures:
    now = utcnow()
    parameters = protocol.resolve_parameters({})
    receiver = frozenset({"receiver"})
    small, large = MEMORY_COUNTS
    kept: list[Case] = []
    after: dict[int, int] = {}
    for count in MEMORY_COUNTS:
        while len(kept) < count:
            referral = Case("sent")
            protocol.fire(referral, "acknowledge", parties=receiver, now=now, parameters=parameters)
            protocol.fire(referral, "accept", parties=receiver, now=now, parameters=parameters)
            kept.append(referral)
        after[count] = rss()
    per_referral = (after[large] - after[small]) / (large - small)
    attributes = sorted(vars(kept[-1]))
    attached = len(protocol.machine.models)

    # What the same objects cost when no machine ever saw them: the floor to compare with.
    before = rss()
    untouched = [Case("accepted") for _ in range(large - small)]
    own = (rss() - before) / len(untouched)
    del untouched, kept
    flat = per_referral <= own * MEMORY_SLACK and attached == 0 and attributes == ["state"]
    return Figures(
        lines=[
            "c. memory (VmRSS after gc.collect()) with referrals driven and kept alive",
            f"   after {small:>7,} referrals:    {after[small] / 2**20:8.1f} MiB",
            f"   after {large:>7,} referrals:    {after[large] / 2**20:8.1f} MiB",
            f"   growth per referral:      {per_referral:8.0f} bytes",
            f"   the same object, never driven: {own:.0f} bytes; target growth <= {MEMORY_SLACK}x that",
            f"   models attached to the machine: {attached}; attributes on a referral: {attributes}",
        ],
        verdicts=[("c. memory per referral is the object alone", flat)],
    )


# The report -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events fired on each side of (a)")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server to create the database on")
    parser.add_argument("--fires", type=int, default=10_000, help="in-memory fires per round of (b)")
    options = parser.parse_args(argv)
    if options.events < 1 or options.fires < 1:
        parser.error("--events and --fires must be at least 1")

    protocols = load_library()
    protocol = protocols.get(PROTOCOL)
    began = time.perf_counter()
    reachable(options.url)
    # Memory first, before the database part leaves freed memory the new objects could reuse.
    progress("c. memory")
    memory = measure_memory(protocol)
    progress("b. in memory")
    cpu = measure_cpu(protocol, options.fires)
    progress("a. PostgreSQL")
    database = measure_database(options.url, options.events, protocols)

    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"Maillage protocol engine benchmark - {PROTOCOL} protocol, Python {sys.version.split()[0]}")
    # Other work on the machine shows up in every figure below; this says how much there was.
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    print()
    for figures in (database, cpu, memory):
        print("\n".join(figures.lines))
        print()
    for label, met in database.verdicts + cpu.verdicts + memory.verdicts:
        print(f"{'PASS' if met else 'MISS'}  {label}")
    print(f"\n({time.perf_counter() - began:.0f} s)")
    return 0


def progress(what: str) -> None:
    print(f"measuring {what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

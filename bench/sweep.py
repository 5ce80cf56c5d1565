# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""What the deadline sweep costs as the referrals table grows, measured on this machine.

The same 1,000 due referrals are swept among 10,000 referrals and among
1,000,000 (`--large`), each size in a PostgreSQL database of its own. The
sweep is timed as the worker runs it (`worker.tasks.sweep`): batches of
`due_referral_ids` (the indexed query on `due_at`), then `run_due_deadline`
for each id, the domain operation that logs the reminder and queues its email.
Target: the large table's sweep takes at most 2x the small one's. The report
also prints the due query's plan on the large table, which must use the
`due_at` index.

Run it with the project's virtualenv, from the repository root:

    .venv/bin/python bench/sweep.py [--large N] [--due N] [--url URL]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the
local test server); the script creates a database of its own for each size,
migrates it and drops it at the end. Rows are inserted with server-side
`INSERT ... SELECT FROM generate_series` (valid referrals of the standard
protocol, each with its "opened" and "sent" log rows), not through the ORM.
`--large 100000` is a quick run. The exit code is 0 whether the target is met
or missed (this is a measurement); it is non-zero only when the benchmark
cannot run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/transitions.py and comes first on the import path:
# drop it, or the engine's `import transitions` imports that script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))  # last: our helpers, after every library

import argparse
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from scratch_database import own_database
from scratch_database import two_organizations
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy import text

from service.db import make_engine
from service.db import session_factory
from service.models import OutboxMessage  # every model, so that the mappers configure
from service.protocols import protocol_library
from service.referrals.models import Referral
from service.referrals.operations import due_referral_ids
from service.referrals.operations import run_due_deadline
from workflows.protocol import Protocol

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PROTOCOL = "standard"
SMALL = 10_000
TARGET_RATIO = 2.0
# The same batches as the worker's sweep (worker.tasks.SWEEP_BATCHES x the query's limit).
SWEEP_BATCHES = 20
# When the due referrals were sent: a Monday afternoon in Montréal, far from any holiday.
SENT_AT = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


@dataclass
class Sweep:
    size: int
    due: int
    query_seconds: float
    run_seconds: float
    steps: int
    queued: int
    load_seconds: float

    @property
    def total(self) -> float:
        return self.query_seconds + self.run_seconds


def moments(protocol: Protocol) -> tuple[datetime, datetime]:
    """(when the due referrals' reminder fell due, the sweep's "now": after it, before the escalation)."""
    parameters = protocol.resolve_parameters({})
    reminder = protocol.due_at("sent", SENT_AT, 0, parameters)
    escalation = protocol.due_at("sent", SENT_AT, 1, parameters)
    if reminder is None or escalation is None:
        raise SystemExit("the standard protocol's 'sent' state lost its deadline steps")
    return reminder, reminder + (escalation - reminder) / 2


def populate(engine: Engine, protocol: Protocol, size: int, due: int, now: datetime) -> None:
    """`size` sent or closed referrals between two organizations, `due` of them due, spread evenly.

    The others wait on a deadline still to come (half of them) or are closed
    (no deadline: `due_at` is NULL), as in a table that has lived a while.
    """
    parameters = protocol.resolve_parameters({})
    reminder, _ = moments(protocol)
    # Not due: sent "now", their first step a few business days ahead, spread over a month.
    later = protocol.due_at("sent", now, 0, parameters)
    ids = two_organizations(engine, now)
    every = size // due
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO referrals (protocol_name, protocol_version, parameters, urgent,
                    sender_organization_id, receiver_organization_id, created_by_id, state,
                    state_entered_at, deadline_step, due_at, last_seq, version, created_at)
                SELECT :protocol, :version, CAST(:parameters AS json), false, :sender, :receiver,
                    :author,
                    CASE WHEN i % :every = 0 OR i % 2 = 0 THEN 'sent' ELSE 'closed' END,
                    CASE WHEN i % :every = 0 THEN CAST(:sent_at AS timestamptz)
                         ELSE CAST(:now AS timestamptz) END,
                    0,
                    CASE WHEN i % :every = 0 THEN CAST(:reminder AS timestamptz)
                         WHEN i % 2 = 0 THEN CAST(:later AS timestamptz) + (i % 43200) * interval '1 minute'
                         ELSE NULL END,
                    2, 2, CAST(:sent_at AS timestamptz)
                FROM generate_series(1, :size) AS i
                """
            ),
            {
                "protocol": protocol.name,
                "version": protocol.version,
                "parameters": json.dumps(parameters),
                "sender": ids["sender"][0],
                "receiver": ids["receiver"][0],
                "author": ids["sender"][1],
                "every": every,
                "sent_at": SENT_AT,
                "now": now,
                "reminder": reminder,
                "later": later,
                "size": size,
            },
        )
        connection.execute(
            text(
                """
                INSERT INTO referral_events (referral_id, seq, kind, trigger, from_state, to_state,
                    actor_user_id, actor_party, at)
                SELECT r.id, e.seq, e.kind, e.trigger, e.from_state, e.to_state, :author, 'sender',
                    r.created_at
                FROM referrals AS r
                CROSS JOIN (VALUES (1, 'opened', NULL, NULL, 'draft'),
                                   (2, 'transition', 'send', 'draft', 'sent'))
                    AS e(seq, kind, trigger, from_state, to_state)
                """
            ),
            {"author": ids["sender"][1]},
        )
    # As a table that has lived: statistics known, visibility map set, and the
    # load's gigabyte of WAL checkpointed now rather than during the measurement
    # (a checkpoint under way makes every first write to a page log the whole page).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE referrals"))
        connection.execute(text("VACUUM ANALYZE referral_events"))
        connection.execute(text("CHECKPOINT"))


def explain(engine: Engine, now: datetime) -> list[str]:
    """The due query's plan, as `due_referral_ids` sends it, run for real."""
    query = select(Referral.id).where(Referral.due_at <= now).order_by(Referral.due_at).limit(500)
    compiled = query.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params
        )
        return [row[0] for row in rows]


def sweep(engine: Engine, size: int, due: int, plan: list[str] | None = None) -> Sweep:
    protocols = protocol_library()
    protocol = protocols.get(PROTOCOL)
    _, now = moments(protocol)
    began = time.perf_counter()
    populate(engine, protocol, size, due, now)
    loaded = time.perf_counter() - began
    if plan is not None:
        plan.extend(explain(engine, now))
    factory = session_factory(engine)
    query_seconds = run_seconds = 0.0
    steps = 0
    clock = lambda: now  # noqa: E731 - the sweep's frozen "now"
    with factory() as session:
        # Warm up the connection and the protocol's caches on a query that finds nothing.
        due_referral_ids(session, SENT_AT)
        session.rollback()
        for _batch in range(SWEEP_BATCHES):
            started = time.perf_counter()
            ids = due_referral_ids(session, clock())
            session.rollback()
            query_seconds += time.perf_counter() - started
            if not ids:
                break
            started = time.perf_counter()
            for referral_id in ids:
                if run_due_deadline(session, protocols, referral_id, clock=clock):
                    steps += 1
            run_seconds += time.perf_counter() - started
    with engine.connect() as connection:
        queued = connection.execute(
            select(text("count(*)")).select_from(OutboxMessage.__table__)
        ).scalar_one()
    return Sweep(size, due, query_seconds, run_seconds, steps, queued, loaded)


def measure(server_url: str, size: int, due: int, plan: list[str] | None = None) -> Sweep:
    progress(f"{size:,} referrals")
    with own_database(server_url) as url:
        engine = make_engine(url)
        try:
            return sweep(engine, size, due, plan)
        finally:
            engine.dispose()


def report(result: Sweep) -> str:
    return (
        f"   {result.size:>9,} referrals: {result.total:7.3f} s  "
        f"(due query {result.query_seconds * 1000:6.1f} ms, run_due_deadline {result.run_seconds:6.3f} s, "
        f"{result.total / max(result.steps, 1) * 1000:.2f} ms/step; {result.steps} steps, "
        f"{result.queued} emails queued; rows inserted in {result.load_seconds:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=1_000_000, help="referrals in the large table")
    parser.add_argument("--due", type=int, default=1_000, help="due referrals in each table")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server to create the databases on")
    options = parser.parse_args(argv)
    if options.due < 1 or options.large < SMALL or options.due > SMALL:
        parser.error(f"--due must be between 1 and {SMALL:,}, and --large at least {SMALL:,}")
    began = time.perf_counter()
    plan: list[str] = []
    small = measure(options.url, SMALL, options.due)
    large = measure(options.url, options.large, options.due, plan)
    ratio = large.total / small.total
    uses_index = any("ix_referrals_due_at" in line for line in plan) and not any(
        "Seq Scan" in line for line in plan
    )
    complete = small.steps == large.steps == options.due

    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"Maillage deadline sweep benchmark - {PROTOCOL} protocol, Python {sys.version.split()[0]}")
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    print()
    print(f"The sweep of {options.due:,} due referrals (due_referral_ids + run_due_deadline each)")
    print(report(small))
    print(report(large))
    print(f"   large / small:            {ratio:6.2f}x   target <= {TARGET_RATIO:.0f}x")
    print()
    print(f"The due query's plan among {options.large:,} referrals (EXPLAIN ANALYZE):")
    for line in plan:
        print(f"   {line}")
    print()
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(f"{verdict}  sweep among {options.large:,} <= 2x among {SMALL:,}")
    print(f"{'PASS' if uses_index else 'MISS'}  the due query scans the due_at index, not the table")
    print(f"{'PASS' if complete else 'MISS'}  every due referral got its step, once")
    print(f"\n({time.perf_counter() - began:.0f} s)")
    return 0


def progress(what: str) -> None:
    print(f"measuring {what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

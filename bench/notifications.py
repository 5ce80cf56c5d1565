# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""How fast the outbox empties into a mail server, against a no-op Celery task, on this machine.

Two measurements in one run, on the same Redis broker and the same Celery
worker (a real `celery worker` subprocess, `--pool prefork --concurrency 4` as
in docker-compose.yml unless told otherwise):

a. A no-op task (registered beside the worker's own, same acks_late options as
   `send_batch`): `--tasks` of them published from this process while the
   worker consumes them; tasks per second from the first publish until the
   queue is empty and nothing is left unacknowledged.
b. `--messages` pending outbox messages (default 10,000) on PostgreSQL, each
   for a referral with a valid consent, to an organization with one
   caseworker: the real relay (`worker.tasks.relay`, passes run from this
   process as beat would, until nothing is left to claim) publishes their ids
   in batches to the real `send_batch` task, which composes each email (French,
   HTML and text) and sends the batch over one SMTP connection to an aiosmtpd
   server on loopback in this process. Messages per second from the first relay
   pass until every message is marked sent; the sink's count is checked too.

Target: messages/s >= 100 % of no-op tasks/s (one task per message could not
beat the no-op; batches must).

    .venv/bin/python bench/notifications.py [--messages N] [--batch-size N] [--no-pipelining]
        [--url URL] [--redis URL]

The settings the worker reads (`MAILLAGE_OUTBOX_BATCH_SIZE`...) are set for it
by the script from its options. PostgreSQL: a database of its own, created and
dropped (default server $MAILLAGE_BENCH_POSTGRES_URL, else the local test
server). Redis: a queue and key prefix of its own (default
$MAILLAGE_BENCH_REDIS_URL, else redis://127.0.0.1:6379/15), every key under
the prefix deleted at the end. `--messages 200` is a quick smoke run. Exit code
0 whether the target is met or missed; non-zero only when it cannot run.
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
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import redis
from aiosmtpd.controller import Controller
from scratch_database import own_database
from scratch_database import two_organizations
from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from service.clock import utcnow
from service.config import Settings
from service.db import make_engine
from service.db import session_factory
from service.models import OutboxMessage  # every model, so that the mappers configure
from service.protocols import protocol_library
from worker.app import SEND_BATCH
from worker.app import make_celery
from worker.tasks import relay

ROOT = HERE.parent
DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_REDIS = os.environ.get("MAILLAGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
NOOP = "maillage.bench_noop"
# The no-op task, in a module the worker imports beside worker.tasks (`--include`).
NOOP_MODULE = f'''
from worker.app import celery


@celery.task(name="{NOOP}", acks_late=True, reject_on_worker_lost=True)
def noop(ids):
    return None
'''
PROTOCOL = "standard"
TEMPLATE = "referral_sent"
WARM_UP = 20
TARGET_RATIO = 1.0
TIMEOUT = 600


@dataclass
class Figures:
    tasks: int
    task_seconds: float
    messages: int
    message_seconds: float
    relay_seconds: float
    relay_passes: int
    received: int
    statuses: dict[str, int]


# PostgreSQL -------------------------------------------------------------------------


def pending_messages(engine: Engine, count: int, warm_up: int) -> None:
    """`warm_up` messages due now, then `count` held back (due in a day), each for its own sent
    referral with a valid consent, from a women's centre to a shelter with one caseworker."""
    now = utcnow()
    protocol = protocol_library().get(PROTOCOL)
    parameters = protocol.resolve_parameters({})
    ids = two_organizations(engine, now)
    total = count + warm_up
    values = {
        "protocol": protocol.name,
        "version": protocol.version,
        "parameters": json.dumps(parameters),
        "sender": ids["sender"][0],
        "receiver": ids["receiver"][0],
        "author": ids["sender"][1],
        "now": now,
        "due_at": protocol.due_at("sent", now, 0, parameters),
        "later": now + timedelta(days=1),
        "warm_up": warm_up,
        "total": total,
    }
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO referrals (protocol_name, protocol_version, parameters, urgent,
                    sender_organization_id, receiver_organization_id, created_by_id, state,
                    state_entered_at, deadline_step, due_at, last_seq, version, created_at)
                SELECT :protocol, :version, CAST(:parameters AS json), false, :sender, :receiver,
                    :author, 'sent', :now, 0, :due_at, 2, 2, :now
                FROM generate_series(1, :total)
                """
            ),
            values,
        )
        connection.execute(
            text(
                """
                INSERT INTO consents (referral_id, method, shared_with, purpose, given_at, recorded_by_id)
                SELECT id, 'verbal', 'Organisme fictif receiver', 'Référencement', :now, :author
                FROM referrals
                """
            ),
            values,
        )
        connection.execute(
            text(
                """
                INSERT INTO referral_events (referral_id, seq, kind, trigger, from_state, to_state,
                    actor_user_id, actor_party, at)
                SELECT r.id, e.seq, e.kind, e.trigger, e.from_state, e.to_state, :author, 'sender', :now
                FROM referrals AS r
                CROSS JOIN (VALUES (1, 'opened', NULL, NULL, 'draft'),
                                   (2, 'transition', 'send', 'draft', 'sent'))
                    AS e(seq, kind, trigger, from_state, to_state)
                """
            ),
            values,
        )
        connection.execute(
            text(
                """
                INSERT INTO outbox_messages (dedupe_key, template, referral_id, event_id,
                    recipient_party, recipient_organization_id, status, attempts, created_at,
                    available_at)
                SELECT 'referral:' || r.id || ':2:referral_sent:receiver', :template, r.id, e.id,
                    'receiver', :receiver, 'pending', 0, :now,
                    CASE WHEN row_number() OVER (ORDER BY r.id) <= :warm_up THEN :now ELSE :later END
                FROM referrals AS r JOIN referral_events AS e ON e.referral_id = r.id AND e.seq = 2
                """
            ),
            values | {"template": TEMPLATE},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("referrals", "consents", "referral_events", "outbox_messages"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
        connection.execute(text("CHECKPOINT"))


def release_held_back(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(OutboxMessage).where(OutboxMessage.status == "pending").values(available_at=utcnow())
        )


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: count for status, count in rows}  # noqa: C416 - rows are Row objects


# Redis, the SMTP sink, the worker -------------------------------------------------------


class Sink:
    """An SMTP server on loopback that counts what it accepts, and nothing more.

    It offers PIPELINING, as the mail servers Maillage sends through in
    production do (Postfix, Exim; not docker-compose.yml's Mailpit, a
    development sink): aiosmtpd reads commands one by one from its stream, so
    it answers pipelined commands correctly, but does not say so. The worker
    sends with smtplib, which does not pipeline: the offer changes nothing now.
    """

    def __init__(self, pipelining: bool) -> None:
        self.received = 0
        self.lock = threading.Lock()
        self.pipelining = pipelining

    async def handle_EHLO(
        self, server: object, session: object, envelope: object, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # type: ignore[attr-defined] - what aiosmtpd does without this hook
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self.lock:
            self.received += len(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink(pipelining: bool) -> Iterator[tuple[Sink, str]]:
    sink, port = Sink(pipelining), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@contextmanager
def own_queue(redis_url: str) -> Iterator[str]:
    """A queue name that is also the key prefix; every key under it is deleted at the end."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        raise SystemExit(f"Redis at {redis_url} is not reachable: {error}") from None
    name = f"maillage-bench-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        keys = list(client.scan_iter(match=f"{name}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@contextmanager
def celery_worker(env: dict[str, str], pool: str, concurrency: int, log: Path) -> Iterator[None]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        "worker.app",
        "worker",
        "--include",
        "maillage_bench_noop",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        env["MAILLAGE_QUEUE"],
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--loglevel",
        "INFO",
        "--hostname",
        f"bench-{uuid.uuid4().hex[:8]}@%h",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], what: str, poll: float = 0.01) -> float:
    """Wait for `condition`; returns the moment (perf_counter) it was first seen true."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(poll)
    return time.perf_counter()


# The measurements -----------------------------------------------------------------------


def run(options: argparse.Namespace) -> Figures:
    with (
        own_database(options.url) as database_url,
        own_queue(options.redis) as queue,
        smtp_sink(options.pipelining) as (sink, smtp_url),
        tempfile.TemporaryDirectory(prefix="maillage-bench-") as folder,
    ):
        Path(folder, "maillage_bench_noop.py").write_text(NOOP_MODULE, encoding="utf-8")
        prefix = f"{queue}:"
        env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [folder, str(ROOT), os.environ.get("PYTHONPATH")])),
            MAILLAGE_DATABASE_URL=database_url,
            MAILLAGE_BROKER_URL=options.redis,
            MAILLAGE_QUEUE=queue,
            MAILLAGE_BROKER_KEY_PREFIX=prefix,
            MAILLAGE_SMTP_URL=smtp_url,
            MAILLAGE_DATA_DIR=str(Path(folder, "instance")),
            MAILLAGE_BASE_URL="https://maillage.example.org",
            MAILLAGE_MAIL_FROM="Maillage <noreply@maillage.example.org>",
            MAILLAGE_ENV="production",
            MAILLAGE_SECRET_KEY="bench-only",  # noqa: S106 - a throwaway worker's key
            MAILLAGE_SWEEP_INTERVAL="0",
            MAILLAGE_OUTBOX_BATCH_SIZE=str(options.batch_size),
            MAILLAGE_OUTBOX_LEASE_SECONDS=str(options.lease),
        )
        engine = make_engine(database_url)
        progress(f"inserting {options.messages:,} pending messages")
        pending_messages(engine, options.messages, WARM_UP)
        publisher = make_celery(
            Settings(
                broker_url=options.redis,
                queue=queue,
                broker_key_prefix=prefix,
                data_dir=Path(folder, "publisher"),
            )
        )
        client = redis.Redis.from_url(options.redis)

        def drained() -> bool:
            # The queue's list is empty and the worker holds nothing unacknowledged.
            return client.llen(f"{prefix}{queue}") == 0 and client.hlen(f"{prefix}unacked") == 0

        def sent() -> int:
            with engine.connect() as connection:
                query = select(func.count()).where(OutboxMessage.status != "pending")
                return connection.execute(query).scalar_one()

        factory = session_factory(engine)
        lease = timedelta(seconds=options.lease)

        def relay_all() -> int:
            passes = 0
            while relay(
                factory,
                publish=lambda ids: publisher.send_task(SEND_BATCH, args=[ids]),
                lease=lease,
                batch_size=options.batch_size,
            ):
                passes += 1
            return passes

        try:
            with celery_worker(env, options.pool, options.concurrency, Path(folder, "worker.log")):
                # Warm up both paths: imports, connections, templates and catalogs.
                for _ in range(WARM_UP):
                    publisher.send_task(NOOP, args=[[1]])
                wait_until(drained, "the warm-up tasks")
                relay_all()
                wait_until(lambda: sent() >= WARM_UP, "the warm-up messages", poll=0.05)

                progress(f"a. {options.tasks:,} no-op tasks")
                began = time.perf_counter()
                for _ in range(options.tasks):
                    publisher.send_task(NOOP, args=[[1]])
                task_seconds = wait_until(drained, "the no-op tasks") - began

                progress(f"b. {options.messages:,} messages")
                release_held_back(engine)
                began = time.perf_counter()
                passes = relay_all()
                relay_seconds = time.perf_counter() - began
                total = options.messages + WARM_UP
                # The sink's count, in this process, is watched while the worker sends: counting the
                # outbox's rows every 50 ms would put the measurement's own queries in the measured
                # time. A message reaches the sink just before its row is committed as sent.
                wait_until(lambda: sink.received >= total, "the sink's count")
                message_seconds = wait_until(lambda: sent() >= total, "the messages", poll=0.001) - began
        finally:
            publisher.close()
            client.close()
        counts = statuses(engine)
        engine.dispose()
    return Figures(
        tasks=options.tasks,
        task_seconds=task_seconds,
        messages=options.messages,
        message_seconds=message_seconds,
        relay_seconds=relay_seconds,
        relay_passes=passes,
        received=sink.received - WARM_UP,
        statuses=counts,
    )


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="outbox messages to send")
    parser.add_argument("--tasks", type=int, default=3_000, help="no-op tasks for the baseline")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=defaults.outbox_batch_size,
        help="messages per send task (MAILLAGE_OUTBOX_BATCH_SIZE; default %(default)s)",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=max(defaults.outbox_lease_seconds, 600.0),
        help="seconds a relayed message stays claimed (long enough that nothing is relayed twice)",
    )
    parser.add_argument("--pool", default="prefork", help="the worker's pool (as docker-compose.yml)")
    parser.add_argument(
        "--no-pipelining",
        dest="pipelining",
        action="store_false",
        help="a sink that does not offer PIPELINING (as Mailpit); smtplib never pipelines anyway",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="the worker's processes (docker-compose.yml's: 4)"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server to create the database on")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL of the broker")
    options = parser.parse_args(argv)
    if options.messages < 1 or options.tasks < 1 or options.batch_size < 1:
        parser.error("--messages, --tasks and --batch-size must be at least 1")

    began = time.perf_counter()
    figures = run(options)
    task_rate = figures.tasks / figures.task_seconds
    message_rate = figures.messages / figures.message_seconds
    ratio = message_rate / task_rate
    delivered = (
        figures.received == figures.messages and figures.statuses.get("sent") == figures.messages + WARM_UP
    )

    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"Maillage notifications benchmark - Python {sys.version.split()[0]}")
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    print(
        f"worker: --pool {options.pool} --concurrency {options.concurrency}; batch size "
        f"{options.batch_size} (MAILLAGE_OUTBOX_BATCH_SIZE), relay claim limit 500 per pass "
        f"(claim_due), lease {options.lease:.0f} s"
    )
    print()
    print(f"a. no-op Celery task, {figures.tasks:,} published and consumed through Redis")
    print(f"   {task_rate:8.0f} tasks/s     ({figures.task_seconds:.2f} s)")
    offers = "offers PIPELINING" if options.pipelining else "without PIPELINING"
    print(f"b. outbox -> relay -> send_batch -> SMTP sink ({offers}), {figures.messages:,} messages")
    print(
        f"   {message_rate:8.0f} messages/s  ({figures.message_seconds:.2f} s; relay: "
        f"{figures.relay_passes} passes in {figures.relay_seconds:.2f} s, "
        f"{-(-figures.messages // options.batch_size)} send tasks)"
    )
    print(
        f"   received by the sink: {figures.received:,}; outbox statuses: "
        + ", ".join(f"{status} {count}" for status, count in sorted(figures.statuses.items()))
        + f" (with {WARM_UP} warm-up messages)"
    )
    print(f"   messages/s / tasks/s:   {ratio:6.0%}   target >= {TARGET_RATIO:.0%}")
    print()
    print(f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}  messages/s >= no-op tasks/s")
    print(f"{'PASS' if delivered else 'MISS'}  every message sent once, and received")
    print(f"\n({time.perf_counter() - began:.0f} s)")
    return 0


def progress(what: str) -> None:
    print(f"{what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

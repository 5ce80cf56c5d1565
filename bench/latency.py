# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""How long a partner waits for the email a state change causes, from its commit to the SMTP server.

Two shapes, each with its real processes, and in each two ways of handing the
outbox to the worker, measured in one run on the same processes:

- production: PostgreSQL (a database of its own), Redis (a queue and key
  prefix of its own), a `celery worker` (`--pool prefork --concurrency 4`, as
  docker-compose.yml) and a `celery beat`, each a subprocess;
- embedded, as `maillage run`: SQLite in a data folder, the broker a folder
  beside it (kombu's filesystem transport), one `celery worker --pool solo
  --beat` subprocess.

The state change is the app's own: the domain operation the web view calls
(`fire(..., "send")`, a caseworker sending a referral to a shelter), on the web
app's sessions (`service.web.database`: write-at-begin on SQLite, and the hook
that publishes what a commit queued). Its commit is timed by an `after_commit`
listener placed before that hook; the email's arrival by an aiosmtpd server on
loopback, in this process, which notes when it accepted each Message-ID.

a. relay only (the baseline, how it was before): nothing published at the
   commit, beat's relay (every `MAILLAGE_RELAY_INTERVAL`, 5 s) hands the
   messages on;
b. at commit: the web's hook publishes `send_batch` right after the commit;
   the relay still runs, as the safety net.

`--samples` state changes per way (default 60), one every 0.2 to 0.8 s at
random so that they fall anywhere in beat's cycle, after a few unmeasured ones
that warm up the worker. Targets (issue 12): production p50 <= 0.5 s and
p99 <= 2 s, embedded p99 <= 3 s; every email received once.

    .venv/bin/python bench/latency.py [--samples N] [--shapes production,embedded]
        [--url URL] [--redis URL]

PostgreSQL and Redis as bench/notifications.py ($MAILLAGE_BENCH_POSTGRES_URL,
$MAILLAGE_BENCH_REDIS_URL, else the local test servers). Exit code 0 whether
the targets are met or missed; non-zero only when it cannot run.
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
import os
import random
import re
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

import redis
from aiosmtpd.controller import Controller
from scratch_database import own_database
from scratch_database import two_organizations
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from service import migrate
from service.accounts.models import Role
from service.clock import utcnow
from service.config import Settings
from service.db import make_engine
from service.db import session_factory
from service.models import OutboxMessage  # every model, so that the mappers configure
from service.notifications.emails import message_id
from service.notifications.publishing import publish_after_commit
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from worker.publishing import SendAtOnce

ROOT = HERE.parent
DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_REDIS = os.environ.get("MAILLAGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
BASE_URL = "https://maillage.example.org"
RECEIVER_ADDRESS = "receiver@example.org"  # the receiving caseworker of `two_organizations`
WARM_UP = 3
PAUSE = (0.2, 0.8)
TARGETS = {"production": {50: 0.5, 99: 2.0}, "embedded": {99: 3.0}}
WAYS = ("relay only (before)", "at commit")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Sink:
    """An SMTP server on loopback that notes when it accepted each Message-ID, and how often."""

    arrivals: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        now = time.perf_counter()
        head = (envelope.original_content or b"").split(b"\r\n\r\n", 1)[0]  # type: ignore[attr-defined]
        found = MESSAGE_ID.search(head)
        with self.lock:
            self.arrivals.setdefault(found.group(1).decode() if found else "?", []).append(now)
        return "250 Message accepted"

    def arrived(self, ids: set[str]) -> bool:
        with self.lock:
            return ids <= self.arrivals.keys()


@dataclass
class Shape:
    """One deployment's shape, running: what the bench needs to act as its web app."""

    name: str
    engine: Engine
    config: Settings  # the web app's settings: its broker and queue
    sink: Sink


@dataclass
class Result:
    shape: str
    way: str
    seconds: list[float]
    copies: int  # emails received more than once

    def percentile(self, which: int) -> float:
        return statistics.quantiles(self.seconds, n=100, method="inclusive")[which - 1]


# The processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink() -> Iterator[tuple[Sink, str]]:
    sink, port = Sink(), free_port()
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
def celery(arguments: list[str], env: dict[str, str], log: Path, ready: bytes) -> Iterator[None]:
    """`celery --app worker.app <arguments>` in a subprocess, once its log shows `ready`."""
    command = [sys.executable, "-m", "celery", "--app", "worker.app", *arguments, "--loglevel", "INFO"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"celery {arguments[0]} did not start:\n{log.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def base_env(folder: Path, smtp_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        MAILLAGE_SMTP_URL=smtp_url,
        MAILLAGE_DATA_DIR=str(folder / "instance"),
        MAILLAGE_BASE_URL=BASE_URL,
        MAILLAGE_MAIL_FROM="Maillage <noreply@maillage.example.org>",
        MAILLAGE_ENV="production",
        MAILLAGE_SECRET_KEY="bench-only",  # noqa: S106 - a throwaway worker's key
        MAILLAGE_SWEEP_INTERVAL="0",
        MAILLAGE_PERIODIC_INTERVAL="0",
    )
    return env


@contextmanager
def production(options: argparse.Namespace, stack: ExitStack) -> Iterator[Shape]:
    """PostgreSQL, Redis, a prefork worker and a beat of their own."""
    database_url = stack.enter_context(own_database(options.url))
    queue = stack.enter_context(own_queue(options.redis))
    sink, smtp_url = stack.enter_context(smtp_sink())
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maillage-bench-")))
    env = base_env(folder, smtp_url) | {
        "MAILLAGE_DATABASE_URL": database_url,
        "MAILLAGE_BROKER_URL": options.redis,
        "MAILLAGE_QUEUE": queue,
        "MAILLAGE_BROKER_KEY_PREFIX": f"{queue}:",
    }
    config = Settings(
        database_url=database_url,
        broker_url=options.redis,
        queue=queue,
        broker_key_prefix=f"{queue}:",
        data_dir=folder / "web",
    )
    engine = make_engine(database_url)
    worker = ["worker", "--queues", queue, "--pool", "prefork", "--concurrency", "4"]
    worker += ["--without-mingle", "--without-gossip", "--hostname", f"bench-{uuid.uuid4().hex[:8]}@%h"]
    with (
        celery(worker, env, folder / "worker.log", b" ready."),
        celery(["beat"], env, folder / "beat.log", b"beat: Starting"),
    ):
        yield Shape("production", engine, config, sink)
    engine.dispose()


@contextmanager
def embedded(options: argparse.Namespace, stack: ExitStack) -> Iterator[Shape]:
    """SQLite and the broker folder in a data folder, one solo worker with its beat, as `maillage run`."""
    sink, smtp_url = stack.enter_context(smtp_sink())
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maillage-bench-")))
    database_url = f"sqlite:///{folder / 'instance' / 'maillage.db'}"
    (folder / "instance").mkdir()
    migrate.upgrade(database_url)
    env = base_env(folder, smtp_url)
    config = Settings(database_url=database_url, broker_url=None, data_dir=folder / "instance")
    engine = make_engine(database_url, write_at_begin=True)  # as the web app's (service.web.database)
    worker = ["worker", "--queues", config.queue, "--pool", "solo", "--beat"]
    worker += ["--without-mingle", "--without-gossip", "--hostname", f"bench-{uuid.uuid4().hex[:8]}@%h"]
    with celery(worker, env, folder / "worker.log", b" ready."):
        yield Shape("embedded", engine, config, sink)
    engine.dispose()


# The measurement -----------------------------------------------------------------------------


def drafts(engine: Engine, count: int) -> tuple[list[int], Actor]:
    """`count` referrals with consent, ready to send, and the caseworker who sends them."""
    now = utcnow()
    ids = two_organizations(engine, now)
    sender = Actor(user_id=ids["sender"][1], organization_id=ids["sender"][0], role=Role.CASEWORKER)
    protocols = protocol_library()
    referrals = []
    with session_factory(engine)() as session:
        for _ in range(count):
            referral = open_referral(
                session,
                protocols,
                sender,
                receiver_organization_id=ids["receiver"][0],
                protocol_name="standard",
            )
            record_consent(
                session,
                referral.id,
                sender,
                method="verbal",
                shared_with="Organisme fictif",
                purpose="Référencement",
            )
            referrals.append(referral.id)
    return referrals, sender


def web_sessions(shape: Shape, at_commit: bool, commits: dict[int, float]) -> sessionmaker[Session]:
    """The web app's sessions (`service.web.database.init_app`), publishing at commit or not; each
    commit's moment is noted first, before the publishing hook runs."""
    sessions = session_factory(shape.engine)

    def committed(session: Session) -> None:
        referral_id = session.info.get("bench.referral")
        if referral_id is not None:
            commits.setdefault(referral_id, time.perf_counter())

    event.listen(sessions, "after_commit", committed)
    if at_commit:
        publish_after_commit(sessions, SendAtOnce(shape.config))
    return sessions


def measure(shape: Shape, way: str, referrals: list[int], sender: Actor, samples: int) -> Result:
    commits: dict[int, float] = {}
    sessions = web_sessions(shape, way == "at commit", commits)
    protocols = protocol_library()
    for referral_id in referrals:
        with sessions() as session:
            session.info["bench.referral"] = referral_id
            fire(session, protocols, referral_id, "send", sender)
        time.sleep(random.uniform(*PAUSE))  # over beat's cycle
    expected = expected_ids(shape.engine, referrals)
    deadline = time.monotonic() + 60
    while not shape.sink.arrived(set(expected)):
        if time.monotonic() > deadline:
            missing = len(set(expected) - shape.sink.arrivals.keys())
            raise SystemExit(f"{shape.name}, {way}: {missing} emails never arrived")
        time.sleep(0.05)
    time.sleep(1)  # a copy sent twice would arrive about now
    seconds = [shape.sink.arrivals[mid][0] - commits[referral] for mid, referral in expected.items()]
    copies = sum(len(shape.sink.arrivals[mid]) > 1 for mid in expected)
    return Result(shape.name, way, seconds[-samples:], copies)


def expected_ids(engine: Engine, referrals: list[int]) -> dict[str, int]:
    """The Message-ID of each referral's email to the receiver -> the referral, in sending order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.referral_id, OutboxMessage.dedupe_key)
            .where(OutboxMessage.referral_id.in_(referrals))
            .order_by(OutboxMessage.id)
        ).all()
    return {message_id(key, RECEIVER_ADDRESS, BASE_URL): referral for referral, key in rows}


def run_shape(make: Callable[..., object], options: argparse.Namespace) -> list[Result]:
    results = []
    with ExitStack() as stack, make(options, stack) as shape:  # type: ignore[attr-defined]
        per_way = WARM_UP + options.samples
        referrals, sender = drafts(shape.engine, per_way * len(WAYS))
        for index, way in enumerate(WAYS):
            progress(f"{shape.name}: {way}, {options.samples} state changes")
            chosen = referrals[index * per_way : (index + 1) * per_way]
            results.append(measure(shape, way, chosen, sender, options.samples))
        with shape.engine.connect() as connection:
            # Nothing left pending: the relay of either way sent nothing twice.
            left = connection.execute(select(OutboxMessage.id).where(OutboxMessage.status == "pending")).all()
        if left:
            raise SystemExit(f"{shape.name}: {len(left)} messages still pending")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=60, help="measured state changes per shape and way")
    parser.add_argument("--shapes", default="production,embedded", help="which shapes, comma-separated")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server to create the database on")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL of the broker")
    options = parser.parse_args(argv)
    shapes = [name.strip() for name in options.shapes.split(",") if name.strip()]
    if options.samples < 2 or not set(shapes) <= set(TARGETS):
        parser.error("--samples must be at least 2; --shapes names production and/or embedded")

    began = time.perf_counter()
    results = []
    for name in shapes:
        results += run_shape(production if name == "production" else embedded, options)

    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"Maillage notification latency benchmark - Python {sys.version.split()[0]}")
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    print(
        f"from the commit of a referral's sending to its email accepted by an SMTP server on loopback; "
        f"{options.samples} sendings per line, one every {PAUSE[0]}-{PAUSE[1]} s; "
        f"beat's relay every {Settings().relay_interval:g} s"
    )
    print()
    print(f"{'shape':<12}{'publishing':<22}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  target")
    verdicts = []
    for result in results:
        figures = (
            "".join(f"{result.percentile(p):7.2f}s" for p in (50, 90, 99)) + f"{max(result.seconds):7.2f}s"
        )
        targets = TARGETS[result.shape] if result.way == "at commit" else {}
        wanted = ", ".join(f"p{p} <= {limit:g} s" for p, limit in targets.items()) or "(baseline)"
        print(f"{result.shape:<12}{result.way:<22}{figures}  {wanted}")
        for which, limit in targets.items():
            verdicts.append((result.percentile(which) <= limit, f"{result.shape} p{which} <= {limit:g} s"))
    copies = sum(result.copies for result in results)
    verdicts.append((copies == 0, f"every email received once ({copies} copies)"))
    print()
    for passed, what in verdicts:
        print(f"{'PASS' if passed else 'MISS'}  {what}")
    print(f"\n({time.perf_counter() - began:.0f} s)")
    return 0


def progress(what: str) -> None:
    print(f"{what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

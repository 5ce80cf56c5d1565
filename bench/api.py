# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""The JSON API's cost over the same SQL written by hand, under gunicorn on PostgreSQL.

Many clients (wrk, headless, on loopback) fire `acknowledge` on distinct sent
referrals through `POST /api/v1/referrals/{id}/actions` with a receiving
caseworker's key, and, in the same run, on as many other referrals through a
bare Flask + SQLAlchemy endpoint doing the writes of `fire` by hand: lock the
referral, update it, insert its event-log row and outbox rows, commit. The
API also checks the key and the rate limit, and runs the domain operation
`fire` with the ORM. Both answer briefly: the API with `Prefer:
return=minimal` (204 and the new ETag), the bare endpoint with the new state
and version.

For each gunicorn configuration (worker class, workers, threads) it prints
requests per second and the 95th percentile latency of both, and their ratio;
target: the API reaches at least 60 % of the bare endpoint.

    .venv/bin/python bench/api.py [--seconds 10] [--connections 16] [--url URL] [--limits URL]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the
local test server); the script creates a database of its own there and drops
it at the end. The API's rate limit counts in Redis, as in docker-compose.yml
(`--limits`, default $MAILLAGE_BENCH_REDIS_URL, else redis://127.0.0.1:6379/15;
keys under a prefix of the run's own, gone a minute later). Needs `wrk`
(Debian package) and gunicorn (the `server` extra). Every request goes to
127.0.0.1; every run is bounded by `--seconds`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The folder of this script comes first on the import path, and holds bench/transitions.py,
# which would hide the `transitions` library: put it last (as bench/transitions.py does).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(ROOT))
sys.path.append(str(HERE))

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from flask import Flask
from flask import request
from sqlalchemy import Engine
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from service.clock import utcnow
from service.db import make_engine
from service.models import OutboxMessage  # every model, so that the mappers configure
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from workflows.loader import load_library
from workflows.protocol import Protocol

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PROTOCOL = "standard"
TRIGGER = "acknowledge"
TARGET_RATIO = 0.60
# (worker class, workers, threads): sync workers around 2 x cores + 1, and threaded ones.
CONFIGS = (
    ("sync", 2, 1),
    ("sync", 3, 1),
    ("sync", 5, 1),
    ("gthread", 2, 4),
    ("gthread", 3, 4),
)
WRK_THREADS = 2
WARM_UP = 40

LUA = """
local counter = 0
function setup(thread)
  thread:set("slot", counter)
  counter = counter + 1
end
function init(args)
  first = tonumber(args[1]); stride = tonumber(args[2]); path = args[3]; token = args[4]; n = 0
end
function request()
  local id = first + slot + n * stride
  n = n + 1
  return wrk.format("POST", string.format(path, id),
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
     ["Prefer"] = "return=minimal"},
    '{"trigger": "acknowledge"}')
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.errors.status,
    summary.duration, latency:percentile(95)))
end
"""


# The two apps gunicorn serves ----------------------------------------------------


def served() -> Flask:
    """What gunicorn serves: `BENCH_APP=api` the real app, `bare` the endpoint by hand."""
    if os.environ["BENCH_APP"] == "api":
        from service.app import create_app

        # The limiter stays on (its cost counts), with an allowance the run cannot reach.
        return create_app({"API_RATE_LIMIT": "1000000 per minute"})
    return bare_app(os.environ["MAILLAGE_DATABASE_URL"])


def bare_app(url: str) -> Flask:
    """One endpoint doing `fire`'s writes by hand, with nothing but what they need."""
    app = Flask("bare")
    engine = make_engine(url)
    protocol = load_library().get(PROTOCOL)
    transitions = {t.trigger: t for t in protocol.transitions}
    referrals, events, outbox = Referral.__table__, ReferralEvent.__table__, OutboxMessage.__table__
    lock = (
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
    move = (
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
    log = insert(events).returning(events.c.id)
    notify = insert(outbox)

    @app.post("/bare/referrals/<int:referral_id>/actions")
    def act(referral_id: int) -> tuple[dict, int]:
        transition = transitions[request.get_json()["trigger"]]
        with engine.begin() as connection:
            row = connection.execute(lock, {"referral_id": referral_id}).one()
            if row.state not in transition.sources:
                return {"state": row.state}, 409
            now = utcnow()
            seq = row.last_seq + 1
            connection.execute(
                move,
                {
                    "referral_id": referral_id,
                    "seen": row.version,
                    "state": transition.dest,
                    "now": now,
                    "due_at": protocol.due_at(transition.dest, now, 0, row.parameters),
                    "seq": seq,
                    "next_version": row.version + 1,
                },
            )
            event_id = connection.execute(
                log,
                {
                    "referral_id": referral_id,
                    "seq": seq,
                    "kind": "transition",
                    "trigger": transition.trigger,
                    "from_state": row.state,
                    "to_state": transition.dest,
                    "actor_user_id": None,
                    "actor_party": "receiver",
                    "at": now,
                    "comment": None,
                    "reason_code": None,
                    "target_organization_id": None,
                },
            ).scalar_one()
            for notification in transition.notifications:
                sender = notification.to.startswith("sender")
                connection.execute(
                    notify,
                    {
                        "dedupe_key": ":".join(
                            ("referral", str(referral_id), str(seq), notification.template, notification.to)
                        ),
                        "template": notification.template,
                        "referral_id": referral_id,
                        "event_id": event_id,
                        "recipient_party": notification.to,
                        "recipient_organization_id": row.sender_organization_id
                        if sender
                        else row.receiver_organization_id,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "available_at": now,
                    },
                )
        return {"id": referral_id, "state": transition.dest, "version": row.version + 1}, 200

    return app


# Setting up ----------------------------------------------------------------------


def sent_referrals(
    engine: Engine, protocol: Protocol, organizations: dict[str, int], count: int
) -> list[int]:
    """`count` sent referrals (as `open_referral` and `send` leave them), inserted in bulk."""
    now = utcnow()
    parameters = protocol.resolve_parameters({})
    row = {
        "protocol_name": protocol.name,
        "protocol_version": protocol.version,
        "parameters": parameters,
        "urgent": False,
        "sender_organization_id": organizations["sender"],
        "receiver_organization_id": organizations["receiver"],
        "created_by_id": None,
        "state": "sent",
        "state_entered_at": now,
        "deadline_step": 0,
        "due_at": protocol.due_at("sent", now, 0, parameters),
        "last_seq": 2,
        "version": 2,
        "created_at": now,
    }
    table = Referral.__table__
    with engine.begin() as connection:
        ids = list(connection.execute(insert(table).returning(table.c.id), [row] * count).scalars())
        opened = {"kind": "opened", "trigger": None, "from_state": None, "to_state": "draft"}
        sent = {"kind": "transition", "trigger": "send", "from_state": "draft", "to_state": "sent"}
        connection.execute(
            insert(ReferralEvent.__table__),
            [
                {"referral_id": referral_id, "seq": seq, "actor_user_id": None, "actor_party": "sender"}
                | {"at": now, "comment": None, "reason_code": None, "target_organization_id": None}
                | event
                for referral_id in ids
                for seq, event in ((1, opened), (2, sent))
            ],
        )
    if ids != list(range(ids[0], ids[0] + count)):
        raise SystemExit("the referrals' ids are not consecutive; wrk's script walks a range")
    return ids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Run:
    requests: int
    failed: int
    seconds: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


class Server:
    """gunicorn serving one of the two apps on a loopback port, stopped on the way out."""

    def __init__(
        self, app: str, url: str, worker_class: str, workers: int, threads: int, limits: str
    ) -> None:
        self.port = free_port()
        environment = os.environ | {
            "BENCH_APP": app,
            "MAILLAGE_DATABASE_URL": url,
            "MAILLAGE_SECRET_KEY": "bench-only-not-a-secret",
            "MAILLAGE_ENV": "production",
            # As docker-compose.yml: the limits' counts in Redis, shared by gunicorn's workers.
            "MAILLAGE_RATELIMIT_STORAGE_URL": limits,
            "MAILLAGE_BROKER_KEY_PREFIX": f"maillage-bench-{uuid.uuid4().hex[:10]}:",
        }
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            f"--worker-class={worker_class}",
            f"--threads={threads}",
            f"--chdir={ROOT}",
            "--log-level=warning",
            "bench.api:served()",
        ]
        self.process = subprocess.Popen(command, env=environment)  # noqa: S603 - our own command line

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def post(self, path: str, token: str) -> int:
        call = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=b'{"trigger": "acknowledge"}',
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(call, timeout=60) as answer:  # noqa: S310
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def ready(self, path: str, token: str) -> None:
        for _ in range(200):
            if self.process.poll() is not None:
                raise SystemExit("gunicorn stopped at start")
            try:
                self.post(path, token)
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise SystemExit("gunicorn did not answer within 20 s")

    def load(self, path: str, token: str, first: int, seconds: int, connections: int, script: Path) -> Run:
        command = [
            "wrk",
            f"--threads={WRK_THREADS}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=10s",
            f"--script={script}",
            f"http://127.0.0.1:{self.port}",
            "--",
            str(first),
            str(WRK_THREADS),
            path,
            token,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
        line = next(line for line in output.splitlines() if line.startswith("RESULT"))
        requests, failed, duration_us, p95_us = (int(part) for part in line.split()[1:])
        return Run(requests, failed, duration_us / 1e6, p95_us / 1000)


def measure(url: str, seconds: int, connections: int, pool: int, limits: str) -> list[str]:
    from scratch_database import two_organizations

    from service.api.keys import create_key
    from service.db import session_factory
    from service.referrals.actors import Actor

    engine = make_engine(url)
    protocol = load_library().get(PROTOCOL)
    organizations = {side: ids[0] for side, ids in two_organizations(engine, utcnow()).items()}
    with session_factory(engine)() as session:
        coordinator = Actor(user_id=None, organization_id=organizations["receiver"], role="coordinator")
        token = create_key(session, coordinator, name="bench", role="caseworker").token
    lines = [
        f"{'gunicorn':<22} {'API req/s':>10} {'p95 ms':>8} {'bare req/s':>11} {'p95 ms':>8} {'ratio':>6}",
    ]
    best: tuple[float, float, str] | None = None
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "fire.lua"
        script.write_text(LUA, encoding="utf-8")
        for worker_class, workers, threads in CONFIGS:
            runs: dict[str, Run] = {}
            for app, path in (
                ("api", "/api/v1/referrals/%d/actions"),
                ("bare", "/bare/referrals/%d/actions"),
            ):
                ids = sent_referrals(engine, protocol, organizations, pool)
                with Server(app, url, worker_class, workers, threads, limits) as server:
                    server.ready(path % ids[0], token)
                    for referral_id in ids[1:WARM_UP]:
                        server.post(path % referral_id, token)
                    run = server.load(path, token, ids[WARM_UP], seconds, connections, script)
                if run.requests + WARM_UP > pool:
                    raise SystemExit(f"{run.requests} requests ran past the {pool} referrals: raise --pool")
                if run.failed:
                    raise SystemExit(f"{app}: {run.failed} of {run.requests} requests failed")
                runs[app] = run
            api, bare = runs["api"], runs["bare"]
            ratio = api.rate / bare.rate
            name = f"{worker_class} {workers}w" + (f" x {threads}t" if threads > 1 else "")
            lines.append(
                f"{name:<22} {api.rate:>10.0f} {api.p95_ms:>8.1f} {bare.rate:>11.0f} {bare.p95_ms:>8.1f} "
                f"{ratio:>6.0%}"
            )
            if best is None or api.rate > best[0]:
                best = (api.rate, ratio, name)
    engine.dispose()
    assert best is not None
    rate, ratio, name = best
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    lines.append(f"best API figure: {name}, {rate:.0f} req/s")
    lines.append(
        f"{verdict}: there the API reaches {ratio:.0%} of the bare endpoint (target >= {TARGET_RATIO:.0%})"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (a database is made there)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk's concurrent connections")
    parser.add_argument("--pool", type=int, default=20_000, help="sent referrals made for each run")
    parser.add_argument(
        "--limits",
        default=os.environ.get("MAILLAGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="where the API's rate limit counts (Redis as in production; memory:// for none)",
    )
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    from scratch_database import own_database

    started = time.perf_counter()
    with own_database(arguments.url) as url:
        lines = measure(url, arguments.seconds, arguments.connections, arguments.pool, arguments.limits)
    print(f"API vs bare endpoint, {arguments.connections} connections, {arguments.seconds} s each, 2 cores")
    print(f"load average {os.getloadavg()[0]:.2f}, {time.perf_counter() - started:.0f} s in all")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()

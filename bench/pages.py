# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""The pages people use, at ten years of data: time alone, time under 20 people, statements, size.

For each size of `--sizes` (default 20,000 and 200,000 referrals) the run
fills a database of its own with `bench/region.py`'s region and measures,
through the real app and its WSGI stack:

- each page a person uses, signed in as the region's first organization's
  people (see PAGES): the dashboard of each role, the inbox, a referral,
  the directory search, the reports, a partnership's bilan, the requests
  between organizations, the intervention keys and the calendars;
- **alone**: `--requests` requests one after the other through Werkzeug's
  test client in this process, after three warm-up requests (the reports'
  one-off build of their figures among them); p95;
- the **SQL statements** of one request (counted at the engine) and the
  **size** of its page: both must not grow with the data (lists are paged);
- **under load** (largest size only): gunicorn (2 workers x 4 threads,
  as on this machine's 2 cores) and 20 simulated people, each opening the
  next page of the list every 2 s for `--seconds`; p95 per page;
- in the same run, the ceiling: Flask's bare "hello" and a bare ORM read
  (one referral by id in a new Session), alone and under the same load.

Targets: p95 <= 100 ms alone and <= 150 ms under load for every page;
statements equal at both sizes, and the size of a row of the page (its size
over its table rows and list items, `<tr>` and `<li>`) within 20 %: a row's
numbers, names and statuses differ, and a smaller region may fill fewer rows
of a page (fewer referrals still open) while the larger one fills them all,
or show a referral with a longer history. Each line says PASS or MISS; the exit code is 0 either way.

    .venv/bin/python bench/pages.py [--sizes 20000 200000] [--requests 40] [--seconds 30] [--url URL]

Needs PostgreSQL (as the other benchmarks), Redis for the rate limits' counts
($MAILLAGE_BENCH_REDIS_URL, default redis://127.0.0.1:6379/15) and gunicorn.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/transitions.py and comes first on the import path:
# drop it, or the engine's `import transitions` imports that script.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))  # last: our helpers, after every library

import argparse
import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import select

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_REDIS = os.environ.get("MAILLAGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET_KEY = "bench-only-not-a-secret"  # noqa: S105 - a throwaway app on loopback
COOKIE = "__Host-maillage_session"  # production's name: the app runs as in production
ALONE_TARGET_MS = 100.0
LOAD_TARGET_MS = 150.0
PEOPLE = 20
EVERY_SECONDS = 2.0
WARM_UP = 3


@dataclass(frozen=True)
class Page:
    name: str
    role: str
    path: str  # `{referral}` and `{partnership}` stand for the region's referral and partnership


PAGES = (
    Page("dashboard, caseworker", "caseworker", "/"),
    Page("dashboard, coordinator", "coordinator", "/"),
    Page("home, privacy officer", "privacy_officer", "/organization"),
    Page("register, privacy officer", "privacy_officer", "/privacy/"),
    Page("home, regional admin", "regional_admin", "/"),
    Page("inbox", "coordinator", "/referrals/received"),
    Page("inbox, page 2", "coordinator", "/referrals/received?page=2"),
    Page("referral", "caseworker", "/referrals/{referral}"),
    Page("directory search", "caseworker", "/directory/?q=fictif"),
    Page("report, organization", "coordinator", "/reports/organization"),
    Page("report, region", "regional_admin", "/reports/region"),
    Page("partnership's bilan", "coordinator", "/directory/partnerships/{partnership}/bilan"),
    Page("requests between organizations", "coordinator", "/partnership-requests"),
    Page("intervention keys", "caseworker", "/practice-notes/"),
    Page("calendar", "caseworker", "/calendar/"),
    Page("regional calendar", "caseworker", "/calendar/events"),
)
CEILINGS = (Page("ceiling: Flask hello", "", "/hello"), Page("ceiling: ORM read", "", "/orm/{referral}"))


# The apps ------------------------------------------------------------------------------------


def environment(url: str, redis: str, data: str) -> dict[str, str]:
    """The app's settings, as production runs it (the rate limits' counts in Redis)."""
    return {
        "MAILLAGE_DATABASE_URL": url,
        "MAILLAGE_SECRET_KEY": SECRET_KEY,
        "MAILLAGE_ENV": "production",
        "MAILLAGE_DATA_DIR": data,
        "MAILLAGE_RATELIMIT_STORAGE_URL": redis,
        "MAILLAGE_BROKER_KEY_PREFIX": f"maillage-bench-{uuid.uuid4().hex[:10]}:",
    }


def real_app() -> Flask:
    """The Maillage app on the region's clock (`BENCH_NOW`), configured from the environment."""
    from service.app import create_app

    now = datetime.fromisoformat(os.environ["BENCH_NOW"])
    return create_app({"CLOCK": lambda: now})


def bare_app() -> Flask:
    """The ceiling: Flask with nothing, and a plain ORM read of one referral."""
    from service.db import make_engine
    from service.db import session_factory
    from service.models import Referral

    app = Flask(__name__)
    sessions = session_factory(make_engine(os.environ["MAILLAGE_DATABASE_URL"]))

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    @app.get("/orm/<int:referral_id>")
    def orm(referral_id: int) -> str:
        with sessions() as session:
            return session.get_one(Referral, referral_id).state

    return app


def served() -> Flask:
    """What gunicorn serves: `BENCH_APP=real` Maillage, `bare` the ceiling."""
    return real_app() if os.environ["BENCH_APP"] == "real" else bare_app()


def session_cookies(app: Flask, engine: Engine, users: dict[str, int], now: datetime) -> dict[str, str]:
    """A signed-in session for each role's user, as the sign-in form would open it: role -> cookie."""
    from service.accounts.models import User
    from service.accounts.operations import start_session
    from service.db import session_factory

    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    cookies = {}
    with session_factory(engine)() as session:
        for role, user_id in users.items():
            token = start_session(session, session.get_one(User, user_id), lambda: now)
            cookies[role] = f"{COOKIE}={serializer.dumps({'_user_id': token, '_fresh': True})}"
    return cookies


# Alone ----------------------------------------------------------------------------------------


@dataclass
class Alone:
    p95_ms: float
    statements: int
    size: int
    status: int
    rows: int  # its tables' rows and its lists' items: what a page lists, at most a page of each list


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def alone(app: Flask, engine_counts: list[int], path: str, cookie: str | None, requests: int) -> Alone:
    client = app.test_client(use_cookies=False)  # a jar would replace the Cookie header given
    headers = {"Cookie": cookie} if cookie else {}
    for _ in range(WARM_UP):
        client.get(path, headers=headers, base_url="https://localhost")
    times = []
    statements = size = status = rows = 0
    for _ in range(requests):
        engine_counts[0] = 0
        started = time.perf_counter()
        answer = client.get(path, headers=headers, base_url="https://localhost")
        times.append((time.perf_counter() - started) * 1000)
        statements, size, status = engine_counts[0], len(answer.data), answer.status_code
        rows = answer.data.count(b"<tr") + answer.data.count(b"<li")
    return Alone(percentile(times, 0.95), statements, size, status, rows)


@contextmanager
def counting_statements() -> Iterator[list[int]]:
    """Every SQL statement this process sends, counted in the list's one item."""
    from sqlalchemy.engine import Engine as AnyEngine

    counts = [0]

    def count(*_: object) -> None:
        counts[0] += 1

    event.listen(AnyEngine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(AnyEngine, "before_cursor_execute", count)


# Under load -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(which: str, settings: dict[str, str]) -> Iterator[int]:
    """gunicorn serving `which` ("real" or "bare") on a loopback port: the port."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        f"--bind=127.0.0.1:{port}",
        "--workers=2",
        "--worker-class=gthread",
        "--threads=4",
        f"--chdir={ROOT}",
        "--log-level=warning",
        "bench.pages:served()",
    ]
    process = subprocess.Popen(command, env=os.environ | settings | {"BENCH_APP": which})  # noqa: S603
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit("gunicorn stopped at start")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=30):
                    break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not answer within 30 s")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def under_load(port: int, pages: list[tuple[str, str, str | None]], seconds: float) -> dict[str, list[float]]:
    """PEOPLE people, each opening the next of `pages` (name, path, cookie) every 2 s: times by name."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    failures: list[str] = []
    lock = threading.Lock()

    def person(number: int) -> None:
        # Spread over the first interval, so that the people do not all click at once.
        next_at = time.monotonic() + EVERY_SECONDS * number / PEOPLE
        turn = number
        while True:
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() >= deadline:
                return
            name, path, cookie = pages[turn % len(pages)]
            call = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}",
                headers={"Cookie": cookie} if cookie else {},
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(call, timeout=60) as answer:  # noqa: S310 - loopback
                    answer.read()
            except urllib.error.HTTPError as error:
                failures.append(f"{name}: {error.code}")
            except OSError as error:  # a timeout: counted at its length, as the person waited it
                failures.append(f"{name}: {error}")
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                times[name].append(elapsed)
            turn += 1
            next_at += EVERY_SECONDS

    # Each worker builds its app on its first request: warm them all up first, as a running site is.
    for _ in range(2 * 4):
        for _name, path, cookie in pages:
            call = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie} if cookie else {}
            )
            with (
                contextlib.suppress(urllib.error.HTTPError),
                urllib.request.urlopen(call, timeout=60) as answer,  # noqa: S310 - loopback
            ):
                answer.read()
    deadline = time.monotonic() + seconds
    people = [threading.Thread(target=person, args=(n,)) for n in range(PEOPLE)]
    for one in people:
        one.start()
    for one in people:
        one.join()
    if failures:
        print(f"  {len(failures)} failed requests under load, e.g. {failures[:3]}")
    return times


# The run --------------------------------------------------------------------------------------


@dataclass
class Measured:
    alone: dict[str, Alone]
    load: dict[str, float]


def measure(
    server_url: str, redis: str, size: int, requests: int, seconds: float, loaded: bool
) -> tuple[Measured, float]:
    from region import fill
    from scratch_database import own_database

    from service.config import settings
    from service.db import make_engine
    from service.models import Referral

    with own_database(server_url) as url, tempfile.TemporaryDirectory() as data:
        engine = make_engine(url)
        started = time.perf_counter()
        region = fill(engine, size)
        filled = time.perf_counter() - started
        with engine.connect() as connection:
            any_referral = connection.scalar(select(Referral.id).order_by(Referral.id.desc()).limit(1))
        print(f"  {size:,} referrals, {region.events:,} log rows, generated in {filled:.0f} s", flush=True)
        settings_now = environment(url, redis, data) | {"BENCH_NOW": region.now.isoformat()}
        saved = dict(os.environ)
        os.environ.update(settings_now)
        settings.cache_clear()
        try:
            app, bare = real_app(), bare_app()
            cookies = session_cookies(app, engine, region.users, region.now)
            results: dict[str, Alone] = {}
            with counting_statements() as counts:
                for page in (*CEILINGS, *PAGES):
                    path = page.path.format(
                        referral=region.referral_id if page.role else any_referral,
                        partnership=region.partnership_id,
                    )
                    results[page.name] = alone(
                        app if page.role else bare, counts, path, cookies.get(page.role), requests
                    )
            load: dict[str, float] = {}
            if loaded:
                places = {"referral": region.referral_id, "partnership": region.partnership_id}
                listed = [(p.name, p.path.format(**places), cookies[p.role]) for p in PAGES]
                with gunicorn("real", settings_now) as port:
                    for name, values in under_load(port, listed, seconds).items():
                        load[name] = percentile(values, 0.95) if values else float("nan")
                bare_pages = [(p.name, p.path.format(referral=any_referral), None) for p in CEILINGS]
                with gunicorn("bare", settings_now) as port:
                    for name, values in under_load(port, bare_pages, min(seconds, 20)).items():
                        load[name] = percentile(values, 0.95) if values else float("nan")
        finally:
            os.environ.clear()
            os.environ.update(saved)
            settings.cache_clear()
            engine.dispose()
    return Measured(results, load), filled


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(sizes: list[int], runs: list[Measured]) -> None:
    small, large = runs[0], runs[-1]
    print()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    head = (
        f"{'page':<28} {'status':>6} "
        + "".join(f"{'SQL@' + format(s, ','):>12}" for s in (sizes[0], sizes[-1]))
        + "".join(f"{'kB@' + format(s, ','):>11}" for s in (sizes[0], sizes[-1]))
        + "".join(f"{'rows@' + format(s, ','):>13}" for s in (sizes[0], sizes[-1]))
        + "".join(f"{'alone@' + format(s, ','):>14}" for s in (sizes[0], sizes[-1]))
        + f"{'load p95':>10}  verdict"
    )
    print(head)
    print("-" * len(head))
    for page in (*CEILINGS, *PAGES):
        a, b = small.alone[page.name], large.alone[page.name]
        under = large.load.get(page.name, float("nan"))
        per_row = [x.size / max(x.rows, 1) for x in (a, b)]
        flat = a.statements == b.statements and abs(per_row[1] - per_row[0]) <= 0.2 * per_row[0]
        fast = b.p95_ms <= ALONE_TARGET_MS and (under != under or under <= LOAD_TARGET_MS)
        print(
            f"{page.name:<28} {b.status:>6} {a.statements:>12} {b.statements:>12}"
            f" {a.size / 1000:>10.1f} {b.size / 1000:>10.1f} {a.rows:>12} {b.rows:>12}"
            f" {a.p95_ms:>11.1f} ms {b.p95_ms:>11.1f} ms {under:>7.1f} ms  "
            + ("" if not page.role else f"{verdict(fast)} time, {verdict(flat)} flat")
        )
    print(
        f"targets: p95 <= {ALONE_TARGET_MS:.0f} ms alone, <= {LOAD_TARGET_MS:.0f} ms for {PEOPLE} people"
        f" each opening a page every {EVERY_SECONDS:.0f} s; statements and size a row flat across sizes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--requests", type=int, default=40, help="requests per page alone (default 40)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load (default 30 s)")
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (its database is left alone)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis for the rate limits' counts")
    arguments = parser.parse_args()
    sizes = sorted(arguments.sizes)
    runs = []
    for size in sizes:
        print(f"region of {size:,} referrals:", flush=True)
        measured, _ = measure(
            arguments.url, arguments.redis, size, arguments.requests, arguments.seconds, size == sizes[-1]
        )
        runs.append(measured)
    report(sizes, runs)


if __name__ == "__main__":
    main()

# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""Does the answer to « Mot de passe oublié » take as long for an unknown email as for hers?

A slower answer for the emails of real accounts would tell a stranger, by timing, who has an
account. `tests/service/test_password_reset.py` proves that both paths do the same work,
statement for statement; this measures what a stranger could time: the whole request through
the web app (the form's POST, the lookup, the audit entry, the outbox row, the commit and the
hand-off to the embedded broker), `--pairs` times each way, in pairs in a random order so that
whatever else the machine does falls on both sides alike.

Printed: the median answer for her email and for unknown ones (a new one each time, as a
stranger would try), the median of the pairs' differences, and how often her email's request
was the slower of its pair (about half when nothing tells them apart). Target: the median
difference within 5 % of the median answer.

    .venv/bin/python bench/password_reset.py [--pairs N] [--url URL | --sqlite]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the local test
server); the benchmark creates a database of its own there and drops it. `--sqlite` uses a
scratch SQLite file instead (the embedded default). The exit code is 0 whether the target is met
or missed; non-zero only when it cannot run.
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
import statistics
import tempfile
import time
import uuid

from flask.testing import FlaskClient
from scratch_database import bench_database
from scratch_database import database_arguments
from scratch_database import shown
from scratch_database import two_organizations
from sqlalchemy import update

from service.accounts.models import User
from service.accounts.passwords import hash_password
from service.app import create_app
from service.clock import utcnow
from service.config import settings
from service.db import make_engine
from service.db import session_factory

HER_EMAIL = "sender@example.org"  # the sending caseworker of `two_organizations`
TARGET_SHARE = 0.05


def her_account(url: str) -> None:
    """Two fictional organizations; the sender's caseworker gets a password, as an active account has."""
    engine = make_engine(url)
    two_organizations(engine, utcnow())
    with session_factory(engine)() as session:
        session.execute(
            update(User).where(User.email == HER_EMAIL).values(password_hash=hash_password(uuid.uuid4().hex))
        )
        session.commit()
    engine.dispose()


def web_client(url: str, folder: Path) -> FlaskClient:
    """The web app as `maillage run` serves it (embedded broker in `folder`), without the CSRF
    token and the rate limit that would stop a scripted client."""
    os.environ["MAILLAGE_ENV"] = "development"
    os.environ["MAILLAGE_DATA_DIR"] = str(folder / "instance")
    settings.cache_clear()
    app = create_app({"DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    return app.test_client()


def answer_time(client: FlaskClient, email: str) -> float:
    began = time.perf_counter()
    answer = client.post("/password/forgot", data={"email": email})
    elapsed = time.perf_counter() - began
    if answer.status_code != 303:
        raise SystemExit(f"the request for a link was answered {answer.status_code}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=400)
    database_arguments(parser)
    args = parser.parse_args(argv)
    chance = random.Random(7)
    with tempfile.TemporaryDirectory() as scratch, bench_database(args.url, args.sqlite) as url:
        her_account(url)
        client = web_client(url, Path(scratch))
        for email in (HER_EMAIL, "personne@example.org"):
            answer_time(client, email)  # warm up both paths
        hers: list[float] = []
        unknown: list[float] = []
        for _ in range(args.pairs):
            stranger = f"personne-{uuid.uuid4().hex[:8]}@example.org"
            if chance.random() < 0.5:
                hers.append(answer_time(client, HER_EMAIL))
                unknown.append(answer_time(client, stranger))
            else:
                unknown.append(answer_time(client, stranger))
                hers.append(answer_time(client, HER_EMAIL))
        where = "SQLite (scratch file)" if args.sqlite else shown(url)

    differences = [known - other for known, other in zip(hers, unknown, strict=True)]
    typical = statistics.median(hers + unknown)
    difference = statistics.median(differences)
    slower = sum(gap > 0 for gap in differences)
    print(f"« Mot de passe oublié », {args.pairs} pairs of requests on {where}")
    print(f"  load average: {', '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print(f"  her email:      median {statistics.median(hers) * 1000:6.2f} ms")
    print(f"  unknown emails: median {statistics.median(unknown) * 1000:6.2f} ms")
    print(f"  her email the slower of its pair in {slower} of {args.pairs} ({slower / args.pairs:.0%})")
    share = abs(difference) / typical
    verdict = "PASS" if share <= TARGET_SHARE else "MISS"
    print(
        f"  median difference {difference * 1000:+.3f} ms, {share:.1%} of the median answer "
        f"(target ≤ {TARGET_SHARE:.0%}): {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

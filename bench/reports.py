# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""What the Reports section costs over 1,000,000 referrals, against a plain count of the same rows.

One PostgreSQL database of its own holds `--referrals` referrals (default
1,000,000) between 20 fictional organizations, opened evenly over 2026, with
their event log as the protocols write it (opened, sent, receipt
acknowledged, decided, first contact, closed, at varied hours; one in seven
reminded by the sweep, one in 21 escalated), about 4.5 log rows each, and one
need each. Rows are inserted with server-side `INSERT ... SELECT FROM
generate_series`, not through the ORM.

The first report keeps every referral's figures (`referral_figures`, one row
per referral) and rolls the region's months up (`region_month_*`, see
service/reports/models.py): that one-off build is timed on its own. Then, in
the same run, each report is timed as the pages call it
(`service.reports.queries.figures`: for the region, the check for changed
months, then the sums of the months' roll-ups; for an organization, the check
for changed referrals, then the counts and the percentiles over its kept
rows), and beside it a plain `SELECT count(*)` over the same rows (the same
period, the same organization):

- the region's figures for the year (every referral), a quarter and a month;
- one organization's figures for the year (by direction and by partner: the
  two queries its page runs);
- the unmet needs of the year (declines and redirects by need and reason);
- the region's year again, each time after 1,000 referrals opened in the last
  month have moved (their figures are brought up to date, and that month
  rolled up again, first).

Each is the median of `--repeat` runs after a warm-up. Target: every report
answers within a second. The report prints the ratio report / count, and the
plans (EXPLAIN ANALYZE) of the region's check for changed months, which must
read `ix_referrals_created_at` alone, of its counts, and of an
organization's counts, which must read the `ix_referral_figures_*` indexes;
none may scan a referral table. It also checks that the region's year from
the months' roll-ups gives the same figures as counted over every kept row.

    .venv/bin/python bench/reports.py [--referrals N] [--repeat N] [--url URL]

URL names a PostgreSQL server (default: $MAILLAGE_BENCH_POSTGRES_URL, else the
local test server). `--referrals 100000` is a quick run. The exit code is 0
whether the target is met or missed; non-zero only when it cannot run.
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
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime

from scratch_database import own_database
from sqlalchemy import Engine
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.db import make_engine
from service.db import session_factory
from service.directory.needs import seed_needs
from service.models import Organization  # every model, so that the mappers configure
from service.models import Referral
from service.protocols import protocol_library
from service.reports.queries import Period
from service.reports.queries import figures
from service.reports.queries import figures_from_kept_rows
from service.reports.queries import figures_query
from service.reports.queries import organization_figures
from service.reports.queries import unmet_needs
from service.reports.region import region_counts_query
from service.reports.region import stamps_query

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ORGANIZATIONS = 20
TARGET_SECONDS = 1.0
YEAR_START = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)  # midnight in Montréal
YEAR_SECONDS = 365 * 24 * 3600
NEEDS = ("shelter_emergency", "safety_plan", "intimate_violence", "crime_victim", "court_support")


def populate(engine: Engine, size: int) -> int:
    """`size` referrals over 2026 and their log; returns the id of the organization whose report is timed."""
    # Through the model, whose defaults fill the directory's other columns.
    with session_factory(engine)() as session:
        organizations = [
            Organization(name=f"Organisme fictif {n}", created_at=YEAR_START) for n in range(ORGANIZATIONS)
        ]
        session.add_all(organizations)
        session.commit()
        first = min(organization.id for organization in organizations)
    with engine.begin() as connection:
        # Ten kinds of referral by i % 10: where each stands, hence how far its log goes.
        connection.execute(
            text(
                """
                INSERT INTO referrals (protocol_name, protocol_version, parameters, urgent,
                    sender_organization_id, receiver_organization_id, state, state_entered_at,
                    deadline_step, last_seq, version, created_at)
                SELECT 'standard', 1, CAST('{}' AS json), false,
                    :first + i % :orgs, :first + (i % :orgs + 1 + (i / :orgs) % (:orgs - 1)) % :orgs,
                    (ARRAY['sent', 'received', 'declined', 'redirected', 'accepted', 'in_progress',
                           'in_progress', 'closed', 'closed', 'sent'])[i % 10 + 1],
                    CAST(:start AS timestamptz), 0, 6, 1,
                    CAST(:start AS timestamptz) + (i * (:year / CAST(:size AS float8))) * interval '1 second'
                FROM generate_series(0, :size - 1) AS i
                """
            ),
            {"first": first, "orgs": ORGANIZATIONS, "start": YEAR_START, "year": YEAR_SECONDS, "size": size},
        )
        connection.execute(
            text(
                """
                INSERT INTO referral_events (referral_id, seq, kind, trigger, from_state, to_state,
                    actor_party, at, reason_code)
                SELECT r.id, e.seq, e.kind,
                    CASE WHEN e.seq = 4 THEN (CASE r.state WHEN 'declined' THEN 'decline'
                        WHEN 'redirected' THEN 'redirect' ELSE 'accept' END) ELSE e.trigger END,
                    e.from_state, e.to_state, e.party,
                    r.created_at + (e.minutes + (r.id % 48) * e.spread) * interval '1 minute',
                    CASE WHEN e.seq = 4 AND r.state = 'declined'
                            THEN (ARRAY['no_capacity', 'outside_mandate', 'unreachable'])[r.id % 3 + 1]
                         WHEN e.seq = 4 AND r.state = 'redirected'
                            THEN (ARRAY['outside_mandate', 'no_capacity', 'better_fit'])[r.id % 3 + 1]
                         WHEN e.seq = 6 THEN (ARRAY['service_received', 'partly_received'])[r.id % 2 + 1]
                    END
                FROM referrals AS r
                JOIN (VALUES (1, 'opened', NULL, NULL, 'draft', 'sender', 0, 0),
                             (2, 'transition', 'send', 'draft', 'sent', 'sender', 10, 0),
                             (3, 'transition', 'acknowledge', 'sent', 'received', 'receiver', 60, 30),
                             (4, 'transition', 'decide', 'received', 'decided', 'receiver', 240, 60),
                             (5, 'transition', 'record_first_contact', 'accepted', 'in_progress',
                                'receiver', 600, 120),
                             (6, 'transition', 'close', 'in_progress', 'closed', 'sender', 40000, 300))
                    AS e(seq, kind, trigger, from_state, to_state, party, minutes, spread)
                  ON e.seq <= CASE r.state WHEN 'sent' THEN 2 WHEN 'received' THEN 3
                                WHEN 'in_progress' THEN 5 WHEN 'closed' THEN 6 ELSE 4 END
                """
            )
        )
        connection.execute(
            text(
                """
                INSERT INTO referral_events (referral_id, seq, kind, to_state, actor_party, at)
                SELECT r.id, 10 + k, (ARRAY['reminder', 'escalation'])[k], 'sent', 'system',
                    r.created_at + k * interval '3 days'
                FROM referrals AS r CROSS JOIN generate_series(1, 2) AS k
                WHERE r.id % 7 = 0 AND (k = 1 OR r.id % 21 = 0)
                """
            )
        )
        connection.execute(
            text(
                """
                INSERT INTO referral_needs (referral_id, need_code)
                SELECT id, (CAST(:needs AS text[]))[id % :count + 1] FROM referrals
                """
            ),
            {"needs": list(NEEDS), "count": len(NEEDS)},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("referrals", "referral_events", "referral_needs"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
        connection.execute(text("CHECKPOINT"))
    return first


@dataclass
class Timing:
    what: str
    rows: int
    report: float
    count: float

    @property
    def ratio(self) -> float:
        return self.report / self.count


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up: caches, plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def counted(session: Session, sql: str, **parameters: object) -> Callable[[], int]:
    def run() -> int:
        return session.execute(text(sql), parameters).scalar_one()

    return run


def explain(session: Session, query: object) -> list[str]:
    compiled = query.compile(  # type: ignore[attr-defined]
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    rows = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params
    )
    return [row[0] for row in rows]


def measure(
    engine: Engine, organization: int, repeat: int
) -> tuple[float, list[Timing], dict[str, list[str]], bool]:
    protocols = protocol_library()
    year = Period.containing("year", date(2026, 6, 1))
    quarter = Period.containing("quarter", date(2026, 6, 1))
    month = Period.containing("month", date(2026, 6, 1))
    in_period = "SELECT count(*) FROM referrals WHERE created_at >= :start AND created_at < :end"
    timings = []
    with session_factory(engine)() as session:
        progress("the first report, which keeps every referral's figures and rolls the months up")
        began = time.perf_counter()
        figures(session, protocols, year)
        first_build = time.perf_counter() - began
        for name, period in (("year", year), ("quarter", quarter), ("month", month)):
            start, end = period.moments
            rows = counted(session, in_period, start=start, end=end)()
            progress(f"the region's report, one {name}")
            timings.append(
                Timing(
                    f"region, {name}",
                    rows,
                    median_seconds(lambda period=period: figures(session, protocols, period), repeat),
                    median_seconds(counted(session, in_period, start=start, end=end), repeat),
                )
            )
        start, end = year.moments
        mine = (
            "SELECT count(*) FROM referrals"
            " WHERE (sender_organization_id = :org OR receiver_organization_id = :org)"
            " AND created_at >= :start AND created_at < :end"
        )

        def organization_report() -> None:
            organization_figures(session, protocols, year, organization)  # as its page asks

        progress("an organization's report, one year")
        timings.append(
            Timing(
                "one organization, year (2 queries)",
                counted(session, mine, org=organization, start=start, end=end)(),
                median_seconds(organization_report, repeat),
                median_seconds(counted(session, mine, org=organization, start=start, end=end), repeat),
            )
        )
        decided = (
            "SELECT count(*) FROM referral_events WHERE trigger IN ('decline', 'redirect')"
            " AND at >= :start AND at < :end"
        )
        progress("the unmet needs, one year")
        timings.append(
            Timing(
                "unmet needs, year",
                counted(session, decided, start=start, end=end)(),
                median_seconds(lambda: unmet_needs(session, year), repeat),
                median_seconds(counted(session, decided, start=start, end=end), repeat),
            )
        )
        progress("the region's report, one year, after 1,000 referrals of the last month moved")
        start, end = year.moments
        newest = session.execute(text("SELECT max(id) FROM referrals")).scalar_one()
        month_of_ids = timings[0].rows // 12
        every = max(1, month_of_ids // 1000)

        def moved_then_report() -> float:
            # As if 1,000 referrals in flight (opened in the last month) had each logged a step.
            session.execute(
                text("UPDATE referrals SET last_seq = last_seq + 1 WHERE id > :since AND id % :every = 0"),
                {"since": newest - month_of_ids, "every": every},
            )
            session.commit()
            began = time.perf_counter()
            figures(session, protocols, year)
            return time.perf_counter() - began

        timings.append(
            Timing(
                "region, year, 1,000 moved since",
                timings[0].rows,
                statistics.median(moved_then_report() for _ in range(repeat)),
                median_seconds(counted(session, in_period, start=start, end=end), repeat),
            )
        )
        progress("the region's year from the months' roll-ups against every kept row")
        same = figures(session, protocols, year) == figures_from_kept_rows(session, protocols, year)
        mine, _spreads, _key, _rows = figures_query(year, organization_id=organization, by="partner")
        plans = {
            "the region's check for changed months, one year": explain(session, stamps_query(year)),
            "the region's counts from the months' roll-ups, one year": explain(
                session, region_counts_query(year)
            ),
            "one organization's counts by partner, one year": explain(session, mine),
        }
        session.rollback()
    return first_build, timings, plans, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=1_000_000, help="referrals in the table")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each query (the median counts)")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server to create the database on")
    options = parser.parse_args(argv)
    if options.referrals < 1000 or options.repeat < 1:
        parser.error("--referrals must be at least 1,000 and --repeat at least 1")
    began = time.perf_counter()
    with own_database(options.url) as url:
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                seed_needs(session)
                session.commit()
            progress(f"inserting {options.referrals:,} referrals and their log")
            loading = time.perf_counter()
            organization = populate(engine, options.referrals)
            loaded = time.perf_counter() - loading
            with engine.connect() as connection:
                events = connection.execute(text("SELECT count(*) FROM referral_events")).scalar_one()
            first_build, timings, plans, same = measure(engine, organization, options.repeat)
        finally:
            engine.dispose()

    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"Maillage reports benchmark - PostgreSQL, Python {sys.version.split()[0]}")
    print(f"{os.cpu_count()} CPUs, load average {load} at the end")
    print(f"{options.referrals:,} referrals, {events:,} log rows, inserted in {loaded:.0f} s")
    print(
        f"The first report kept every referral's figures (referral_figures) and rolled the months up"
        f" in {first_build:.1f} s, once"
    )
    print()
    print(f"{'report':<36} {'rows':>10} {'report':>10} {'count(*)':>10} {'ratio':>8}")
    for timing in timings:
        print(
            f"{timing.what:<36} {timing.rows:>10,} {timing.report * 1000:>8.0f} ms"
            f" {timing.count * 1000:>7.1f} ms {timing.ratio:>7.1f}x"
        )
    for title, plan in plans.items():
        print(f"\nThe plan of {title} (EXPLAIN ANALYZE):")
        for line in plan:
            print(f"   {line}")
    print()
    for timing in timings:
        verdict = "PASS" if timing.report <= TARGET_SECONDS else "MISS"
        print(f"{verdict}  {timing.what}: {timing.report:.3f} s <= {TARGET_SECONDS:.0f} s")
    every_plan = "\n".join(line for plan in plans.values() for line in plan)
    indexed = (
        "Index Only Scan using ix_referrals_created_at" in every_plan
        and "ix_referral_figures_" in every_plan
        and "Seq Scan on referral" not in every_plan
    )
    print(f"{'PASS' if indexed else 'MISS'}  the report queries read the report indexes")
    print(f"{'PASS' if same else 'MISS'}  the region's months give the figures of every kept row")
    print(f"\n({time.perf_counter() - began:.0f} s; {Referral.__tablename__} dropped with its database)")
    return 0


def progress(what: str) -> None:
    print(f"measuring {what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""The region's figures, month by month: the kept rows rolled up per month, and read from there.

A year of the region read a million kept rows (`service.reports.queries`)
at every report, and sorted their durations for the percentiles. Here each
month's kept rows are rolled up (`roll_up`): counts per state and outcome,
and the durations to each milestone in buckets, from which the percentiles
are picked exactly (`spreads_by_month`). A month is rolled up again when
its referrals no longer match the roll-up's stamp (`stale_months`, one
index-only pass). The figures are the ones `figures_from_kept_rows` gives.

Domain code: no Flask.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import CompoundSelect
from sqlalchemy import Date
from sqlalchemy import Select
from sqlalchemy import String
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import delete
from sqlalchemy import extract
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy import union_all
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.referrals.models import Referral
from service.reports.models import ReferralFigure
from service.reports.models import RegionMonth
from service.reports.models import RegionMonthCount
from service.reports.models import RegionMonthDurations
from service.reports.queries import MILESTONES
from service.reports.queries import PERCENTILES
from service.reports.queries import Figures
from service.reports.queries import Period
from service.reports.queries import Spread
from service.reports.queries import add_months
from service.reports.queries import figures_query
from service.reports.queries import in_period
from service.reports.queries import interpolated
from service.reports.queries import ranks_around
from service.reports.queries import refresh
from service.reports.queries import rounded_seconds
from service.reports.queries import summed
from workflows.loader import ProtocolLibrary


def region_figures(session: Session, protocols: ProtocolLibrary, period: Period) -> dict[str, Figures]:
    """The region's figures, under the key "region", summed from its months' roll-ups. Commits.

    The same figures as `figures_from_kept_rows` gives, but a year reads
    twelve months of rolled-up lines instead of a million kept rows. The
    stale months (`stale_months`) are rolled up again first, from their kept
    rows brought up to date (`refresh`).
    """
    stale = stale_months(session, period)
    if stale:
        # One refresh over the stale months' span: one pass when every month is new, and
        # only the last month when the referrals still moving are the recent ones.
        refresh(session, replace(period, start=stale[0], end=add_months(stale[-1], 1)))
        for month in stale:
            roll_up(session, month)
    # Shared locks on the months' rows: a report rolling one of them up again waits for
    # this one's reads to end, so the counts per bucket and the durations read after
    # them come from the same roll-ups.
    session.execute(
        select(RegionMonth.month).where(RegionMonth.month.in_(period.months)).with_for_update(read=True)
    ).all()
    result = summed(session.execute(region_counts_query(period)), protocols)
    if "region" in result:
        result["region"].times.update(spreads_by_month(session, period))
    session.commit()  # lets go of the locks
    return result


def region_counts_query(period: Period) -> Select[Any]:
    """The period's counts summed over its months' roll-ups: one line per state and outcome."""
    count = RegionMonthCount
    return (
        select(
            literal("region").label("key"),
            count.state,
            count.outcome,
            func.sum(count.referrals).label("referrals"),
            func.sum(count.accepted).label("accepted"),
            func.sum(count.decided).label("decided"),
            func.sum(count.missed).label("missed"),
            func.sum(count.reminders).label("reminders"),
            func.sum(count.escalations).label("escalations"),
        )
        .where(count.month.in_(period.months))
        .group_by(count.state, count.outcome)
    )


def stale_months(session: Session, period: Period) -> list[date]:
    """The months of the period whose roll-up is missing or no longer matches their referrals."""
    rolled_up = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(
                RegionMonth.month, RegionMonth.referrals, RegionMonth.id_sum, RegionMonth.last_seq_sum
            ).where(RegionMonth.month.in_(period.months))
        )
    }
    now = _stamps(session, period)
    return [month for month in period.months if rolled_up.get(month) != now[month]]


def stamps_query(period: Period) -> CompoundSelect[Any]:
    """Each month's referrals as they are now: the month, how many, the sums of their ids and `last_seq`.

    A range of `ix_referrals_created_at` per month, read from the index alone;
    grouping by month instead would work out each referral's month in
    Montréal time, a million times for a year.
    """
    return union_all(
        *(
            select(
                literal(month, Date).label("month"),
                func.count(),
                func.coalesce(func.sum(Referral.id), 0),
                func.coalesce(func.sum(Referral.last_seq), 0),
            ).where(*in_period(Referral, Period.containing("month", month), None))
            for month in period.months
        )
    )


def _stamps(session: Session, period: Period) -> dict[date, tuple[int, int, int]]:
    return {row[0]: (row[1], int(row[2]), int(row[3])) for row in session.execute(stamps_query(period))}


def roll_up(session: Session, month: date) -> None:
    """Roll the month's kept rows up again, unless another report has just done it. Commits.

    The month's row is locked first (created, with an empty stamp, if it is
    the month's first roll-up): two reports rolling the same month up at once
    would each delete the old lines, then both insert theirs. Once the lock
    is had, the month is checked again: the report that held it may have
    rolled it up already.
    """
    upsert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        upsert(RegionMonth)
        .values(month=month, referrals=0, id_sum=0, last_seq_sum=0)
        .on_conflict_do_nothing(index_elements=["month"])
    )
    stamp = session.execute(
        select(RegionMonth.referrals, RegionMonth.id_sum, RegionMonth.last_seq_sum)
        .where(RegionMonth.month == month)
        .with_for_update()
    ).one()
    period = Period.containing("month", month)
    if tuple(stamp) == _stamps(session, period)[month]:
        session.commit()
        return
    kept = ReferralFigure
    # The stamp is read from the kept rows before the lines are rolled up from them, never
    # after: a kept row refreshed in between makes the lines newer than the stamp (rolled up
    # again needlessly next time), never older (stale, unseen).
    referrals, id_sum, last_seq_sum = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(kept.referral_id), 0),
            func.coalesce(func.sum(kept.last_seq), 0),
        ).where(*in_period(kept, period, None))
    ).one()
    session.execute(delete(RegionMonthCount).where(RegionMonthCount.month == month))
    session.execute(delete(RegionMonthDurations).where(RegionMonthDurations.month == month))
    # The month's counts are the kept rows' counts, as `figures_from_kept_rows` makes them.
    counts = figures_query(period)[0].subquery()
    names = ["state", "outcome", "referrals", "accepted", "decided", "missed", "reminders", "escalations"]
    session.execute(
        insert(RegionMonthCount).from_select(
            ["month", *names], select(literal(month, Date), *(counts.c[name] for name in names))
        )
    )
    rows = figures_query(period)[3]
    postgresql = session.get_bind().dialect.name == "postgresql"
    # Each duration computed once, in one pass over the month's kept rows (a CTE read three
    # times is computed once): PostgreSQL's exact arithmetic on intervals is the slow part.
    timed = select(
        *(_microseconds(rows.c[f"{name}_at"], rows.c.sent_at, postgresql).label(name) for name in MILESTONES)
    ).cte("timed")
    each = union_all(
        *(
            select(literal(name, String).label("milestone"), timed.c[name].label("microseconds")).where(
                timed.c[name].is_not(None)
            )
            for name in MILESTONES
        )
    ).subquery("each")
    bucket = _bucket(each.c.microseconds).label("bucket")
    bucketed = select(each.c.milestone, each.c.microseconds, bucket).subquery("bucketed")
    listed = (func.json_agg if postgresql else func.json_group_array)(bucketed.c.microseconds)
    session.execute(
        insert(RegionMonthDurations).from_select(
            ["month", "milestone", "bucket", "reached", "microseconds"],
            select(
                literal(month, Date), bucketed.c.milestone, bucketed.c.bucket, func.count(), listed
            ).group_by(bucketed.c.milestone, bucketed.c.bucket),
        )
    )
    session.execute(
        update(RegionMonth)
        .where(RegionMonth.month == month)
        .values(referrals=referrals, id_sum=id_sum, last_seq_sum=last_seq_sum)
    )
    session.commit()


def _microseconds(later: Any, earlier: Any, postgresql: bool) -> ColumnElement[int]:
    """`later - earlier` in whole microseconds, exactly: times are kept to the microsecond."""
    if postgresql:
        # extract(epoch) of an interval is an exact numeric (PostgreSQL 14 and later).
        return cast(extract("epoch", later - earlier) * 1_000_000, BigInteger)
    # SQLite keeps times as text, "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds, then the digits after them.
    return (func.strftime("%s", later) - func.strftime("%s", earlier)) * 1_000_000 + (
        func.substr(later, 21, 6) - func.substr(earlier, 21, 6)
    )


def _bucket(microseconds: Any) -> ColumnElement[int]:
    """Durations to two significant digits: seconds below 100 s, tens of seconds below 1,000 s, and so on.

    Few enough buckets that a year of them is small however durations
    spread (90 per power of ten), narrow enough that the one holding a
    percentile's rank holds few durations. In integer arithmetic, the same on
    both databases, and in the order of the durations, which the ranks rely on.
    """
    whens: list[tuple[ColumnElement[bool], Any]] = [
        (microseconds < 0, -1),
        (microseconds < 10**8, microseconds // 10**6),
    ]
    first = 100
    for power in range(8, 14):  # from 100 s to 3 years
        step = 10 ** (power - 1)
        whens.append((microseconds < 10 * 10**power, first + (microseconds - 10**power) // step))
        first += 90
    return case(*whens, else_=first)


def spreads_by_month(session: Session, period: Period) -> dict[str, Spread]:
    """The milestones' spreads over the months' roll-ups: the counts per bucket, then the durations needed.

    Exact: a percentile interpolates between two ranks of the sorted
    durations; the counts per bucket say which buckets hold those ranks, and
    only those buckets' durations are read and sorted.
    """
    lines = RegionMonthDurations
    chosen = lines.month.in_(period.months)
    buckets: dict[str, list[tuple[int, int]]] = {name: [] for name in MILESTONES}
    query = (
        select(lines.milestone, lines.bucket, func.sum(lines.reached))
        .where(chosen)
        .group_by(lines.milestone, lines.bucket)
        .order_by(lines.milestone, lines.bucket)
    )
    for name, bucket, reached in session.execute(query):
        buckets[name].append((bucket, int(reached)))
    totals = {name: sum(reached for _bucket, reached in counts) for name, counts in buckets.items()}
    # Where each rank needed lies: (milestone, rank) -> (its bucket, the bucket's first rank).
    found: dict[tuple[str, int], tuple[int, int]] = {}
    for name, counts in buckets.items():
        ranks: set[int] = set()
        if totals[name]:
            for fraction in PERCENTILES:
                low, high, _weight = ranks_around(totals[name], fraction)
                ranks.update((low, high))
        first = 0
        for bucket, reached in counts:
            found.update({(name, rank): (bucket, first) for rank in ranks if first <= rank < first + reached})
            first += reached
    durations: dict[tuple[str, int], list[int]] = {}
    wanted = sorted({(name, bucket) for (name, _rank), (bucket, _first) in found.items()})
    if wanted:
        query = select(lines.milestone, lines.bucket, lines.microseconds).where(
            chosen, tuple_(lines.milestone, lines.bucket).in_(wanted)
        )
        for name, bucket, microseconds in session.execute(query):
            durations.setdefault((name, bucket), []).extend(microseconds)
    for values in durations.values():
        values.sort()

    def spread(name: str) -> Spread:
        def seconds_at(rank: int) -> float:
            bucket, first = found[name, rank]
            # Microseconds to seconds as PostgreSQL and `timedelta.total_seconds` do it: one rounding.
            return durations[name, bucket][rank - first] / 1_000_000

        values = (interpolated(totals[name], fraction, seconds_at) for fraction in PERCENTILES)
        return Spread(totals[name], *(rounded_seconds(value) for value in values))

    return {name: spread(name) for name in MILESTONES}

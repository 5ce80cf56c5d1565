"""The figures of the Reports section: what became of the referrals of a period.

A referral counts in the period it was opened in, once it was sent (a draft
was never shared with anyone). Its milestones come from its event log: the
triggers every shipped protocol uses for sending, acknowledging receipt,
accepting and recording the first contact (`MILESTONES`), the decisions, the
outcome given when it was closed, and the reminders and escalations the
deadline sweep logged. Those are kept per referral in `referral_figures`
(see `service.reports.models`), brought up to date for the period before
each report (`refresh`); then the counts are one GROUP BY over the period's
kept rows, in SQL. Percentiles come from PostgreSQL's `percentile_cont`;
SQLite has none, so there they are computed here from the minimal rows (one
duration per referral) with the same interpolation, and both databases give
the same figures, to the second.

An organization's figures are counted that way. The region's, a million
kept rows for a year, are summed from monthly roll-ups of the kept rows
instead: see `service.reports.region`.

Domain code: no Flask. Who may see which figures is the views' business;
suppression of small cells is `service.reports.suppression`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Float
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import extract
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import array as postgresql_array
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import referral_needs
from service.reports.models import ReferralFigure
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol

# The triggers that mark each milestone, the same in every shipped protocol
# (tests/service/test_reports.py checks that they still are).
SEND = "send"
MILESTONES = {"received": "acknowledge", "accepted": "accept", "first_contact": "record_first_contact"}
DECISIONS = ("accept", "decline", "redirect")
UNMET = ("decline", "redirect")
CLOSE = "close"
CLOSED = "closed"
# What the deadline sweep logs (kind of event, actor party "system").
DEADLINE_KINDS = ("reminder", "escalation")
PERIOD_KINDS = ("month", "quarter", "year")
PERCENTILES = (0.5, 0.9)


@dataclass(frozen=True)
class Period:
    """A month, a quarter or a year of Montréal days; `end` is excluded."""

    kind: str
    start: date
    end: date

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind not in PERIOD_KINDS:
            raise ValueError(f"unknown period {kind!r}: month, quarter or year")
        first_month = {"month": day.month, "quarter": 3 * ((day.month - 1) // 3) + 1, "year": 1}[kind]
        start = date(day.year, first_month, 1)
        return cls(kind, start, add_months(start, {"month": 1, "quarter": 3, "year": 12}[kind]))

    def previous(self) -> Period:
        return Period.containing(self.kind, add_months(self.start, -1))

    def next(self) -> Period:
        return Period.containing(self.kind, self.end)

    @property
    def months(self) -> list[date]:
        """The first day of each month of the period."""
        months = [self.start]
        while (following := add_months(months[-1], 1)) < self.end:
            months.append(following)
        return months

    @property
    def moments(self) -> tuple[datetime, datetime]:
        """The period's first moment and the next period's, as aware datetimes (Montréal midnights)."""
        return _midnight(self.start), _midnight(self.end)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=TIME_ZONE)


@dataclass(frozen=True)
class Spread:
    """How long a milestone took after sending, in seconds: how many reached it, median, 90th percentile."""

    count: int
    median: int | None
    p90: int | None


@dataclass(frozen=True)
class Figures:
    """What became of one group of referrals (an organization's sent ones, a partner's, the region's)."""

    referrals: int
    # Current state -> referrals; closed ones are counted by outcome in `outcomes` as well.
    states: dict[str, int]
    outcomes: dict[str, int]
    accepted: int
    decided: int
    # Referrals that missed at least one deadline: the sweep logged a reminder or an escalation.
    missed: int
    reminders: int
    escalations: int
    times: dict[str, Spread] = field(default_factory=dict)

    @property
    def acceptance_percent(self) -> int | None:
        return _percent(self.accepted, self.decided)

    @property
    def missed_percent(self) -> int | None:
        return _percent(self.missed, self.referrals)


def _percent(part: int, whole: int) -> int | None:
    # Half up, as people round: 2.5 % reads 3 %, on both databases.
    return math.floor(100 * part / whole + 0.5) if whole else None


def referral_protocols(protocols: ProtocolLibrary) -> list[Protocol]:
    """Every version of every referral protocol, in the library's order."""
    return [protocol for protocol in protocols if protocol.subject == "referral"]


def known_states(protocols: ProtocolLibrary) -> list[str]:
    """Every state a sent referral may be in, in the protocols' order, drafts left out.

    Referral protocols only: a request to join or between organizations is no referral."""
    states: list[str] = []
    for protocol in referral_protocols(protocols):
        for state in protocol.states:
            if state != protocol.initial and state not in states:
                states.append(state)
    return states


def reason_codes(protocols: ProtocolLibrary, kind: str) -> dict[str, tuple[str, str]]:
    """Code -> (French, English) of the reasons of `kind` ("outcome", "decline", ...) in every protocol."""
    codes: dict[str, tuple[str, str]] = {}
    for protocol in referral_protocols(protocols):
        for code, reason in protocol.reasons.get(kind, {}).items():
            codes.setdefault(code, (reason.fr, reason.en))
    return codes


# Each referral's figures ----------------------------------------------------------------


def milestones(referral_ids: Any) -> Select[Any]:
    """One row per referral of `referral_ids` (a subquery of ids): its organizations, state and milestones.

    Read from its log; a referral with no milestone yet (a draft) still gets its row, empty.
    """
    event = ReferralEvent

    def first(trigger: str) -> ColumnElement[Any]:
        return func.min(case((event.trigger == trigger, event.at)))

    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(case((condition, 1)))

    logged = (
        select(
            event.referral_id,
            first(SEND).label("sent_at"),
            *(first(trigger).label(f"{name}_at") for name, trigger in MILESTONES.items()),
            counted(event.trigger.in_(DECISIONS)).label("decisions"),
            counted(event.trigger == MILESTONES["accepted"]).label("accepts"),
            func.max(case((event.trigger == CLOSE, event.reason_code))).label("outcome"),
            counted(event.kind == "reminder").label("reminders"),
            counted(event.kind == "escalation").label("escalations"),
        )
        .where(
            event.referral_id.in_(referral_ids),
            or_(
                event.trigger.in_((SEND, CLOSE, *MILESTONES.values(), *DECISIONS)),
                event.kind.in_(DEADLINE_KINDS),
            ),
        )
        .group_by(event.referral_id)
        .subquery("logged")
    )
    return (
        select(
            Referral.id.label("referral_id"),
            Referral.last_seq,
            Referral.sender_organization_id,
            Referral.receiver_organization_id,
            Referral.created_at,
            Referral.state,
            logged.c.sent_at,
            *(logged.c[f"{name}_at"] for name in MILESTONES),
            (func.coalesce(logged.c.decisions, 0) > 0).label("decided"),
            (func.coalesce(logged.c.accepts, 0) > 0).label("accepted"),
            logged.c.outcome,
            func.coalesce(logged.c.reminders, 0).label("reminders"),
            func.coalesce(logged.c.escalations, 0).label("escalations"),
        )
        .outerjoin(logged, logged.c.referral_id == Referral.id)
        # A WHERE clause, not a join: SQLite's INSERT ... SELECT ... ON CONFLICT needs one.
        .where(Referral.id.in_(referral_ids))
        # Rows in id order: two reports refreshing at once lock them in the same order.
        .order_by(Referral.id)
    )


def in_period(table: Any, period: Period, organization_id: int | None) -> list[ColumnElement[bool]]:
    start, end = period.moments
    conditions = [table.created_at >= start, table.created_at < end]
    if organization_id is not None:
        conditions.append(
            or_(
                table.sender_organization_id == organization_id,
                table.receiver_organization_id == organization_id,
            )
        )
    return conditions


# Referral ids per bucket when looking for changed referrals (see `refresh`).
BUCKET = 10_000
# Past this many changed buckets, one pass over the whole period is cheaper than their ranges.
MOST_BUCKETS = 50


def stale_referrals(
    period: Period, organization_id: int | None = None, within: ColumnElement[bool] | None = None
) -> Select[Any]:
    """The ids of the period's referrals whose kept figures are missing or older than their log."""
    kept = ReferralFigure
    # A kept row copies its referral's `created_at`: joined on it too, and bounded by the
    # period, both sides can be read in the order of their `created_at` indexes and merged
    # or hashed, instead of one look-up in the kept rows per referral (5x slower for a
    # month of the benchmark's, on one CPU).
    start, end = period.moments
    same = and_(
        kept.referral_id == Referral.id,
        kept.created_at == Referral.created_at,
        kept.created_at >= start,
        kept.created_at < end,
    )
    query = (
        select(Referral.id)
        .outerjoin(kept, same)
        .where(*in_period(Referral, period, organization_id))
        .where(or_(kept.last_seq.is_(None), kept.last_seq != Referral.last_seq))
    )
    return query if within is None else query.where(within)


def changed_buckets(session: Session, period: Period, organization_id: int | None = None) -> list[int]:
    """The buckets of referral ids (`id // BUCKET`) in which some kept figures are missing or stale.

    A kept row copies its referral's `last_seq`, which only grows, so a bucket
    whose referrals and kept rows have the same count and the same sum of
    `last_seq` has nothing stale. Two small index scans instead of a join of
    the whole period: the referrals still moving are the recent ones, in the
    last few buckets.
    """

    def sums(table: Any, identifier: Any) -> dict[int, tuple[int, int]]:
        bucket = identifier // BUCKET
        query = (
            select(bucket, func.count(), func.sum(table.last_seq))
            .where(*in_period(table, period, organization_id))
            .group_by(bucket)
        )
        return {row[0]: (row[1], row[2]) for row in session.execute(query)}

    kept = sums(ReferralFigure, ReferralFigure.referral_id)
    return sorted(
        bucket for bucket, sums_ in sums(Referral, Referral.id).items() if kept.get(bucket) != sums_
    )


def refresh(session: Session, period: Period, organization_id: int | None = None) -> None:
    """Bring the figures of the period's referrals up to date with their logs.

    One INSERT ... SELECT ... ON CONFLICT UPDATE in the database, over the
    buckets of ids that changed (`changed_buckets`). Commits. Two reports
    refreshing at once write the same rows from the same logs: the second
    overwrites the first with equal values.
    """
    buckets = changed_buckets(session, period, organization_id)
    if not buckets:
        return
    within = (
        or_(*(Referral.id.between(b * BUCKET, (b + 1) * BUCKET - 1) for b in buckets))
        if len(buckets) <= MOST_BUCKETS
        else None
    )
    stale = stale_referrals(period, organization_id, within)
    if within is None:
        _keep(session, stale.scalar_subquery())
    else:
        # A few referrals: their ids as a list, so that their logs are read through the index.
        ids = list(session.scalars(stale))
        for at in range(0, len(ids), REFRESH_BATCH):
            _keep(session, ids[at : at + REFRESH_BATCH])
    session.commit()


# Ids per statement when refreshing by list, under both databases' limit on bound parameters.
REFRESH_BATCH = 5000


def _keep(session: Session, referral_ids: Any) -> None:
    """Upsert the kept figures of `referral_ids` (a list, or a subquery of ids)."""
    source = milestones(referral_ids)
    names = [column.name for column in source.selected_columns]
    upsert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = upsert(ReferralFigure).from_select(names, source)
    statement = statement.on_conflict_do_update(
        index_elements=["referral_id"],
        set_={name: statement.excluded[name] for name in names if name != "referral_id"},
    )
    session.execute(statement)


# Figures ------------------------------------------------------------------------------


def figures(
    session: Session,
    protocols: ProtocolLibrary,
    period: Period,
    *,
    organization_id: int | None = None,
    by: str | None = None,
) -> dict[Any, Figures]:
    """The figures of the period's sent referrals, grouped. Commits (the rows brought up to date).

    Without `organization_id`: the whole region, under the key "region", from
    its months' roll-ups (`region_figures`). With it: the referrals that
    organization sent or received, grouped `by` "direction" (keys "sent" and
    "received") or by "partner" (key: the other organization's id), from the
    kept rows (`figures_from_kept_rows`).
    """
    if organization_id is None:
        # The region's roll-ups are built from this module's queries: imported here, not at the top.
        from service.reports.region import region_figures

        return region_figures(session, protocols, period)
    return figures_from_kept_rows(session, protocols, period, organization_id=organization_id, by=by)


def figures_from_kept_rows(
    session: Session,
    protocols: ProtocolLibrary,
    period: Period,
    *,
    organization_id: int | None = None,
    by: str | None = None,
) -> dict[Any, Figures]:
    """`figures`, counted over the period's kept rows (see `refresh`), the region's too. Commits."""
    if organization_id is not None and by not in ("direction", "partner"):
        raise ValueError("an organization's figures are grouped by 'direction' or by 'partner'")
    refresh(session, period, organization_id)
    return _counted(session, protocols, period, organization_id, by)


def organization_figures(
    session: Session, protocols: ProtocolLibrary, period: Period, organization_id: int
) -> tuple[dict[Any, Figures], dict[Any, Figures]]:
    """An organization's figures by direction and by partner, as its report page shows both. Commits.

    Its kept rows are brought up to date once for the two (checking them is two scans of the period).
    """
    refresh(session, period, organization_id)
    return (
        _counted(session, protocols, period, organization_id, "direction"),
        _counted(session, protocols, period, organization_id, "partner"),
    )


def _counted(
    session: Session, protocols: ProtocolLibrary, period: Period, organization_id: int | None, by: str | None
) -> dict[Any, Figures]:
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # The percentiles sort a year of durations: in memory rather than on disk (this transaction only).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    counts, spreads, key, rows = figures_query(period, organization_id=organization_id, by=by)
    result = summed(session.execute(counts), protocols)
    if postgresql:
        for row in session.execute(spreads).mappings():
            for name in MILESTONES:
                median, p90 = row[f"{name}_percentiles"] or (None, None)
                result[row["key"]].times[name] = Spread(
                    row[f"{name}_count"], rounded_seconds(median), rounded_seconds(p90)
                )
    else:
        for group, times in _times_in_python(session, rows, key).items():
            result[group].times.update(times)
    return result


def summed(rows: Iterable[Any], protocols: ProtocolLibrary) -> dict[Any, Figures]:
    """The groups' figures from lines of counts (key, state, outcome, referrals, ...), summed per key."""
    states = known_states(protocols)
    outcomes = list(reason_codes(protocols, "outcome"))
    result: dict[Any, Figures] = {}
    for row in rows:
        group = result.setdefault(
            row.key,
            Figures(0, dict.fromkeys(states, 0), dict.fromkeys(outcomes, 0), 0, 0, 0, 0, 0, {}),
        )
        group.states[row.state] = group.states.get(row.state, 0) + row.referrals
        if row.state == CLOSED and row.outcome is not None:
            group.outcomes[row.outcome] = group.outcomes.get(row.outcome, 0) + row.referrals
        result[row.key] = Figures(
            referrals=group.referrals + row.referrals,
            states=group.states,
            outcomes=group.outcomes,
            accepted=group.accepted + row.accepted,
            decided=group.decided + row.decided,
            missed=group.missed + row.missed,
            reminders=group.reminders + int(row.reminders or 0),
            escalations=group.escalations + int(row.escalations or 0),
            times=group.times,
        )
    return result


def figures_query(
    period: Period, *, organization_id: int | None = None, by: str | None = None
) -> tuple[Select[Any], Select[Any], ColumnElement[Any], Any]:
    """What `figures` runs over the kept rows: the counts, the percentiles (PostgreSQL), the key, the rows.

    The counts are grouped by key, state and outcome: a few lines, cheap to
    aggregate (in parallel on PostgreSQL), summed per key afterwards.
    """
    kept = ReferralFigure
    rows = (
        select(kept)
        .where(*in_period(kept, period, organization_id), kept.sent_at.is_not(None))
        .subquery("kept")
    )
    if organization_id is None:
        key: ColumnElement[Any] = literal("region")
    elif by == "direction":
        key = case((rows.c.sender_organization_id == organization_id, "sent"), else_="received")
    else:
        key = case(
            (rows.c.sender_organization_id == organization_id, rows.c.receiver_organization_id),
            else_=rows.c.sender_organization_id,
        )
    outcome = case((rows.c.state == CLOSED, rows.c.outcome))
    counts = select(
        key.label("key"),
        rows.c.state,
        outcome.label("outcome"),
        func.count().label("referrals"),
        func.count(case((rows.c.accepted, 1))).label("accepted"),
        func.count(case((rows.c.decided, 1))).label("decided"),
        func.count(case((rows.c.reminders + rows.c.escalations > 0, 1))).label("missed"),
        func.sum(rows.c.reminders).label("reminders"),
        func.sum(rows.c.escalations).label("escalations"),
    ).group_by(key, rows.c.state, outcome)
    spread_columns: list[ColumnElement[Any]] = [key.label("key")]
    for name in MILESTONES:
        seconds = cast(extract("epoch", rows.c[f"{name}_at"] - rows.c.sent_at), Float)
        spread_columns.append(func.count(rows.c[f"{name}_at"]).label(f"{name}_count"))
        # Both percentiles from one sort: percentile_cont over an array of fractions.
        spread_columns.append(
            func.percentile_cont(postgresql_array(PERCENTILES))
            .within_group(seconds)
            .label(f"{name}_percentiles")
        )
    spreads = select(*spread_columns).group_by(key)
    return counts, spreads, key, rows


def _times_in_python(session: Session, rows: Any, key: ColumnElement[Any]) -> dict[Any, dict[str, Spread]]:
    """The milestones' spreads from one row per referral: (group, sent, received, accepted, first contact)."""
    query = select(key.label("key"), rows.c.sent_at, *(rows.c[f"{name}_at"] for name in MILESTONES))
    durations: dict[Any, dict[str, list[float]]] = {}
    for row in session.execute(query):
        group = durations.setdefault(row[0], {name: [] for name in MILESTONES})
        for name, reached in zip(MILESTONES, row[2:], strict=True):
            if reached is not None:
                group[name].append((reached - row[1]).total_seconds())
    return {
        group: {
            name: Spread(len(values), *(rounded_seconds(percentile(values, p)) for p in PERCENTILES))
            for name, values in spreads.items()
        }
        for group, spreads in durations.items()
    }


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The continuous percentile, interpolated as PostgreSQL's `percentile_cont` does it."""
    ordered = sorted(values)
    return interpolated(len(ordered), fraction, ordered.__getitem__)


def ranks_around(count: int, fraction: float) -> tuple[int, int, float]:
    """The ranks (from 0) a percentile of `count` values lies between, and its weight on the higher one."""
    position = fraction * (count - 1)
    low = math.floor(position)
    return low, min(low + 1, count - 1), position - low


def interpolated(count: int, fraction: float, value_at: Callable[[int], float]) -> float | None:
    # One formula for every path (PostgreSQL's, the list's, the months'), so that they agree to the bit.
    if not count:
        return None
    low, high, weight = ranks_around(count, fraction)
    return value_at(low) + (value_at(high) - value_at(low)) * weight


def rounded_seconds(value: float | None) -> int | None:
    return None if value is None else math.floor(float(value) + 0.5)


# Unmet needs --------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmetNeeds:
    """Declined and redirected referrals of a period across the region: need -> reason -> count.

    A referral for several needs counts under each of them; one for none under
    the need None.
    """

    counts: dict[str | None, dict[str, int]]


def unmet_needs(session: Session, period: Period, triggers: Iterable[str] = UNMET) -> UnmetNeeds:
    """The referrals declined or redirected (`triggers`) during `period`, by need and reason code."""
    chosen = [trigger for trigger in triggers if trigger in UNMET]
    start, end = period.moments
    event = ReferralEvent
    query = (
        select(referral_needs.c.need_code, event.reason_code, func.count())
        .select_from(event)
        .outerjoin(referral_needs, referral_needs.c.referral_id == event.referral_id)
        .where(event.trigger.in_(chosen), event.at >= start, event.at < end)
        .group_by(referral_needs.c.need_code, event.reason_code)
    )
    counts: dict[str | None, dict[str, int]] = {}
    for need, reason, count in session.execute(query):
        by_reason = counts.setdefault(need, {})
        by_reason[reason or "other"] = by_reason.get(reason or "other", 0) + count
    return UnmetNeeds(counts)

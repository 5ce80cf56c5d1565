"""The report tables as pages and CSV files show them: captions, columns, rows of text, a chart.

Built from `service.reports.queries`' figures in the reader's language. A
regional table goes through `service.reports.suppression` first; the numbers
of an organization's own referrals are shown whole (she sees those referrals
one by one anyway). The page and the CSV file of a table are made from the
same `Table`, so the file never says more than the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import format_decimal
from flask_babel import format_percent
from flask_babel import gettext as _
from markupsafe import Markup

from service.reports import suppression
from service.reports.charts import Bar
from service.reports.charts import bar_chart
from service.reports.overlaps import Overlap
from service.reports.queries import CLOSED
from service.reports.queries import Figures
from service.reports.queries import UnmetNeeds
from service.reports.suppression import Cell

NOTHING = "—"


@dataclass(frozen=True)
class Table:
    """One table of a report: `name` picks it for the CSV download; the first column heads each row."""

    name: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    chart: Markup | None = None
    total: list[str] | None = None


@dataclass(frozen=True)
class Words:
    """How the reader's language names states, outcomes, reasons and needs."""

    state: Callable[[str], str]
    outcome: Callable[[str], str]
    reason: Callable[[str], str]
    need: Callable[[str | None], str]


def milestone_names() -> dict[str, str]:
    return {
        "received": _("Receipt acknowledged"),
        "accepted": _("Accepted"),
        "first_contact": _("First contact"),
    }


def hours(seconds: int | None) -> str:
    return NOTHING if seconds is None else format_decimal(round(seconds / 3600, 1), format="#,##0.0")


def percent(value: int | None) -> str:
    return NOTHING if value is None else format_percent(value / 100)


# States and outcomes -------------------------------------------------------------------


def _state_lines(figures: Figures, words: Words) -> list[tuple[str, int]]:
    """(label, count) for each state a referral is in, closed ones by outcome; empty lines left out."""
    lines = []
    for state, count in figures.states.items():
        if state == CLOSED:
            by_outcome = [(code, n) for code, n in figures.outcomes.items() if n]
            lines += [
                (_("%(state)s: %(outcome)s", state=words.state(state), outcome=words.outcome(code)), n)
                for code, n in by_outcome
            ]
            rest = count - sum(n for _code, n in by_outcome)
            if rest:
                lines.append((words.state(state), rest))
        elif count:
            lines.append((words.state(state), count))
    return lines


def states_table(name: str, caption: str, figures: Figures, words: Words, *, suppressed: bool) -> Table:
    """Referrals by state and outcome, with their total, and the same as a bar chart."""
    lines = _state_lines(figures, words)
    counts = [count for _label, count in lines]
    if suppressed:
        cells, total = suppression.suppress_line(counts)
    else:
        cells, total = [Cell(count) for count in counts], Cell(sum(counts))
    chart = bar_chart(
        f"chart-{name}",
        caption,
        _("Bar chart of the referrals by state; the table below gives the same figures."),
        [Bar(label, cell.visible, cell.shown) for (label, _count), cell in zip(lines, cells, strict=True)],
    )
    return Table(
        name=name,
        caption=caption,
        columns=[_("State"), _("Referrals")],
        rows=[[label, cell.shown] for (label, _count), cell in zip(lines, cells, strict=True)],
        chart=chart,
        total=[_("Total"), total.shown],
    )


def summary_table(
    name: str, caption: str, figures: Figures, *, suppressed: bool, received: bool = False
) -> Table:
    """The few numbers that say how referrals went: how many, accepted, late, reminded.

    `received`: the figures are of the referrals an organization received, so its count says so.
    """
    acceptance, missed = figures.acceptance_percent, figures.missed_percent
    if suppressed:
        referrals = suppression.suppressed_count(figures.referrals).shown
        acceptance = suppression.suppressed_share(figures.accepted, figures.decided, acceptance)
        missed = suppression.suppressed_share(figures.missed, figures.referrals, missed)
        reminders = suppression.suppressed_count(figures.reminders).shown
        escalations = suppression.suppressed_count(figures.escalations).shown
    else:
        referrals, reminders, escalations = (
            str(figures.referrals),
            str(figures.reminders),
            str(figures.escalations),
        )
    return Table(
        name=name,
        caption=caption,
        columns=[_("Figure"), _("Value")],
        rows=[
            [_("Referrals received") if received else _("Referrals sent"), referrals],
            [_("Acceptance rate (of the referrals decided)"), percent(acceptance)],
            [_("Referrals that missed a deadline"), percent(missed)],
            [_("Reminders sent"), reminders],
            [_("Escalations sent"), escalations],
        ],
    )


def times_table(name: str, caption: str, figures: Figures, *, suppressed: bool) -> Table:
    """How long after sending each milestone came: median and 90th percentile, in hours."""
    rows, bars = [], []
    for milestone, label in milestone_names().items():
        spread = figures.times.get(milestone)
        count = spread.count if spread else 0
        if spread is None or (suppressed and not suppression.suppressed_spread_count(count)):
            median = p90 = None
        else:
            median, p90 = spread.median, spread.p90
        if not suppressed:
            shown_count = str(count)
        elif suppression.is_small(count):
            shown_count = suppression.suppressed_count(count).shown
        elif suppression.is_small(figures.referrals - count):
            # The referrals that have not reached the step would be the total minus this count.
            shown_count = suppression.Cell(count, suppression.SECONDARY).shown
        else:
            shown_count = str(count)
        rows.append([label, shown_count, hours(median), hours(p90)])
        bars.append(Bar(label, None if median is None else median / 3600, hours(median)))
    chart = bar_chart(
        f"chart-{name}",
        caption,
        _("Bar chart of the median hours from sending to each step; the table below gives the same figures."),
        bars,
    )
    return Table(
        name=name,
        caption=caption,
        columns=[_("Step"), _("Referrals"), _("Median (hours)"), _("90th percentile (hours)")],
        rows=rows,
        chart=chart,
    )


def partners_table(name: str, caption: str, by_partner: dict[int, Figures], names: dict[int, str]) -> Table:
    """One row per partner organization: the referrals between the two, both ways."""
    rows = []
    for partner, figures in sorted(by_partner.items(), key=lambda item: names.get(item[0], "")):
        receipt = figures.times.get("received")
        rows.append(
            [
                names.get(partner, str(partner)),
                str(figures.referrals),
                percent(figures.acceptance_percent),
                hours(receipt.median if receipt else None),
                percent(figures.missed_percent),
                str(figures.reminders),
                str(figures.escalations),
            ]
        )
    return Table(
        name=name,
        caption=caption,
        columns=[
            _("Partner organization"),
            _("Referrals"),
            _("Acceptance rate"),
            _("Median time to receipt (hours)"),
            _("Missed a deadline"),
            _("Reminders"),
            _("Escalations"),
        ],
        rows=rows,
    )


# Unmet needs --------------------------------------------------------------------------


def unmet_table(name: str, caption: str, unmet: UnmetNeeds, reasons: list[str], words: Words) -> Table:
    """Needs by reason, with totals both ways, small cells suppressed; a chart of each need's total."""
    present = [code for code in reasons if any(code in row for row in unmet.counts.values())]
    present += sorted({code for row in unmet.counts.values() for code in row} - set(present))
    needs = sorted(unmet.counts, key=lambda code: words.need(code))
    grid = [[unmet.counts[need].get(code, 0) for code in present] for need in needs]
    grid = [[*row, sum(row)] for row in grid]
    grid.append([sum(row[j] for row in grid) for j in range(len(present) + 1)])
    cells = suppression.suppress(grid)
    labels = [words.need(need) for need in needs]
    chart = bar_chart(
        f"chart-{name}",
        caption,
        _("Bar chart of the unmet referrals by need; the table below gives the same figures."),
        [Bar(label, row[-1].visible, row[-1].shown) for label, row in zip(labels, cells, strict=False)],
    )
    return Table(
        name=name,
        caption=caption,
        columns=[_("Need"), *(words.reason(code) for code in present), _("Total")],
        rows=[[label, *(cell.shown for cell in row)] for label, row in zip(labels, cells, strict=False)],
        chart=chart,
        total=[_("Total"), *(cell.shown for cell in cells[-1])],
    )


def places_table(name: str, caption: str, places: dict[tuple[str, str], int]) -> Table:
    """Unmet needs recorded at intake by territory and clientele, small cells suppressed, with the total."""
    labels = {
        place: _(
            "%(territory)s · %(clientele)s",
            territory=place[0] or _("Territory not in the directory"),
            clientele=place[1] or _("Clientele not in the directory"),
        )
        for place in places
    }
    ordered = sorted(places, key=lambda place: labels[place].casefold())
    grid = [[places[place], places[place]] for place in ordered]
    grid.append([sum(places.values())] * 2)
    cells = suppression.suppress(grid)
    return Table(
        name=name,
        caption=caption,
        columns=[_("Territory · clientele"), _("Records")],
        rows=[[labels[place], row[0].shown] for place, row in zip(ordered, cells, strict=False)],
        total=[_("Total"), cells[-1][0].shown],
    )


# Overlaps in the directory ---------------------------------------------------------------


def overlaps_table(name: str, caption: str, found: list[Overlap], words: Words) -> Table:
    """One row per need covered several times for one territory and clientele: by whom."""
    rows = [
        [
            words.need(overlap.need_code),
            overlap.territory or _("Territory not stated"),
            overlap.clientele or _("Clientele not stated"),
            str(len(overlap.services)),
            "; ".join(
                _("%(organization)s: %(service)s", organization=o, service=s) for o, s in overlap.services
            ),
        ]
        for overlap in sorted(
            found, key=lambda o: (words.need(o.need_code).casefold(), o.territory, o.clientele)
        )
    ]
    return Table(
        name=name,
        caption=caption,
        columns=[_("Need"), _("Territory"), _("Clientele"), _("Services"), _("Organizations and services")],
        rows=rows,
    )


def uncovered_table(name: str, caption: str, codes: list[str], words: Words) -> Table:
    """The needs no service of the directory covers."""
    return Table(
        name=name,
        caption=caption,
        columns=[_("Need")],
        rows=sorted(([words.need(code)] for code in codes), key=lambda row: row[0].casefold()),
    )


def csv_rows(table: Table) -> list[list[str]]:
    """The table as the CSV file holds it: the header, the rows, the total."""
    return [table.columns, *table.rows, *([table.total] if table.total else [])]

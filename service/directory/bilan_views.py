"""A partnership's bilan page and its CSV file: one review period's figures, traces and decisions.

Read by the staff of the two organizations and by the regional table, as the
traces are (`operations.may_read_notes`); anyone else gets 404, as for a
partnership that does not exist. The two organizations see their own
referrals' counts whole; the regional table sees them as its reports do, small
cells hidden (`service.reports.suppression`). The page and the file are made
from the same tables, so the file never says more than the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import render_template
from flask import request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms import SelectField

from service.directory import bilans
from service.directory import operations
from service.directory import queries
from service.directory import wording
from service.directory.bilans import Bilan
from service.directory.bilans import Period
from service.directory.errors import DirectoryNotFound
from service.directory.forms import options
from service.directory.models import Partnership
from service.directory.partnership_figures import Flow
from service.directory.partnership_figures import median_hours
from service.errors import ProtocolNotFound
from service.protocols import protocol_library
from service.reports import suppression
from service.reports.queries import reason_codes
from service.reports.tables import NOTHING
from service.reports.tables import Table
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.forms import Form
from service.web.spreadsheet import csv_text
from service.web.templating import current_locale
from service.web.templating import day

blueprint = Blueprint("bilans", __name__, url_prefix="/directory/partnerships")


class PeriodForm(Form):
    class Meta:
        csrf = False  # a GET that changes nothing

    period = SelectField(_l("Review period"), validate_choice=True)


@blueprint.before_request
@login_required
def signed_in_only() -> None:
    """Every bilan needs a signed-in person; the decorator answers strangers."""


@blueprint.errorhandler(DirectoryNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


@dataclass(frozen=True)
class Page:
    """What the page and the file show: the chosen period's tables, traces and decisions."""

    partnership: Partnership
    bilan: Bilan
    # The referrals' tables, then the requests'.
    tables: list[Table]
    requests: Table
    suppressed: bool


@blueprint.get("/<int:partnership_id>/bilan")
def bilan(partnership_id: int) -> tuple[str, int]:
    partnership = _readable(partnership_id)
    form, period = _period(partnership)
    page = _page(partnership, period)
    return (
        render_template(
            "directory/bilan.html",
            page=page,
            form=form,
            period=period,
            period_words=_period_words(period),
            note_kind_label=wording.note_kind_label,
        ),
        400 if form.errors else 200,
    )


@blueprint.get("/<int:partnership_id>/bilan.csv")
def bilan_csv(partnership_id: int) -> Response | tuple[str, int]:
    partnership = _readable(partnership_id)
    form, period = _period(partnership)
    if form.errors:
        return error_page(404)
    page = _page(partnership, period)
    rows: list[list[object]] = [
        [_("Bilan of the partnership: %(first)s and %(second)s", **_names(partnership))],
        [_period_words(period)],
        [],
    ]
    if page.suppressed:
        rows += [[_suppression_words()], []]
    for table in [*page.tables, page.requests]:
        rows += [[table.caption], table.columns, *table.rows]
        rows += [table.total] if table.total else []
        rows.append([])
    for caption, traces in ((_("Decisions taken"), page.bilan.decisions), (_("Traces"), page.bilan.traces)):
        rows += [[caption], [_("Day"), _("Kind of trace"), _("Written by"), _("Text")]]
        rows += [[t.day.isoformat(), wording.note_kind_label(t.kind), t.organization, t.text] for t in traces]
        rows.append([])
    name = f"maillage-bilan-{partnership.id}-{period.start.isoformat()}.csv"
    return Response(
        csv_text(rows, current_locale()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# The period --------------------------------------------------------------------------


def _readable(partnership_id: int) -> Partnership:
    """The partnership, if the signed-in person may read its bilan; 404 otherwise, as if it did not exist."""
    partnership = queries.get_partnership(db(), partnership_id)
    if not operations.may_read_notes(current_user.actor, partnership):
        raise DirectoryNotFound("partnership", partnership_id)
    return partnership


def _period(partnership: Partnership) -> tuple[PeriodForm, Period]:
    """The period asked for (`period`: its first day), the current one when none or none valid was asked."""
    periods = bilans.periods(db(), partnership, request_clock())
    form = PeriodForm(formdata=request.args)
    form.period.choices = options((p.start.isoformat(), _period_words(p)) for p in periods)
    asked = "period" in request.args and form.validate()
    if "period" not in request.args:
        form.period.data = periods[0].start.isoformat()
    elif not asked:
        form.period.errors = [_("Choose one of the review periods of the list.")]
    chosen = next((p for p in periods if asked and p.start.isoformat() == form.period.data), periods[0])
    return form, chosen


def _period_words(period: Period) -> str:
    if period.current:
        return _("Since %(start)s (the current period)", start=day(period.start))
    return _("From %(start)s to %(end)s", start=day(period.start), end=day(period.last_day))


def _names(partnership: Partnership) -> dict[str, str]:
    return {"first": partnership.first_organization.name, "second": partnership.second_organization.name}


def _suppression_words() -> str:
    return _(
        "So that no woman can be singled out, a count from 1 to 4 is shown as “< 5”, and “x” hides "
        "another count from which it could be worked out. Times over fewer than 5 referrals are not "
        "shown (—)."
    )


# The tables --------------------------------------------------------------------------


def _page(partnership: Partnership, period: Period) -> Page:
    found = bilans.bilan(db(), partnership, period)
    suppressed = not operations.is_side(current_user.actor, partnership)
    names = _names(partnership)
    columns = [
        _("Referrals"),
        _("From %(first)s to %(second)s", **names),
        _("From %(second)s to %(first)s", **names),
        _("Both ways"),
    ]
    # The words of referral protocols only: a request between organizations has reasons of its own.
    protocols = [p for p in protocol_library() if p.subject == "referral"]
    english = current_locale() == "en"

    def reasons(kind: str) -> dict[str, str]:
        codes = reason_codes(protocols, kind)
        return {code: words[1 if english else 0] for code, words in codes.items()}

    there, back = found.there, found.back
    by_reason = [
        _by_code(
            "declined",
            _("Declined referrals, by reason"),
            _("Referrals declined"),
            columns,
            there.declined,
            back.declined,
            reasons("decline"),
            suppressed,
        ),
        _by_code(
            "redirected",
            _("Redirected referrals, by reason"),
            _("Referrals redirected"),
            columns,
            there.redirected,
            back.redirected,
            reasons("redirect"),
            suppressed,
        ),
        _by_code(
            "closed",
            _("Closed referrals, by outcome"),
            _("Referrals closed"),
            columns,
            there.closed,
            back.closed,
            reasons("outcome"),
            suppressed,
        ),
    ]
    totals = {table.name: table.total or [] for table in by_reason}

    def counted(label: str, first: int, second: int) -> list[str]:
        if not suppressed:
            return [label, str(first), str(second), str(first + second)]
        cells, total = suppression.suppress_line([first, second])
        return [label, *(cell.shown for cell in cells), total.shown]

    def outcome(name: str, label: str) -> list[str]:
        # The same cells as the total line of its table by reason, so that the two never disagree.
        return [label, *totals[name][1:]] if totals[name] else [label, "0", "0", "0"]

    rows = [
        counted(_("Referrals sent"), there.sent, back.sent),
        counted(_("Receipt acknowledged"), there.acknowledged, back.acknowledged),
        counted(_("Referrals accepted"), there.accepted, back.accepted),
        outcome("declined", _("Referrals declined")),
        outcome("redirected", _("Referrals redirected")),
        outcome("closed", _("Referrals closed")),
        counted(_("Referrals cancelled"), there.cancelled, back.cancelled),
        _times(_("Median time to acknowledged receipt (hours)"), there, back, "receipt_hours", suppressed),
        _times(_("Median time to the decision (hours)"), there, back, "decision_hours", suppressed),
    ]
    referrals = Table("referrals", _("Referrals sent during the period"), columns, rows)
    return Page(partnership, found, [referrals, *by_reason], _requests(found, names), suppressed)


def _requests(found: Bilan, names: dict[str, str]) -> Table:
    """The requests between the two organizations, by kind and where they stand now.

    Shown whole to the regional table too: a request carries no woman's data, so no count can single one out.
    """
    columns = [
        _("Requests"),
        _("Asked by %(first)s of %(second)s", **names),
        _("Asked by %(second)s of %(first)s", **names),
        _("Both ways"),
    ]
    library = protocol_library()
    language = current_locale()
    lines: list[tuple[tuple[str, int], list[str]]] = []
    for count in found.requests:
        try:
            protocol = library.get(count.protocol_name, count.protocol_version)
        except ProtocolNotFound:
            kind, state, order = count.protocol_name, count.state, 0
        else:
            kind = protocol.spec.title.in_language(language)
            spec = protocol.states.get(count.state)
            state = spec.title.in_language(language) if spec else count.state
            order = list(protocol.states).index(count.state) if spec else len(protocol.states)
        label = _("%(kind)s: %(state)s", kind=kind, state=state)
        cells = [str(count.there), str(count.back), str(count.there + count.back)]
        lines.append(((queries.folded(kind), order), [label, *cells]))
    rows = [row for _key, row in sorted(lines, key=lambda line: line[0])]
    there = sum(count.there for count in found.requests)
    back = sum(count.back for count in found.requests)
    total = [_("Requests opened in the period"), str(there), str(back), str(there + back)] if rows else None
    return Table(
        "requests",
        _("Requests between the two organizations, by kind and where they stand"),
        columns,
        rows,
        total=total,
    )


def _by_code(
    name: str,
    caption: str,
    total_label: str,
    columns: list[str],
    first: dict[str, int],
    second: dict[str, int],
    labels: dict[str, str],
    suppressed: bool,
) -> Table:
    """A table of counts by reason or outcome, each way and both, with its total line."""
    codes = sorted(set(first) | set(second), key=lambda code: (code == "", code == "other", code))
    if not codes:
        return Table(name, caption, columns, [], total=None)
    counts = [[first.get(code, 0), second.get(code, 0)] for code in codes]
    table = [[*row, sum(row)] for row in counts]
    table.append([sum(column) for column in zip(*table, strict=True)])
    if suppressed:
        shown = [[cell.shown for cell in row] for row in suppression.suppress(table)]
    else:
        shown = [[str(value) for value in row] for row in table]
    heads = [labels.get(code, code) if code else _("No reason given") for code in codes]
    rows = [[head, *cells] for head, cells in zip(heads, shown, strict=False)]
    return Table(name, caption, columns, rows, total=[total_label, *shown[-1]])


def _times(label: str, there: Flow, back: Flow, attribute: str, suppressed: bool) -> list[str]:
    def shown(hours: list[float]) -> str:
        value = median_hours(hours)
        if value is None or (suppressed and not suppression.suppressed_spread_count(len(hours))):
            return NOTHING
        return format_decimal(value, format="#,##0.0")

    first, second = getattr(there, attribute), getattr(back, attribute)
    return [label, shown(first), shown(second), shown(first + second)]

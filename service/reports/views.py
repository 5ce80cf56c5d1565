"""The Reports pages: an organization's figures for its coordinator, the region's for everyone
who may see figures, and the unmet needs; each table also as a CSV file.

Who sees what: a coordinator sees her own organization's figures (never
another's: the organization is hers, not a parameter) and its partners'
rows; the regional admin sees the region's aggregates only, small cells
suppressed, as coordinators do for the region. Caseworkers, partner contacts
and privacy officers act on referrals one by one and do not get the reports
(403): an organization's figures are its coordinator's to share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import Blueprint
from flask import Response
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import select

from service.directory.models import Need
from service.directory.models import Organization
from service.directory.queries import today
from service.protocols import protocol_library
from service.reports import overlaps as overlap_queries
from service.reports import queries
from service.reports import tables
from service.reports.forms import UNMET_CHOICES
from service.reports.forms import PeriodForm
from service.reports.forms import UnmetNeedsForm
from service.reports.queries import Figures
from service.reports.queries import Period
from service.reports.tables import Table
from service.reports.tables import Words
from service.unmet_needs import queries as unmet_queries
from service.web import templating
from service.web.clock import request_clock
from service.web.database import db
from service.web.spreadsheet import csv_text
from service.web.templating import current_locale

blueprint = Blueprint("reports", __name__, url_prefix="/reports")

# The reason under which the needs recorded at intake with no resource found are counted.
NO_RESOURCE = "no_resource"


@dataclass(frozen=True)
class Section:
    heading: str
    tables: list[Table]


@dataclass(frozen=True)
class Report:
    title: str
    sections: list[Section]

    def table(self, name: str) -> Table | None:
        return next((t for section in self.sections for t in section.tables if t.name == name), None)


@blueprint.before_request
@login_required
def figures_readers_only() -> None:
    if not (current_user.is_regional_admin or (current_user.is_coordinator and current_user.organization_id)):
        abort(403)


@blueprint.get("/")
def index() -> Response:
    if current_user.is_coordinator:
        return redirect(url_for("reports.organization"))
    return redirect(url_for("reports.region"))


@blueprint.get("/organization")
def organization() -> tuple[str, int]:
    return _page("organization", _organization_report)


@blueprint.get("/region")
def region() -> tuple[str, int]:
    return _page("region", _region_report)


@blueprint.get("/unmet-needs")
def unmet_needs() -> tuple[str, int]:
    return _page("unmet_needs", _unmet_report, UnmetNeedsForm)


@blueprint.get("/overlaps")
def overlaps() -> str:
    """Needs several services cover for the same territory and clientele, and needs none covers."""
    return render_template("reports/overlaps.html", report=_overlaps_report(), endpoint="overlaps")


@blueprint.get("/overlaps.csv")
def overlaps_csv() -> Response:
    table = _overlaps_report().table(request.args.get("table", ""))
    if table is None:
        abort(404)
    return Response(
        csv_text(tables.csv_rows(table), current_locale()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="maillage-overlaps-{table.name}.csv"'},
    )


@blueprint.get("/organization.csv")
def organization_csv() -> Response:
    if not current_user.is_coordinator:
        abort(403)
    return _download("organization", _organization_report)


@blueprint.get("/region.csv")
def region_csv() -> Response:
    return _download("region", _region_report)


@blueprint.get("/unmet-needs.csv")
def unmet_needs_csv() -> Response:
    return _download("unmet_needs", _unmet_report, UnmetNeedsForm)


# Pages ---------------------------------------------------------------------------------


def _page(
    endpoint: str, build: Callable[[Period, PeriodForm], Report], form_class: type[PeriodForm] = PeriodForm
) -> tuple[str, int]:
    if endpoint == "organization" and not current_user.is_coordinator:
        abort(403)  # the regional admin has no organization: aggregates only
    form, period = _period(form_class)
    report = build(period, form)
    arguments = {key: value for key, value in request.args.items() if key in form._fields}
    return (
        render_template(
            "reports/report.html",
            report=report,
            form=form,
            period=period,
            period_words=_period_words(period),
            endpoint=endpoint,
            arguments=arguments,
            previous_on=period.previous().start.isoformat(),
            next_on=period.next().start.isoformat(),
            suppressed=endpoint != "organization",
        ),
        400 if form.errors else 200,
    )


def _download(
    endpoint: str, build: Callable[[Period, PeriodForm], Report], form_class: type[PeriodForm] = PeriodForm
) -> Response:
    """One table of a report as a CSV file, `table` naming it; the same text as the page shows."""
    form, period = _period(form_class)
    table = build(period, form).table(request.args.get("table", ""))
    if table is None:
        abort(404)
    name = f"maillage-{endpoint.replace('_', '-')}-{table.name}-{period.kind}-{period.start.isoformat()}.csv"
    return Response(
        csv_text(tables.csv_rows(table), current_locale()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _period(form_class: type[PeriodForm]) -> tuple[PeriodForm, Period]:
    """The period asked for; the month of today when nothing (or nothing valid) was asked."""
    form = form_class(formdata=request.args)
    valid = form.validate() if request.args else True
    kind = form.period.data if valid and form.period.data in queries.PERIOD_KINDS else "month"
    day = form.on.data if valid and isinstance(form.on.data, date) else today(request_clock())
    return form, Period.containing(kind, day)


def _period_words(period: Period) -> str:
    if period.kind == "month":
        return templating.day(period.start, "month")
    if period.kind == "quarter":
        return _(
            "quarter %(number)s of %(year)s", number=(period.start.month - 1) // 3 + 1, year=period.start.year
        )
    return str(period.start.year)


def _words() -> Words:
    protocols = protocol_library()
    english = current_locale() == "en"
    states: dict[str, str] = {}
    for protocol in queries.referral_protocols(protocols):
        for state, spec in protocol.states.items():
            states.setdefault(state, spec.title.en if english else spec.title.fr)
    outcomes = queries.reason_codes(protocols, "outcome")
    reasons = {**queries.reason_codes(protocols, "redirect"), **queries.reason_codes(protocols, "decline")}
    needs = {need.code: need.label_en if english else need.label_fr for need in db().scalars(select(Need))}

    def pick(labels: dict[str, tuple[str, str]], code: str) -> str:
        if code == NO_RESOURCE:
            return _("No resource found")
        return labels[code][1 if english else 0] if code in labels else code

    return Words(
        state=lambda code: states.get(code, code),
        outcome=lambda code: pick(outcomes, code),
        reason=lambda code: pick(reasons, code),
        need=lambda code: needs.get(code, code) if code else _("Need not given"),
    )


# Reports -------------------------------------------------------------------------------


def _empty() -> Figures:
    return Figures(0, {}, {}, 0, 0, 0, 0, 0, {})


def _organization_report(period: Period, _form: PeriodForm) -> Report:
    session, protocols, words = db(), protocol_library(), _words()
    organization_id = current_user.organization_id
    by_direction, by_partner = queries.organization_figures(session, protocols, period, organization_id)
    names = dict(
        session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(by_partner))
        ).all()
    )
    own = session.get(Organization, organization_id)
    sections = []
    for direction, heading in (("sent", _("Referrals we sent")), ("received", _("Referrals we received"))):
        figures = by_direction.get(direction) or _empty()
        sections.append(
            Section(
                heading,
                [
                    tables.summary_table(
                        f"{direction}-summary",
                        _("In short"),
                        figures,
                        suppressed=False,
                        received=direction == "received",
                    ),
                    tables.states_table(
                        f"{direction}-states",
                        _("Referrals by state and outcome"),
                        figures,
                        words,
                        suppressed=False,
                    ),
                    tables.times_table(
                        f"{direction}-times", _("Time from sending to each step"), figures, suppressed=False
                    ),
                ],
            )
        )
    sections.append(
        Section(
            _("By partner organization"),
            [
                tables.partners_table(
                    "partners", _("Referrals between us and each partner, both ways"), by_partner, names
                )
            ],
        )
    )
    return Report(_("Figures of %(organization)s", organization=own.name if own else ""), sections)


def _region_report(period: Period, _form: PeriodForm) -> Report:
    session, protocols, words = db(), protocol_library(), _words()
    figures = queries.figures(session, protocols, period).get("region") or _empty()
    return Report(
        _("Figures of the region"),
        [
            Section(
                _("Referrals between the organizations of the region"),
                [
                    tables.summary_table("summary", _("In short"), figures, suppressed=True),
                    tables.states_table(
                        "states", _("Referrals by state and outcome"), figures, words, suppressed=True
                    ),
                    tables.times_table(
                        "times", _("Time from sending to each step"), figures, suppressed=True
                    ),
                ],
            )
        ],
    )


def _overlaps_report() -> Report:
    found, words = overlap_queries.coverage(db()), _words()
    return Report(
        _("Overlaps and needs not covered"),
        [
            Section(
                _("Needs covered by several services for the same clientele and territory"),
                [tables.overlaps_table("overlaps", _("Needs covered more than once"), found.overlaps, words)],
            ),
            Section(
                _("Needs no service covers"),
                [
                    tables.uncovered_table(
                        "uncovered", _("Needs covered by no service"), found.uncovered, words
                    )
                ],
            ),
        ],
    )


def _unmet_report(period: Period, form: PeriodForm) -> Report:
    """Declined and redirected referrals beside the needs recorded with no resource found, by need."""
    session, protocols, words = db(), protocol_library(), _words()
    decision = getattr(form, "decision", None)
    chosen = decision.data if decision is not None and decision.data in UNMET_CHOICES else "all"
    triggers = queries.UNMET if chosen == "all" else tuple(t for t in queries.UNMET if t == chosen)
    counts = queries.unmet_needs(session, period, triggers).counts if triggers else {}
    start, end = period.moments
    if chosen in ("all", NO_RESOURCE):
        for need, count in unmet_queries.recorded_by_need(session, start, end).items():
            counts.setdefault(need, {})[NO_RESOURCE] = count
    reasons = [*queries.reason_codes(protocols, "decline"), *queries.reason_codes(protocols, "redirect")]
    reasons = [*dict.fromkeys(reasons), NO_RESOURCE]
    places = unmet_queries.recorded_by_place(session, start, end) if chosen in ("all", NO_RESOURCE) else {}
    return Report(
        _("Unmet needs"),
        [
            Section(
                _("Declined, redirected or no resource found, by need and reason"),
                [
                    tables.unmet_table(
                        "needs",
                        _("Unmet needs by need and reason"),
                        queries.UnmetNeeds(counts),
                        reasons,
                        words,
                    )
                ],
            ),
            Section(
                _("No resource found, by territory and clientele"),
                [
                    tables.places_table(
                        "places", _("Needs with no resource found, by territory and clientele"), places
                    )
                ],
            ),
        ],
    )

"""Privacy pages (Law 25): the public privacy page, the confidentiality incident register,
and an organization's retention period.

The privacy page is for anyone, signed in or not. The register is the
organization's: its privacy officer keeps it, its coordinators read it, and
nobody else learns it exists (another organization's incident is a 404).
Changes go through `service.privacy.operations`, which decide who may make them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from wtforms import StringField

from service.accounts.reauth import fresh_authentication_required
from service.config import settings
from service.directory.models import Organization
from service.privacy import operations
from service.privacy import queries
from service.privacy.errors import IncidentNotFound
from service.privacy.errors import IncidentRefused
from service.privacy.errors import PrivacyNotAllowed
from service.privacy.errors import RetentionRefused
from service.privacy.export import register_csv
from service.privacy.forms import IncidentForm
from service.privacy.forms import RetentionForm
from service.privacy.models import ConfidentialityIncident
from service.privacy.operations import IncidentDetails
from service.referrals.actors import Actor
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.templating import current_locale
from workflows.durations import TIME_ZONE

blueprint = Blueprint("privacy", __name__, url_prefix="/privacy")


@blueprint.errorhandler(IncidentNotFound)
def not_found(_error: IncidentNotFound) -> tuple[str, int]:
    return error_page(404)


@blueprint.errorhandler(PrivacyNotAllowed)
def not_allowed(_error: PrivacyNotAllowed) -> tuple[str, int]:
    return error_page(403)


@blueprint.context_processor
def privacy_words() -> dict[str, Any]:
    actor = current_user.actor if current_user.is_authenticated else None
    return {
        "may_keep_register": actor is not None and operations.may_keep_register(actor, actor.organization_id),
        "may_read_register": actor is not None and operations.may_read_register(actor, actor.organization_id),
        "may_set_retention": actor is not None and operations.may_set_retention(actor, actor.organization_id),
    }


def _actor() -> Actor:
    return current_user.actor


def _maximum() -> int:
    return settings().retention_months


def _readers_only() -> Actor:
    actor = _actor()
    if not operations.may_read_register(actor, actor.organization_id):
        abort(403)
    return actor


def _keeper_only() -> Actor:
    actor = _actor()
    if not operations.may_keep_register(actor, actor.organization_id):
        abort(403)
    return actor


# The public privacy page ----------------------------------------------------------


@blueprint.route("/")
def policy() -> str:
    """What Maillage collects, why, for how long, where, and whom to ask: for anyone."""
    config = settings()
    return render_template(
        "privacy/policy.html",
        officer_name=config.privacy_officer_name,
        officer_email=config.privacy_officer_email,
        hosting_location=config.hosting_location,
        maximum=config.retention_months,
        organizations=queries.organizations_privacy(db(), config.retention_months),
    )


# The incident register ------------------------------------------------------------


@blueprint.route("/incidents/")
@login_required
def register() -> str:
    actor = _readers_only()
    return render_template(
        "privacy/register.html",
        incidents=queries.register_of(db(), actor.organization_id),
        organization=db().get(Organization, actor.organization_id),
    )


@blueprint.route("/incidents/new", methods=["GET", "POST"])
@login_required
def new_incident() -> str | Response:
    actor = _keeper_only()
    form = IncidentForm()
    if form.validate_on_submit():
        try:
            incident = operations.record_incident(db(), actor, _details(form), clock=request_clock())
        except IncidentRefused as error:
            _refused(form, error)
        else:
            flash(_("The incident is recorded in the register."), "success")
            return redirect(url_for(".incident", incident_id=incident.id), code=303)
    return render_template("privacy/incident_form.html", form=form, incident=None)


@blueprint.route("/incidents/<int:incident_id>")
@login_required
def incident(incident_id: int) -> str:
    actor = _readers_only()
    found = queries.incident_of(db(), actor.organization_id, incident_id)
    return render_template("privacy/incident.html", incident=found)


@blueprint.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@login_required
def edit_incident(incident_id: int) -> str | Response:
    actor = _keeper_only()
    found = queries.incident_of(db(), actor.organization_id, incident_id)
    form = IncidentForm(data=_incident_data(found))
    if form.validate_on_submit():
        try:
            operations.update_incident(db(), actor, found.id, _details(form), clock=request_clock())
        except IncidentRefused as error:
            _refused(form, error)
        else:
            flash(_("The incident is updated."), "success")
            return redirect(url_for(".incident", incident_id=found.id), code=303)
    return render_template("privacy/incident_form.html", form=form, incident=found)


def _register_readers_only(view: Callable[[], Response]) -> Callable[[], Response]:
    """Refuse before asking for a password: re-authenticating for a 403 helps nobody."""

    @wraps(view)
    def wrapped() -> Response:
        _readers_only()
        return view()

    return wrapped


@blueprint.route("/incidents/register.csv")
@login_required
@_register_readers_only
@fresh_authentication_required
def export() -> Response:
    """The whole register as a spreadsheet: a sensitive act, so she confirms who she is first."""
    actor = _actor()
    incidents = operations.export_register(db(), actor, clock=request_clock())
    language = current_locale()
    today = request_clock()().astimezone(TIME_ZONE).date().isoformat()
    name = f"registre-incidents-{today}.csv" if language == "fr" else f"incident-register-{today}.csv"
    return Response(
        register_csv(incidents, language).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _details(form: IncidentForm) -> IncidentDetails:
    """The form's answers as the register's details: one form field per detail, of the same name."""
    answers: dict[str, Any] = {}
    for item in fields(IncidentDetails):
        field = form[item.name]
        # A text left out of the request is an empty text, not a missing one.
        answers[item.name] = (field.data or "") if isinstance(field, StringField) else field.data
    answers["serious_injury_risk"] = form.serious_injury_risk.data == "yes"
    return IncidentDetails(**answers)


def _incident_data(incident: ConfidentialityIncident) -> dict[str, date | int | str | None]:
    """The incident's details as the form shows them."""
    data = {item.name: getattr(incident, item.name) for item in fields(IncidentDetails)}
    data["serious_injury_risk"] = "yes" if incident.serious_injury_risk else "no"
    return data


def _refused(form: IncidentForm, error: IncidentRefused) -> None:
    """Put the operation's refusal on the field to fix, in words she can act on."""
    messages = {
        "in_the_future": _("This date is after today."),
        "ends_before_start": _("The last day of the period comes before its first day."),
        "learned_before_start": _("The organization cannot have learned of the incident before it began."),
        "notice_before_start": _("A notice cannot come before the incident began."),
        "commission_notice_missing": _(
            "With a risk of serious injury, enter the date the Commission was notified, or why it was not."
        ),
        "people_notice_missing": _(
            "With a risk of serious injury, enter the date the people were notified, or why they were not."
        ),
    }
    getattr(form, error.field).errors.append(messages[error.rule])


# Retention period -----------------------------------------------------------------


@blueprint.route("/retention", methods=["GET", "POST"])
@login_required
def retention() -> str | Response:
    actor = _actor()
    if not operations.may_set_retention(actor, actor.organization_id):
        abort(403)
    organization = db().get(Organization, actor.organization_id)
    maximum = _maximum()
    form = RetentionForm(data={"months": organization.retention_months})
    if form.validate_on_submit():
        try:
            operations.set_retention(
                db(), actor, organization.id, form.months.data, maximum=maximum, clock=request_clock()
            )
        except RetentionRefused as error:
            form.months.errors.append(_retention_message(error))
        else:
            flash(_("The retention period is saved."), "success")
            return redirect(url_for(".retention"), code=303)
    return render_template(
        "privacy/retention.html",
        form=form,
        organization=organization,
        maximum=maximum,
        current=queries.effective_retention(organization, maximum),
    )


def _retention_message(error: RetentionRefused) -> str:
    if error.rule == "too_long":
        return _(
            "The regional maximum is %(maximum)s months: enter %(maximum)s or fewer, or leave it empty.",
            maximum=error.maximum,
        )
    return _("Enter a number of months, 1 or more.")

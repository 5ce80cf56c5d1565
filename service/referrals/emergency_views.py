"""The emergency path's pages: the form that sends without consent, and the report of its uses."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response

from service.accounts.models import Role
from service.accounts.reauth import fresh_authentication_required
from service.errors import ConcurrentUpdate
from service.errors import ParameterError
from service.errors import ProtocolNotFound
from service.errors import ReferralError
from service.protocols import protocol_library
from service.referrals.emergency import MAY_DECIDE
from service.referrals.emergency import MAY_READ_REPORT
from service.referrals.emergency import emergency_counts
from service.referrals.emergency import emergency_uses
from service.referrals.emergency import send_in_emergency
from service.referrals.queries import needs_by_group
from service.referrals.queries import organization_choices
from service.referrals.queries import protocol_for
from service.referrals.rights_forms import EmergencyForm
from service.web.access import roles_only
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale
from workflows.durations import TIME_ZONE

blueprint = Blueprint("emergency", __name__)


coordinators_only = roles_only(MAY_DECIDE)


@blueprint.route("/referrals/emergency", methods=["GET", "POST"])
@login_required
@coordinators_only
@fresh_authentication_required
def new() -> str | Response:
    """Send a referral without her consent: serious risk of death or serious injury.

    The private-sector act, s. 18.1 (Loi sur la protection des renseignements
    personnels dans le secteur privé, art. 18.1).
    """
    session = db()
    form = EmergencyForm()
    needs = [
        (code, label) for group in needs_by_group(session, current_locale()) for code, label in group.needs
    ]
    form.setup(
        organization_choices(session, excluding=[current_user.organization_id]),
        sorted(needs, key=lambda n: n[1]),
    )
    if form.validate_on_submit():
        choice = protocol_for(
            session,
            current_user.organization_id,
            form.receiver.data,
            urgent=True,
            on=request_clock()().astimezone(TIME_ZONE).date(),
        )
        try:
            referral = send_in_emergency(
                session,
                protocol_library(),
                current_user.actor,
                receiver_organization_id=form.receiver.data,
                protocol_name=choice.name,
                parameters=choice.parameters,
                agreement_id=choice.agreement_id,
                need_codes=form.needs.data,
                details=form.details(),
                reason=form.reason.data,
                clock=request_clock(),
            )
        except (ParameterError, ProtocolNotFound):
            form.form_errors.append(_("The agreement with this organization cannot be used. Call them."))
        except (ConcurrentUpdate, ReferralError):
            # The draft and its exception are recorded; its page can send it.
            flash(_("The referral could not be sent. Send it from its page."), "error")
            return redirect(url_for("referrals.dashboard"), 303)
        else:
            flash(
                _("Referral no. %(number)s sent without her consent, as an emergency.", number=referral.id),
                "success",
            )
            return redirect(url_for("referrals.show", referral_id=referral.id), 303)
    return render_template("referrals/emergency.html", form=form)


@blueprint.route("/referrals/emergencies")
@login_required
def report() -> str:
    """Every use of the emergency path: her organization's, or, for the regional admin, the counts."""
    if current_user.role == Role.REGIONAL_ADMIN:
        return render_template("referrals/emergency_report.html", uses=None, counts=emergency_counts(db()))
    if current_user.role not in MAY_READ_REPORT or current_user.organization_id is None:
        abort(403)
    uses = emergency_uses(db(), current_user.actor, clock=request_clock())
    return render_template("referrals/emergency_report.html", uses=uses, counts=None)

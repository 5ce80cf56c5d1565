"""The pages of joining the network: the public "Rejoindre Maillage" form, and the regional admin's
requests (accept, decline with a reason) and one-step addition of an organization with its coordinator.

Views parse and call one operation of `service.join_requests.operations`, which holds the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import case
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.accounts import team
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.reauth import fresh_authentication_required
from service.accounts.team_views import problem_message
from service.directory.errors import RuleBroken
from service.directory.models import Organization
from service.directory.operations import OrganizationDetails
from service.directory.operations import add_organization
from service.errors import ConcurrentUpdate
from service.errors import ReferralError
from service.extensions import limiter
from service.join_requests import operations
from service.join_requests.forms import AcceptForm
from service.join_requests.forms import DeclineForm
from service.join_requests.forms import JoinForm
from service.join_requests.forms import NewMemberForm
from service.join_requests.models import JoinRequest
from service.join_requests.models import JoinRequestEvent
from service.protocols import protocol_library
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("join_requests", __name__)

# Per network address (Flask-Limiter, with Retry-After): an organization asks once; a few more
# allow for a typo corrected, not for a robot's flood of the regional admin's mailbox.
REQUESTS_PER_ADDRESS = "3 per 10 minutes; 10 per day"


def regional_admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """403 for anyone signed in but the regional admin, before anything else the view asks."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != Role.REGIONAL_ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


# The public page ---------------------------------------------------------------------------------


@blueprint.route("/join", methods=["GET", "POST"])
@limiter.limit(REQUESTS_PER_ADDRESS, methods=["POST"])
def join() -> str | Response:
    """An organization not yet in Maillage asks to join; the regional admin is told."""
    form = JoinForm()
    if form.validate_on_submit():
        if form.website.data:
            # A robot filled in the field people never see: it is told what a person is, nothing kept.
            return redirect(url_for("join_requests.sent"), code=303)
        language = str(get_locale() or "fr")
        try:
            operations.submit(
                db(),
                protocol_library(),
                operations.Application(
                    organization_name=form.organization_name.data,
                    mandate=form.mandate.data,
                    territory=form.territory.data,
                    contact_name=form.contact_name.data,
                    contact_email=form.contact_email.data,
                    contact_phone=form.contact_phone.data,
                    language=language if language in operations.LANGUAGES else "fr",
                ),
                clock=request_clock(),
            )
        except operations.JoinRequestProblem:
            form.contact_email.errors.append(_("This email address is not valid: check it."))
        else:
            return redirect(url_for("join_requests.sent"), code=303)
    return render_template("join_requests/join.html", form=form)


@blueprint.route("/join/sent")
def sent() -> str:
    return render_template("join_requests/sent.html")


# The regional admin's pages ------------------------------------------------------------------------


@blueprint.route("/join-requests")
@login_required
@regional_admin_only
def index() -> str:
    """Requests waiting for an answer first, then the answered ones, newest first."""
    waiting_first = case((JoinRequest.state == "submitted", 0), else_=1)
    requests = db().scalars(select(JoinRequest).order_by(waiting_first, JoinRequest.created_at.desc()))
    language = str(get_locale() or "fr")
    return render_template(
        "join_requests/index.html", requests=list(requests), protocol=_protocol(), language=language
    )


@blueprint.route("/join-requests/<int:request_id>")
@login_required
@regional_admin_only
def request_page(request_id: int) -> str:
    return _page(_request(request_id))


@blueprint.route("/join-requests/<int:request_id>/accept", methods=["POST"])
@login_required
@regional_admin_only
@fresh_authentication_required
def accept(request_id: int) -> str | Response | tuple[str, int]:
    found = _request(request_id)
    form = AcceptForm()
    if not form.validate_on_submit():
        return _page(found), 400
    try:
        accepted = operations.accept(
            db(),
            protocol_library(),
            request_id,
            current_user.actor,
            expected_version=_version(form.version.data),
            clock=request_clock(),
        )
    except RuleBroken:
        flash(
            _(
                "An organization of this name is already in the directory: decline the request, "
                "with the reason that it is already in Maillage."
            ),
            "error",
        )
    except team.TeamProblem as problem:
        flash(problem_message(problem.code), "error")
    except ConcurrentUpdate:
        flash(_("Someone answered this request meanwhile: here it is as it stands now."), "error")
    except ReferralError:
        flash(_("This request has already been answered."), "error")
    else:
        flash(
            _(
                "Request accepted: the organization is in the directory and its coordinator "
                "was invited by email."
            ),
            "success",
        )
        return redirect(url_for("join_requests.request_page", request_id=accepted.id), code=303)
    return redirect(url_for("join_requests.request_page", request_id=request_id), code=303)


@blueprint.route("/join-requests/<int:request_id>/decline", methods=["POST"])
@login_required
@regional_admin_only
@fresh_authentication_required
def decline(request_id: int) -> str | Response | tuple[str, int]:
    found = _request(request_id)
    form = _decline_form()
    if not form.validate_on_submit():
        return _page(found, decline_form=form), 400
    try:
        operations.decline(
            db(),
            protocol_library(),
            request_id,
            current_user.actor,
            reason=form.reason.data,
            comment=form.comment.data,
            expected_version=_version(form.version.data),
            clock=request_clock(),
        )
    except ConcurrentUpdate:
        flash(_("Someone answered this request meanwhile: here it is as it stands now."), "error")
    except ReferralError as error:
        if getattr(error, "guard", None) == "comment_given":
            form.comment.errors.append(_("Explain the reason in a message to the organization."))
            return _page(_request(request_id), decline_form=form), 400
        flash(_("This request has already been answered."), "error")
    else:
        flash(_("Request declined: the organization was told the reason by email."), "success")
    return redirect(url_for("join_requests.request_page", request_id=request_id), code=303)


@blueprint.route("/join-requests/add-organization", methods=["GET", "POST"])
@login_required
@regional_admin_only
@fresh_authentication_required
def add_member() -> str | Response:
    """The regional admin adds an organization and invites its first coordinator, in one commit."""
    form = NewMemberForm()
    if form.validate_on_submit():
        session, now = db(), request_clock()
        try:
            organization = add_organization(
                session,
                current_user.actor,
                OrganizationDetails(
                    name=form.organization_name.data, mandate=form.mandate.data, territory=form.territory.data
                ),
                clock=now,
            )
            invited = team.add_invitation(
                session,
                current_user.actor,
                organization.id,
                name=form.coordinator_name.data,
                email=form.coordinator_email.data,
                role=Role.COORDINATOR,
                language=form.language.data,
                clock=now,
            )
            session.commit()
        except RuleBroken:
            session.rollback()
            form.organization_name.errors.append(
                _("An organization of this name is already in the directory.")
            )
        except team.TeamProblem as problem:
            session.rollback()
            target = form.coordinator_email if problem.code in ("email_taken", "bad_email") else None
            (target.errors if target is not None else form.form_errors).append(problem_message(problem.code))
        else:
            flash(
                _(
                    "%(organization)s is in the directory; its coordinator was invited "
                    "at %(email)s (72 hours).",
                    organization=organization.name,
                    email=invited.email,
                ),
                "success",
            )
            return redirect(url_for("directory.organization", organization_id=organization.id), code=303)
    return render_template("join_requests/add_member.html", form=form)


# Helpers --------------------------------------------------------------------------------------------


def _protocol() -> Any:
    return protocol_library().get(operations.PROTOCOL)


def _request(request_id: int) -> JoinRequest:
    found = db().get(JoinRequest, request_id)
    if found is None:
        abort(404)
    return found


def _version(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _decline_form() -> DeclineForm:
    form = DeclineForm()
    protocol = _protocol()
    language = str(get_locale() or "fr")
    form.reason.choices = [
        (code, reason.en if language == "en" else reason.fr)
        for code, reason in protocol.reasons["decline"].items()
    ]
    return form


def _page(found: JoinRequest, decline_form: DeclineForm | None = None) -> str:
    session = db()
    events = list(
        session.scalars(
            select(JoinRequestEvent)
            .where(JoinRequestEvent.join_request_id == found.id)
            .order_by(JoinRequestEvent.seq)
        )
    )
    protocol = protocol_library().get(found.protocol_name, found.protocol_version)
    decline_form = decline_form or _decline_form()
    decline_form.version.data = str(found.version)
    accept_form = AcceptForm(version=str(found.version))
    language = str(get_locale() or "fr")
    return render_template(
        "join_requests/request.html",
        request_=found,
        events=events,
        protocol=protocol,
        language=language,
        accept_form=accept_form,
        decline_form=decline_form,
        organization=session.get(Organization, found.organization_id) if found.organization_id else None,
        invited=session.get(User, found.invited_user_id) if found.invited_user_id else None,
        reason_label=lambda event: operations.reason_label(protocol, event, language),
    )

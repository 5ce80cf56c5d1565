"""The team page ("Équipe"): a coordinator sees her organization's accounts and changes them.

Views parse and call one operation of `service.accounts.team`, which holds the rules. Every
change, and inviting, asks her to have confirmed who she is within the last minutes: opening a
member's page asks it once, and each action checks again.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response

from service.accounts import team
from service.accounts.forms import ActionForm
from service.accounts.mfa import mfa_required
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.reauth import fresh_authentication_required
from service.accounts.team_forms import InviteForm
from service.accounts.team_forms import RoleForm
from service.web.access import roles_only
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("team", __name__, url_prefix="/team")

COORDINATORS = (Role.COORDINATOR,)


def problem_message(code: str) -> str:
    """The French (or English) words for a refused change, from its code."""
    messages = {
        "last_coordinator": _(
            "You are the last active coordinator of your organization: give the coordinator role to "
            "someone else first, then you can change your own role or close your account."
        ),
        "email_taken": _("This email already belongs to a Maillage account. Use another email address."),
        "bad_email": _("This email address is not valid: check it."),
        "unknown_role": _("Choose one of the roles offered."),
        "unknown_language": _("Choose French or English."),
        "invitation_pending": _(
            "She has not accepted her invitation yet: there is nothing to reactivate. Invite her again "
            "if her invitation expired."
        ),
        "no_organization": _("Only a member of an organization can invite to its team."),
        "already_accepted": _("She has already accepted her invitation."),
    }
    return messages.get(code, _("This change is not possible."))


def _member(user_id: int) -> User:
    """The account, in her organization; a 404 for any other organization's."""
    try:
        return team.member(db(), current_user.actor, user_id)
    except team.MemberNotFound:
        abort(404)


@blueprint.route("")
@login_required
@roles_only(COORDINATORS)
def index() -> str:
    members = team.team_of(db(), current_user.organization_id)
    return render_template("team/index.html", members=members)


@blueprint.route("/invite", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def invite() -> str | Response:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invited = team.invite(
                db(),
                current_user.actor,
                name=form.name.data,
                email=form.email.data,
                role=form.role.data,
                language=form.language.data,
                clock=request_clock(),
            )
        except team.TeamProblem as problem:
            target = form.email if problem.code in ("email_taken", "bad_email") else None
            (target.errors if target is not None else form.form_errors).append(problem_message(problem.code))
        else:
            flash(_("Invitation sent to %(email)s. It works for 72 hours.", email=invited.email), "success")
            return redirect(url_for("team.index"), code=303)
    return render_template("team/invite.html", form=form)


@blueprint.route("/<int:user_id>")
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def member(user_id: int) -> str:
    user = _member(user_id)
    return render_template(
        "team/member.html",
        user=user,
        invited=team.is_invited(user),
        itself=user.id == current_user.user_id,
        role_form=RoleForm(role=user.role),
        action=ActionForm(),
        mfa_required=mfa_required(user.role),
    )


def _act(user_id: int, change: Callable[[], str]) -> Response:
    """Run a change on a member; back to her page, with the outcome or why not. A GET (back from a
    confirmation) changes nothing: the page shows the button again."""
    _member(user_id)
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            message = change()
        except team.TeamProblem as problem:
            flash(problem_message(problem.code), "error")
        else:
            flash(message, "success")
            if user_id == current_user.user_id:
                # Her own role or account changed: the team page may no longer be hers.
                return redirect(url_for("referrals.dashboard"), code=303)
    return redirect(url_for("team.member", user_id=user_id), code=303)


@blueprint.route("/<int:user_id>/role", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def change_role(user_id: int) -> Response:
    form = RoleForm()

    def change() -> str:
        if not form.validate():
            raise team.TeamProblem("unknown_role")
        team.change_role(db(), current_user.actor, user_id, form.role.data, clock=request_clock())
        return _("Role changed. She is told by email.")

    return _act(user_id, change)


@blueprint.route("/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def deactivate(user_id: int) -> Response:
    def change() -> str:
        team.deactivate(db(), current_user.actor, user_id, clock=request_clock())
        return _("Account deactivated: she is signed out everywhere and can no longer sign in.")

    return _act(user_id, change)


@blueprint.route("/<int:user_id>/reactivate", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def reactivate(user_id: int) -> Response:
    def change() -> str:
        team.reactivate(db(), current_user.actor, user_id, clock=request_clock())
        return _("Account reactivated: she can sign in again. She is told by email.")

    return _act(user_id, change)


@blueprint.route("/<int:user_id>/reset-two-step", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def reset_two_step(user_id: int) -> Response:
    def change() -> str:
        team.reset_two_step(db(), current_user.actor, user_id, clock=request_clock())
        return _("Two-step sign-in reset: she sets it up again at her next sign-in. She is told by email.")

    return _act(user_id, change)


@blueprint.route("/<int:user_id>/invite-again", methods=["GET", "POST"])
@login_required
@roles_only(COORDINATORS)
@fresh_authentication_required
def invite_again(user_id: int) -> Response:
    def change() -> str:
        invited = team.invite_again(db(), current_user.actor, user_id, clock=request_clock())
        return _("Invitation sent to %(email)s. It works for 72 hours.", email=invited.email)

    return _act(user_id, change)

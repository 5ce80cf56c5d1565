"""Signing in and out."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from werkzeug.wrappers import Response

from service.accounts.current import SignedIn
from service.accounts.forms import SignInForm
from service.accounts.operations import SessionLimits
from service.accounts.operations import active_sessions
from service.accounts.operations import authenticate
from service.accounts.operations import end_session
from service.accounts.operations import end_session_of
from service.accounts.operations import session_user
from service.accounts.operations import start_session
from service.accounts.operations import token_hash
from service.extensions import limiter
from service.extensions import login_manager
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(token: str) -> SignedIn | None:
    limits = SessionLimits(
        idle=timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["SESSION_MAX_HOURS"]),
    )
    found = session_user(db(), token, request_clock(), limits)
    return SignedIn.of(found[1], token) if found else None


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def sign_in() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("referrals.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        user = authenticate(db(), form.email.data, form.password.data)
        if user is None:
            form.form_errors.append(_("Email or password is wrong."))
        else:
            # A fresh cookie and a fresh server-side session: nothing from before sign-in survives.
            session.clear()
            login_user(SignedIn.of(user, start_session(db(), user, request_clock())))
            return redirect(url_for("referrals.dashboard"))
    return render_template("auth/sign_in.html", form=form)


@blueprint.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    end_session(db(), current_user.token, request_clock())
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@blueprint.route("/account/sessions")
@login_required
def sessions() -> str:
    """Where she is signed in, so she can end a session left open on another computer."""
    rows = active_sessions(db(), current_user.user_id)
    this_one = token_hash(current_user.token)
    return render_template("auth/sessions.html", rows=rows, this_one=this_one)


@blueprint.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_other_session(session_id: int) -> Response:
    if end_session_of(db(), current_user.user_id, session_id, request_clock()):
        flash(_("That session is ended."), "success")
    return redirect(url_for("auth.sessions"), code=303)

"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint
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
from service.accounts.operations import authenticate
from service.accounts.operations import end_session
from service.accounts.operations import session_user
from service.accounts.operations import start_session
from service.extensions import limiter
from service.extensions import login_manager
from service.web.database import db

blueprint = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(token: str) -> SignedIn | None:
    found = session_user(db(), token)
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
            login_user(SignedIn.of(user, start_session(db(), user)))
            return redirect(url_for("referrals.dashboard"))
    return render_template("auth/sign_in.html", form=form)


@blueprint.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    end_session(db(), current_user.token)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))

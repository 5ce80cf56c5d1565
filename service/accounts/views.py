"""Signing in (with a second step for whoever has MFA) and out, her sessions, her second factor,
and confirming who she is before a sensitive act."""

from __future__ import annotations

from datetime import timedelta

import qrcode
import qrcode.image.svg
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from werkzeug.wrappers import Response

from service.accounts import attempts
from service.accounts.current import SignedIn
from service.accounts.forms import ActionForm
from service.accounts.forms import CodeForm
from service.accounts.forms import ConfirmForm
from service.accounts.forms import EnrolForm
from service.accounts.forms import PasswordForm
from service.accounts.forms import SignInForm
from service.accounts.mfa import MfaProblem
from service.accounts.mfa import check_second_factor
from service.accounts.mfa import confirm_enrolment
from service.accounts.mfa import mfa_required
from service.accounts.mfa import new_recovery_codes
from service.accounts.mfa import provisioning_uri
from service.accounts.mfa import remaining_recovery_codes
from service.accounts.mfa import remove_mfa
from service.accounts.mfa import start_enrolment
from service.accounts.models import User
from service.accounts.operations import SessionLimits
from service.accounts.operations import active_sessions
from service.accounts.operations import actor_of
from service.accounts.operations import change_password
from service.accounts.operations import check_sign_in
from service.accounts.operations import confirm_identity
from service.accounts.operations import end_session
from service.accounts.operations import end_session_of
from service.accounts.operations import reauthenticate
from service.accounts.operations import session_user
from service.accounts.operations import start_session
from service.accounts.operations import token_hash
from service.accounts.passwords import MIN_LENGTH
from service.accounts.reauth import fresh_authentication_required
from service.accounts.reauth import local_target
from service.audit.operations import audit
from service.extensions import limiter
from service.extensions import login_manager
from service.web import quota
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import too_many_attempts
from service.web.errors import waiting_time
from service.web.health import MACHINE_BLUEPRINTS

blueprint = Blueprint("auth", __name__)

SIGN_IN_LIMIT = "10 per minute; 50 per hour"
# Between the password and the code: how long she has, and how many wrong codes before starting over.
PENDING = "mfa_pending"
PENDING_FOR = timedelta(minutes=5)
# Wrong codes per password step: counted in the step's signed cookie, which someone who
# knows the password can replay or get again; so each account also has its own count of
# codes tried, kept on the server, that no cookie resets.
MAX_CODE_TRIES = 5
CODES_PER_ACCOUNT = "10 per 15 minutes"
# Where someone whose role requires MFA may go before she has enrolled.
ENROLMENT_ENDPOINTS = frozenset(
    {"static", "auth.sign_in", "auth.sign_out", "auth.mfa_setup", "auth.mfa_qr", "auth.confirm"}
)


@login_manager.user_loader
def load_user(token: str) -> SignedIn | None:
    limits = SessionLimits(
        idle=timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["SESSION_MAX_HOURS"]),
    )
    found = session_user(db(), token, request_clock(), limits)
    return SignedIn.of(found[1], token, found[0].authenticated_at) if found else None


@blueprint.before_app_request
def require_mfa_enrolment() -> Response | None:
    """A coordinator, privacy officer or regional admin without a second factor sets one up first."""
    if request.endpoint is None or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    if request.blueprint == "api":
        return None  # a key acts there, not the person the cookie names: nothing to send her to
    if request.blueprint in MACHINE_BLUEPRINTS:
        return None  # probes and metrics: no cookie read
    if current_user.is_authenticated and current_user.must_enrol_in_mfa:
        return redirect(url_for("auth.mfa_setup"))
    return None


def _audit(action: str, user: User) -> None:
    audit(db(), action, actor_of(user), request_clock()())
    db().commit()


def _signed_in(user: User) -> Response:
    """Both factors proved: a fresh cookie and a fresh server-side session; nothing from before survives."""
    session.clear()
    now = request_clock()()
    login_user(SignedIn.of(user, start_session(db(), user, request_clock()), now))
    _audit("sign_in.succeeded", user)
    return redirect(url_for("referrals.dashboard"))


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def sign_in() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("referrals.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        wait = attempts.admit(form.email.data)
        if wait:
            delay = waiting_time(wait)
            return too_many_attempts(
                wait,
                _("Too many attempts for this email address: wait %(delay)s, then try again.", delay=delay),
            )
        user = check_sign_in(db(), form.email.data, form.password.data, request_clock())
        if user is None:
            form.form_errors.append(_("Email or password is wrong."))
            return render_template("auth/sign_in.html", form=form)
        attempts.succeeded(form.email.data)
        return password_proved(user)
    return render_template("auth/sign_in.html", form=form)


def password_proved(user: User) -> Response:
    """Her password is proved (typed, or just set through an emailed link): signed in, or first
    asked for her code where she has two-step sign-in."""
    if user.mfa_enrolled:
        session.clear()
        session[PENDING] = {"user_id": user.id, "since": request_clock()().timestamp(), "tries": 0}
        return redirect(url_for("auth.sign_in_code"))
    return _signed_in(user)


def _pending_user() -> User | None:
    """Whose password was right a moment ago in this browser, waiting for her code."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if request_clock()().timestamp() - pending.get("since", 0) > PENDING_FOR.total_seconds():
        return None
    user = db().get(User, pending.get("user_id"))
    return user if user is not None and user.active and user.mfa_enrolled else None


@blueprint.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def sign_in_code() -> str | Response:
    """The second step: the code of her app, or one of her recovery codes."""
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash(_("Sign in again: the code was not entered in time."), "error")
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        # Counted before the code is checked: past the account's quota, no guess is even looked at.
        if not quota.within(CODES_PER_ACCOUNT, "sign-in-code", str(user.id)):
            session.pop(PENDING, None)
            flash(_("Too many codes tried for this account: wait 15 minutes, then sign in again."), "error")
            return redirect(url_for("auth.sign_in"))
        method = check_second_factor(db(), user, form.code.data, request_clock())
        if method == "recovery_code":
            _audit("sign_in.recovery_code_used", user)
        if method is not None:
            return _signed_in(user)
        _audit("sign_in.code_failed", user)
        tries = session[PENDING]["tries"] + 1
        if tries >= MAX_CODE_TRIES:
            session.pop(PENDING, None)
            flash(_("Too many wrong codes: sign in again."), "error")
            return redirect(url_for("auth.sign_in"))
        session[PENDING] = {**session[PENDING], "tries": tries}
        form.code.errors.append(_("This code is wrong or was already used."))
    return render_template("auth/sign_in_code.html", form=form)


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


@blueprint.route("/account/confirm", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
@login_required
def confirm() -> str | Response:
    """Her password again (and her code, with MFA) before a sensitive act; then back where she was."""
    target = local_target(request.args.get("next")) or url_for("referrals.dashboard")
    user = db().get(User, current_user.user_id)
    form = ConfirmForm()
    if not user.mfa_enrolled:
        del form.code
    if form.validate_on_submit():
        code = form.code.data if user.mfa_enrolled else None
        if reauthenticate(db(), user, current_user.token, form.password.data, code, request_clock()):
            return redirect(target, code=303)
        form.form_errors.append(
            _("Password or code is wrong.") if user.mfa_enrolled else _("The password is wrong.")
        )
    return render_template("auth/confirm.html", form=form)


@blueprint.route("/account/mfa")
@login_required
def mfa() -> str:
    """Her second factor: whether she has one, her recovery codes left, and what she can change."""
    user = db().get(User, current_user.user_id)
    return render_template(
        "auth/mfa.html",
        user=user,
        required=mfa_required(user.role),
        remaining=remaining_recovery_codes(db(), user) if user.mfa_enrolled else 0,
        form=ActionForm(),
    )


@blueprint.route("/account/mfa/setup", methods=["GET", "POST"])
@login_required
@fresh_authentication_required
def mfa_setup() -> str | Response:
    """Enrolling: the secret as text and QR code, then a first code from her app proves it works."""
    user = db().get(User, current_user.user_id)
    if user.mfa_enrolled:
        return redirect(url_for("auth.mfa"))
    secret = start_enrolment(db(), user)
    form = EnrolForm()
    if form.validate_on_submit():
        codes = confirm_enrolment(db(), user, form.code.data, request_clock())
        if codes is not None:
            # Typing the code was a proof of both factors: no confirmation asked again for a while.
            confirm_identity(db(), current_user.token, request_clock())
            _audit("mfa.enrolled", user)
            flash(_("Two-step sign-in is on."), "success")
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors.append(
            _("This code is wrong. Check that your phone shows the right time, then try again.")
        )
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/mfa_setup.html", form=form, secret=grouped, required=mfa_required(user.role))


@blueprint.route("/account/mfa/qr.svg")
@login_required
def mfa_qr() -> Response:
    """The QR code of the enrolment under way, as an image (no inline script or style in the page)."""
    user = db().get(User, current_user.user_id)
    if user.mfa_enrolled or user.totp_secret is None:
        abort(404)
    image = qrcode.make(provisioning_uri(user), image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return Response(image.to_string(), mimetype="image/svg+xml")


@blueprint.route("/account/mfa/recovery-codes", methods=["GET", "POST"])
@login_required
@fresh_authentication_required
def mfa_recovery_codes() -> str | Response:
    """Ten new recovery codes; the old ones stop working. (GET: back from a confirmation.)"""
    user = db().get(User, current_user.user_id)
    if request.method == "GET" or not user.mfa_enrolled or not ActionForm().validate_on_submit():
        return redirect(url_for("auth.mfa"))
    codes = new_recovery_codes(db(), user, request_clock())
    _audit("mfa.recovery_codes_renewed", user)
    return render_template("auth/recovery_codes.html", codes=codes)


@blueprint.route("/account/mfa/remove", methods=["GET", "POST"])
@login_required
@fresh_authentication_required
def mfa_remove() -> Response:
    """She turns two-step sign-in off, where her role allows it. (GET: back from a confirmation.)"""
    user = db().get(User, current_user.user_id)
    if request.method == "POST" and user.mfa_enrolled and ActionForm().validate_on_submit():
        try:
            remove_mfa(db(), user)
        except MfaProblem:
            flash(_("Your role requires two-step sign-in: it cannot be turned off."), "error")
        else:
            _audit("mfa.removed", user)
            flash(_("Two-step sign-in is off."), "info")
    return redirect(url_for("auth.mfa"), code=303)


@blueprint.route("/account/password", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
@login_required
def password() -> str | Response:
    """She changes her password; her other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = db().get(User, current_user.user_id)
        problem = change_password(
            db(), user.id, form.current.data, form.new.data, current_user.token, request_clock()
        )
        if problem is None:
            _audit("password.changed", user)
            flash(_("Your password is changed; your other sessions are ended."), "success")
            return redirect(url_for("auth.sessions"), code=303)
        if problem == "wrong_password":
            form.current.errors.append(_("The password is wrong."))
        elif problem == "too_short":
            form.new.errors.append(_("At least %(length)d characters.", length=MIN_LENGTH))
        else:
            form.new.errors.append(
                _(
                    "This password is common or has leaked, or is too close to one (or to your name or "
                    "email). Choose another: a sentence of several words is easy to remember."
                )
            )
    return render_template("auth/password.html", form=form, min_length=MIN_LENGTH)

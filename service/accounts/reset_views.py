"""The pages of a forgotten password: asking for a link, and choosing a new password through it."""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from service.accounts import attempts
from service.accounts.forms import ForgotPasswordForm
from service.accounts.forms import NewPasswordForm
from service.accounts.password_reset import LIFETIME
from service.accounts.password_reset import UNUSABLE
from service.accounts.password_reset import account_of_link
from service.accounts.password_reset import request_reset
from service.accounts.password_reset import reset_password
from service.accounts.passwords import MIN_LENGTH
from service.accounts.views import SIGN_IN_LIMIT
from service.accounts.views import password_proved
from service.extensions import limiter
from service.web import quota
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import too_many_attempts
from service.web.errors import waiting_time

blueprint = Blueprint("password_reset", __name__)

# Per network address (Flask-Limiter): requests for links, whatever the emails typed.
REQUESTS_PER_ADDRESS = "5 per minute; 20 per hour"
# Per email typed, counted whether an account has it or not, so that a refusal tells nothing of the
# accounts; accounts are found by the same spelling (trimmed, lower case), so this is also the limit
# per account. Low: each request may send her an email.
REQUESTS_PER_EMAIL = ("3 per 15 minutes", "6 per hour")
EMAIL_SCOPE = "password-reset-email"
# Opening links: as for signed links, guessing a token of 256 bits is hopeless, but it costs nothing.
OPENINGS_PER_ADDRESS = "30 per minute"


@blueprint.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(REQUESTS_PER_ADDRESS, methods=["POST"])
def forgot() -> str | Response | tuple[str, int, dict[str, str]]:
    """She enters her email; the answer is the same whether an account has it or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        key = _email_key(form.email.data)
        for rate in REQUESTS_PER_EMAIL:
            if not quota.within(rate, EMAIL_SCOPE, key):
                wait = quota.wait(rate, EMAIL_SCOPE, key)
                message = _(
                    "Too many requests for this email address: wait %(delay)s, then try again.",
                    delay=waiting_time(wait),
                )
                return too_many_attempts(wait, message)
        request_reset(db(), form.email.data, clock=request_clock())
        return redirect(url_for("password_reset.sent"), code=303)
    return render_template("auth/forgot.html", form=form)


@blueprint.route("/password/forgot/sent")
def sent() -> str:
    hours = int(LIFETIME.total_seconds() // 3600)
    return render_template("auth/forgot_sent.html", hours=hours)


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(OPENINGS_PER_ADDRESS, methods=["GET"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def reset(token: str) -> str | Response | tuple[str, int]:
    """Opening the link shows the form and changes nothing (mail scanners open links); sending the
    form uses the link up, sets the password, ends her sessions, then signs her in (her code first
    where she has two-step sign-in)."""
    user = account_of_link(db(), token, clock=request_clock())
    if user is None:
        return _unusable()
    form = NewPasswordForm()
    if form.validate_on_submit():
        outcome = reset_password(db(), token, form.new.data, clock=request_clock())
        if outcome == UNUSABLE:
            return _unusable()
        if outcome == "too_short":
            form.new.errors.append(_("At least %(length)d characters.", length=MIN_LENGTH))
        elif isinstance(outcome, str):
            form.new.errors.append(
                _(
                    "This password is common or has leaked, or is too close to one (or to your name or "
                    "email). Choose another: a sentence of several words is easy to remember."
                )
            )
        else:
            attempts.succeeded(outcome.email)  # earlier wrong guesses no longer hold her back
            return password_proved(outcome)
    return render_template("auth/reset.html", form=form, min_length=MIN_LENGTH)


def _unusable() -> tuple[str, int]:
    hours = int(LIFETIME.total_seconds() // 3600)
    return render_template("auth/reset_unusable.html", hours=hours), 404


def _email_key(email: str) -> str:
    """The email as accounts are found by it, under a keyed hash: the count's storage holds no address."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, email.strip().lower().encode(), hashlib.sha256).hexdigest()

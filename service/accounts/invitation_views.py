"""The page an invitation's link leads to: she chooses her password, then she is signed in.

Opening it (a GET, as mail scanners do) only reads the invitation and shows the form; the form's
POST uses it up. The token is the key to an account: like a signed link's page, every answer
keeps it here (no referrer, no cache, nothing loaded from elsewhere), and logs mask it.
"""

from __future__ import annotations

from contextlib import nullcontext

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import login_user
from werkzeug.wrappers import Response

from service.accounts import team
from service.accounts.current import SignedIn
from service.accounts.mfa import mfa_required
from service.accounts.operations import start_session
from service.accounts.passwords import MIN_LENGTH
from service.accounts.team_forms import AcceptForm
from service.extensions import limiter
from service.web.clock import request_clock
from service.web.database import db
from service.web.locale import COOKIE
from service.web.locale import LANGUAGES

blueprint = Blueprint("invitation", __name__, url_prefix="/invitation")

RATE = "30 per minute"


@blueprint.after_request
def keep_the_token_here(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    )
    return response


def _language(invitee_language: str | None) -> str | None:
    """Her invitation's language, unless this browser chose one (`?lang=`, or remembered)."""
    if request.args.get("lang") in LANGUAGES or request.cookies.get(COOKIE) in LANGUAGES:
        return None
    return invitee_language if invitee_language in LANGUAGES else None


@blueprint.route("/<token>", methods=["GET", "POST"])
@limiter.limit(RATE)
def page(token: str) -> str | Response | tuple[str, int]:
    found = team.open_invitation(db(), token, clock=request_clock())
    if found.user is None:
        # Said in French, the network's language: we may not know whose invitation it was.
        with force_locale("fr"):
            page = render_template("team/invitation_unusable.html", found=found)
        return page, 404 if found.unusable == "unknown" else 410
    language = _language(found.user.language)
    with force_locale(language) if language else nullcontext():
        return _accept(token, found)


def _accept(token: str, found: team.InvitationPage) -> str | Response:
    form = AcceptForm()
    if request.method == "POST" and form.validate():
        outcome = team.accept_invitation(db(), token, form.password.data, clock=request_clock())
        if outcome == "unusable":
            return redirect(request.path, code=303)
        if isinstance(outcome, str):
            form.password.errors.append(_weakness(outcome))
        else:
            session.clear()
            now = request_clock()()
            login_user(SignedIn.of(outcome, start_session(db(), outcome, request_clock()), now))
            # Where her role requires a second factor, the next page sends her to set it up.
            return redirect(url_for("referrals.dashboard"), code=303)
    return render_template(
        "team/invitation.html",
        form=form,
        invited=found.user,
        organization=found.organization,
        min_length=MIN_LENGTH,
        two_step=mfa_required(found.user.role),
    )


def _weakness(code: str) -> str:
    if code == "too_short":
        return _("At least %(length)d characters.", length=MIN_LENGTH)
    return _(
        "This password is common or has leaked, or is too close to one (or to your name or "
        "email). Choose another: a sentence of several words is easy to remember."
    )

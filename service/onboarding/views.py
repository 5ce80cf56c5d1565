"""The onboarding checklist on a coordinator's dashboard, and hiding it.

Hidden per person and per browser by a cookie that says nothing but her account's number: nothing
is stored about the checklist itself, which is computed at each visit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response

from service.accounts.forms import ActionForm
from service.onboarding.checklist import Checklist
from service.onboarding.checklist import checklist
from service.web.database import db

blueprint = Blueprint("onboarding", __name__, url_prefix="/onboarding")

HIDDEN_COOKIE = "maillage_onboarding_hidden"
HIDDEN_FOR = 365 * 24 * 3600


def _hidden_for() -> set[str]:
    return set(filter(None, request.cookies.get(HIDDEN_COOKIE, "").split(".")))


@blueprint.app_context_processor
def onboarding() -> dict[str, Any]:
    def onboarding_checklist() -> Checklist | None:
        """The checklist to show this person now, or None: coordinators, until done or hidden."""
        if not current_user.is_authenticated or not current_user.is_coordinator:
            return None
        if current_user.organization_id is None or str(current_user.user_id) in _hidden_for():
            return None
        found = checklist(db(), current_user.organization_id, current_user.user_id)
        return None if found.complete else found

    return {"onboarding_checklist": onboarding_checklist, "onboarding_form": ActionForm}


@blueprint.route("/hide", methods=["POST"])
@login_required
def hide() -> Response:
    response = redirect(url_for("referrals.dashboard"), code=303)
    if ActionForm().validate_on_submit():
        hidden = _hidden_for() | {str(current_user.user_id)}
        response.set_cookie(
            HIDDEN_COOKIE,
            ".".join(sorted(hidden)),
            max_age=HIDDEN_FOR,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response

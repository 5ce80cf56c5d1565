"""The page where a caseworker records that no organization fits her needs ("Aucune ressource trouvée").

Reached from the intake form with the needs ticked so far in the address
(need codes only: nothing about her); it records the needs, a territory and
a clientele and sends nothing to anyone.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import select

from service.directory.models import Need
from service.referrals.operations import MAY_OPEN
from service.unmet_needs import queries
from service.unmet_needs.forms import UnmetNeedForm
from service.unmet_needs.operations import UnmetNeedRefused
from service.unmet_needs.operations import record_unmet_need
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale

blueprint = Blueprint("unmet_needs", __name__, url_prefix="/unmet-needs")


@blueprint.before_request
@login_required
def caseworkers_only() -> None:
    if current_user.role not in MAY_OPEN or current_user.organization_id is None:
        abort(403)


@blueprint.route("/new", methods=["GET", "POST"])
def new() -> str | Response:
    session = db()
    english = current_locale() == "en"
    needs = sorted(
        (
            (n.code, n.label_en if english else n.label_fr)
            for n in session.scalars(select(Need).where(Need.active))
        ),
        key=lambda choice: choice[1].casefold(),
    )
    form = UnmetNeedForm()
    form.offer(
        needs, queries.directory_values(session, "territory"), queries.directory_values(session, "clienteles")
    )
    if request.method == "GET":
        form.needs.data = [code for code in request.args.getlist("need") if code in dict(needs)]
    elif form.validate_on_submit():
        try:
            record_unmet_need(
                session,
                current_user.actor,
                form.needs.data,
                territory=form.territory.data or "",
                clientele=form.clientele.data or "",
                clock=request_clock(),
            )
        except UnmetNeedRefused:
            form.needs.errors = [*form.needs.errors, _("Tick at least one need of the list.")]
        else:
            flash(_("The unmet need is recorded. Nothing was sent to anyone."), "success")
            return redirect(url_for("referrals.dashboard"), 303)
    return render_template("unmet_needs/new.html", form=form), 400 if form.errors else 200

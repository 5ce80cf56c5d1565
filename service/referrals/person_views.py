"""Her rights, as her organization answers them: its coordinator or its privacy officer finds her,
shows or exports her file; the coordinator corrects her details or erases them.

A name is searched by POST and never put in an address: addresses carry only
referral numbers. Export and erasure ask the coordinator to confirm who she
is first (`fresh_authentication_required`).
"""

from __future__ import annotations

import json

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

from service.accounts.reauth import fresh_authentication_required
from service.errors import ConcurrentUpdate
from service.protocols import protocol_library
from service.referrals.operations import read_person
from service.referrals.person_rights import MAY_ANSWER
from service.referrals.person_rights import MAY_CHANGE
from service.referrals.person_rights import StillOpen
from service.referrals.person_rights import as_json
from service.referrals.person_rights import correct_person
from service.referrals.person_rights import erase_person
from service.referrals.person_rights import find_person
from service.referrals.person_rights import own_referrals
from service.referrals.person_rights import person_file
from service.referrals.queries import referral_page
from service.referrals.rights_forms import CorrectionForm
from service.referrals.rights_forms import ErasureForm
from service.referrals.rights_forms import PersonSearchForm
from service.web.access import roles_only
from service.web.clock import request_clock
from service.web.database import db
from service.web.inputs import is_row_id
from service.web.templating import current_locale

blueprint = Blueprint("person", __name__)


answering = roles_only(MAY_ANSWER)
coordinators_only = roles_only(MAY_CHANGE)


def _chosen() -> list[int]:
    """The referral numbers of the address (`?referral=3&referral=8`); 400 when there are none."""
    chosen = request.args.getlist("referral", type=int)
    if not chosen:
        abort(400)
    if not all(is_row_id(number) for number in chosen):
        abort(404)  # as for a referral that does not exist: the database could not even look
    return sorted(set(chosen))


@blueprint.route("/people", methods=["GET", "POST"])
@login_required
@answering
def search() -> str:
    """Find the referrals about her among those her organization sent."""
    form = PersonSearchForm()
    matches = None
    if form.validate_on_submit():
        matches = find_person(
            db(),
            protocol_library(),
            current_user.actor,
            number=form.number.data,
            name=form.name.data or "",
            language=current_locale(),
            clock=request_clock(),
        )
    return render_template("person/search.html", form=form, matches=matches)


@blueprint.route("/people/file")
@login_required
@answering
def show() -> str:
    """Everything Maillage holds about her on the referrals chosen, as a page."""
    chosen = _chosen()
    file = person_file(
        db(), protocol_library(), current_user.actor, chosen, language=current_locale(), clock=request_clock()
    )
    may_change = current_user.role in MAY_CHANGE
    return render_template("person/file.html", file=file, chosen=chosen, may_change=may_change)


@blueprint.route("/people/file.json")
@login_required
@answering
@fresh_authentication_required
def export() -> Response:
    """The same, as a JSON file to hand her (portability)."""
    chosen = _chosen()
    file = person_file(
        db(),
        protocol_library(),
        current_user.actor,
        chosen,
        export=True,
        language=current_locale(),
        clock=request_clock(),
    )
    body = json.dumps(as_json(file), ensure_ascii=False, indent=2)
    # Numbers only in the file's name, like everywhere else.
    name = "maillage-" + "-".join(str(number) for number in chosen) + ".json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.route("/people/referrals/<int:referral_id>/correct", methods=["GET", "POST"])
@login_required
@coordinators_only
def correct(referral_id: int) -> str | Response:
    """Correct her details on one referral, as she asks."""
    page = referral_page(
        db(),
        protocol_library(),
        referral_id,
        current_user.actor,
        language=current_locale(),
        now=request_clock()(),
    )
    if "sender" not in page.parties:
        abort(404)
    if request.method == "GET":
        person = read_person(db(), referral_id, current_user.actor, clock=request_clock())
        if person is None:
            abort(404)
        form = CorrectionForm(formdata=None, data={**person.__dict__, "version": page.referral.version})
    else:
        form = CorrectionForm()
    if form.validate_on_submit():
        try:
            correct_person(
                db(),
                referral_id,
                current_user.actor,
                form.person(),
                expected_version=form.version.data,
                clock=request_clock(),
            )
        except ConcurrentUpdate:
            flash(_("This referral changed in the meantime; here is its current state."), "error")
            return redirect(url_for("referrals.show", referral_id=referral_id), 303)
        flash(_("Her details on referral no. %(number)s are corrected.", number=referral_id), "success")
        return redirect(url_for("person.show", referral=[referral_id]), 303)
    return render_template("person/correct.html", form=form, referral_id=referral_id)


@blueprint.route("/people/erase", methods=["GET", "POST"])
@login_required
@coordinators_only
@fresh_authentication_required
def erase() -> str | Response:
    """Erase her personal data from the referrals chosen, once confirmed."""
    chosen = _chosen()
    own_referrals(db(), current_user.actor, chosen)  # another organization's number: a 404, as elsewhere
    form = ErasureForm()
    if form.validate_on_submit():
        try:
            erase_person(db(), protocol_library(), current_user.actor, chosen, clock=request_clock())
        except StillOpen as error:
            numbers = ", ".join(str(number) for number in error.referral_ids)
            form.form_errors.append(
                _(
                    "Referrals still open: %(numbers)s. Cancel or close them first, then erase.",
                    numbers=numbers,
                )
            )
        else:
            flash(_("Her personal data is erased. The anonymized record stays."), "success")
            return redirect(url_for("person.search"), 303)
    return render_template("person/erase.html", form=form, chosen=chosen)

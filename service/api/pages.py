"""The API keys page: an organization's coordinator makes and revokes its keys.

A new key is shown once, on the page that answers the form (never in a URL,
a flash message or a log), then only its first characters.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length

from service.api.keys import create_key
from service.api.keys import keys_of
from service.api.keys import revoke_key
from service.errors import NotAllowed
from service.web.clock import request_clock
from service.web.database import db
from service.web.forms import Form

blueprint = Blueprint("api_keys", __name__, url_prefix="/organization/api-keys")


class KeyForm(Form):
    name = StringField(
        _l("What the key is for"),
        validators=[
            DataRequired(_l("Say what the key is for, e.g. the system that will use it.")),
            Length(max=100),
        ],
    )
    role = RadioField(
        _l("Rights of the key"),
        choices=[
            SelectChoice("caseworker", _l("A caseworker's: open and follow referrals")),
            SelectChoice("coordinator", _l("A coordinator's: also choose another protocol")),
        ],
        default="caseworker",
        validators=[InputRequired(_l("Choose the rights of the key."))],
    )


class RevokeForm(Form):
    """Only the CSRF token: the key is in the address."""


@blueprint.before_request
@login_required
def coordinators_only() -> None:
    if not current_user.is_coordinator or current_user.organization_id is None:
        abort(403)


def _page(form: KeyForm, token: str | None = None, status: int = 200) -> tuple[str, int]:
    keys = keys_of(db(), current_user.organization_id)
    return render_template("api/keys.html", form=form, revoke=RevokeForm(), keys=keys, token=token), status


@blueprint.get("/")
def index() -> tuple[str, int]:
    return _page(KeyForm())


@blueprint.post("/")
def create() -> tuple[str, int]:
    form = KeyForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    made = create_key(
        db(), current_user.actor, name=form.name.data, role=form.role.data, clock=request_clock()
    )
    return _page(KeyForm(formdata=None), token=made.token, status=201)


@blueprint.post("/<int:key_id>/revoke")
def revoke(key_id: int) -> Response:
    if not RevokeForm().validate_on_submit():
        abort(400)
    try:
        key = revoke_key(db(), current_user.actor, key_id, clock=request_clock())
    except NotAllowed:
        abort(404)
    flash(_("Key %(prefix)s… revoked: it no longer opens anything.", prefix=key.prefix), "success")
    return redirect(url_for("api_keys.index"), 303)

"""Downloads in open standards: a referral as FHIR R4 JSON, from its page."""

from __future__ import annotations

import json

from flask import Blueprint
from flask import abort
from flask import current_app
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response

from service.accounts.reauth import fresh_authentication_required
from service.protocols import protocol_library
from service.standards.fhir import NoFhirMapping
from service.standards.fhir import referral_as_fhir
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("standards", __name__)


@blueprint.route("/referrals/<int:referral_id>/fhir.json")
@login_required
@fresh_authentication_required  # her details leave Maillage in a file
def referral_fhir(referral_id: int) -> Response:
    """The referral as a FHIR R4 Bundle, for the two organizations party to it (audited)."""
    try:
        bundle = referral_as_fhir(
            db(), referral_id, current_user.actor, protocols=protocol_library(), clock=request_clock()
        )
    except NoFhirMapping:
        abort(404)
    response = current_app.response_class(
        json.dumps(bundle, ensure_ascii=False, indent=2), mimetype="application/fhir+json"
    )
    # A file to keep, named by number only: never her name in a file name.
    response.headers["Content-Disposition"] = f'attachment; filename="referral-{referral_id}.fhir.json"'
    return response

"""The audit trail, as coordinators read their organization's; and the audit of refused access.

There is no route that changes or deletes an entry: the trail is read here,
written only by the operations (`service.audit.operations.audit`).
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import abort
from flask import g
from flask import render_template
from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from service.audit.operations import audit
from service.audit.queries import PER_PAGE
from service.audit.queries import organization_audit
from service.privacy.operations import REGISTER_READERS
from service.referrals.models import Referral
from service.web.clock import request_clock
from service.web.database import db

log = logging.getLogger(__name__)

blueprint = Blueprint("audit", __name__)

# The people who answer for the organization's protection of personal information read its trail.
MAY_READ = REGISTER_READERS
# Every action the app writes to the trail, and what it means: the page's filter offers them all.
ACTIONS = {
    "access.refused": _l("Access refused"),
    "address_book.added": _l("Address book: person added"),
    "address_book.exported_csv": _l("Address book downloaded (CSV)"),
    "address_book.erased": _l("Address book: entry erased"),
    "address_book.exported_vcard": _l("Address book downloaded (vCard)"),
    "address_book.left": _l("Address book: person marked as having left"),
    "address_book.returned": _l("Address book: person back in the lists"),
    "address_book.updated": _l("Address book: entry changed"),
    "api_key.created": _l("API key made"),
    "api_key.revoked": _l("API key revoked"),
    "audit.read": _l("Audit log read"),
    "calendar_feed.created": _l("Calendar address made"),
    "calendar_feed.revoked": _l("Calendar address revoked"),
    "consent.lapsed": _l("Consent lapsed: sender asked to act"),
    "consent.withdrawn": _l("Consent withdrawn"),
    "document.added": _l("Document attached to a referral"),
    "document.read": _l("Document downloaded"),
    "emergency.recorded": _l("Sent without consent (emergency)"),
    "emergency.report_read": _l("Emergency report read"),
    "incident.exported": _l("Incident register exported"),
    "incident.recorded": _l("Confidentiality incident recorded"),
    "incident.updated": _l("Confidentiality incident updated"),
    "invitation.accepted": _l("Invitation accepted"),
    "join_request.accepted": _l("Request to join accepted: organization added, coordinator invited"),
    "join_request.declined": _l("Request to join declined"),
    "link.acted": _l("Action through a signed link"),
    "link.opened": _l("Signed link opened"),
    "link.refused": _l("Signed link refused"),
    "link.message": _l("Message through a signed link"),
    "mfa.enrolled": _l("Two-step sign-in turned on"),
    "mfa.recovery_codes_renewed": _l("New recovery codes made"),
    "mfa.removed": _l("Two-step sign-in turned off"),
    "paper.consent_form_viewed": _l("Consent form opened, to print"),
    "paper.sheet_viewed": _l("Her sheet opened, to print"),
    "partnership.contact_named": _l("Named a contact of a partnership"),
    "partnership.contact_removed": _l("No longer a contact of a partnership"),
    "password.changed": _l("Password changed"),
    "password.reset": _l("Password reset through an emailed link"),
    "password_reset.requested": _l("Password reset link asked for"),
    "person.copied": _l("Her details copied to a redirected referral"),
    "person.corrected": _l("Her details corrected"),
    "person.erased": _l("Her details erased"),
    "person.exported": _l("Her file exported"),
    "person.purged": _l("Her details purged (retention)"),
    "person.read": _l("Her details read"),
    "person.searched": _l("Found in a search for her"),
    "practice_note.revised": _l("Practice note edited (a new version)"),
    "practice_note.withdrawn": _l("Practice note deleted with its versions"),
    "practice_note.written": _l("Practice note written"),
    "public_event.cancelled": _l("Public event cancelled"),
    "public_event.posted": _l("Public event posted on the regional calendar"),
    "reauth.failed": _l("Password confirmation failed"),
    "reauth.succeeded": _l("Password confirmed for a sensitive act"),
    "referral.exported": _l("Referral exported (FHIR)"),
    "retention.changed": _l("Retention period changed"),
    "sign_in.code_failed": _l("Sign-in code refused"),
    "sign_in.failed": _l("Sign-in failed"),
    "sign_in.recovery_code_used": _l("Signed in with a recovery code"),
    "sign_in.succeeded": _l("Signed in"),
    "team.deactivated": _l("Account deactivated"),
    "team.invitation_withdrawn": _l("Invitation withdrawn"),
    "team.invited": _l("Invitation sent"),
    "team.mfa_reset": _l("Two-step sign-in reset by a coordinator"),
    "team.reactivated": _l("Account reactivated"),
    "team.role_changed": _l("Role changed"),
    "unmet_need.recorded": _l("Unmet need recorded (no resource found)"),
}


@blueprint.route("/audit")
@login_required
def index() -> str:
    """Her organization's audit entries, newest first, filtered by action, a page at a time."""
    if current_user.role not in MAY_READ or current_user.organization_id is None:
        abort(403)
    action = request.args.get("action") or None
    page = request.args.get("page", default=1, type=int) or 1
    session = db()
    result = organization_audit(session, current_user.organization_id, action=action, page=page)
    # Who read the trail is part of it.
    audit(session, "audit.read", current_user.actor, request_clock()())
    session.commit()
    return render_template(
        "audit/index.html",
        result=result,
        action=action,
        actions=sorted(ACTIONS),
        labels=ACTIONS,
        per_page=PER_PAGE,
    )


@blueprint.after_app_request
def audit_refusals(response: Response) -> Response:
    """A signed-in person or an API key refused a page or an act (403), or a referral it may not see
    (404): audited for her organization, or the key's.

    A 403 on a referral names it (her organization is party to it: she sees it
    but may not do this); a 404 does not, since it hides on purpose whether the
    referral exists, and her organization's auditors read the entry.

    An API request acts for its key, whatever cookie it carries; a request whose
    key is refused at the door (401) is audited there (`service.api.blueprint`).
    """
    if response.status_code not in (403, 404):
        return response
    if request.blueprint == "api":
        actor = g.get("api_actor")  # set by `service.api.blueprint.authenticate` once the key is known
    else:
        actor = current_user.actor if current_user.is_authenticated else None
    if actor is None:
        return response
    asked = (request.view_args or {}).get("referral_id")
    if response.status_code == 404 and asked is None:
        return response
    session = db()
    try:
        named = response.status_code == 403 and asked is not None and session.get(Referral, asked)
        referral_id = asked if named else None
        audit(session, "access.refused", actor, request_clock()(), referral_id=referral_id)
        session.commit()
    except SQLAlchemyError as error:
        session.rollback()
        log.warning("access refusal not audited: %s", type(error).__name__)
    return response

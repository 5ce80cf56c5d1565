"""The failed messages page: a coordinator sees the emails to her organization that could not
be sent, and puts them back in the queue once the cause is fixed (an address, a mail server).

Pages show what kind of email it was, for which referral number, and the error
code; never the email's content.
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

from service.notifications.failed import MessageNotFound
from service.notifications.failed import failed_messages
from service.notifications.failed import retry_failed_message
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("failed_messages", __name__, url_prefix="/notifications/failed")

# What each email template is, in words a coordinator reads.
TEMPLATE_NAMES = {
    "referral_sent": _l("Referral sent"),
    "referral_received": _l("Referral received"),
    "referral_accepted": _l("Referral accepted"),
    "referral_declined": _l("Referral declined"),
    "referral_redirected": _l("Referral redirected"),
    "referral_cancelled": _l("Referral cancelled"),
    "referral_closed": _l("Referral closed"),
    "first_contact_made": _l("First contact made"),
    "meeting_planned": _l("Meeting planned"),
    "deadline_reminder": _l("Deadline reminder"),
    "deadline_escalation": _l("Deadline escalation"),
    "deadline_overdue_notice": _l("Overdue notice to the sender"),
    "consent_lapsed": _l("Consent to renew"),
    "daily_digest": _l("Daily digest"),
    "new_message": _l("New message on a referral"),
    "message_digest": _l("Daily digest of messages"),
    "partnership_review_due": _l("Partnership review due"),
    "partnership_presentation_due": _l("Presentation of services due"),
    "account_invitation": _l("Invitation to the team"),
    "account_role_changed": _l("Notice: role changed"),
    "account_deactivated": _l("Notice: account deactivated"),
    "account_reactivated": _l("Notice: account reactivated"),
    "account_mfa_reset": _l("Notice: two-step sign-in reset"),
}


def template_name(template: str) -> str:
    name = TEMPLATE_NAMES.get(template)
    return str(name) if name is not None else _("Other notification")


@blueprint.before_request
@login_required
def coordinators_only() -> None:
    if not current_user.is_coordinator or current_user.organization_id is None:
        abort(403)


@blueprint.get("/")
def index() -> str:
    rows = failed_messages(db(), current_user.organization_id)
    return render_template("notifications/failed.html", rows=rows, template_name=template_name)


@blueprint.post("/<int:message_id>/retry")
def retry(message_id: int) -> Response:
    try:
        retried = retry_failed_message(db(), current_user.organization_id, message_id, now=request_clock()())
    except MessageNotFound:
        abort(404)
    if retried:
        flash(
            _("Message no. %(number)s is back in the queue: it will be sent shortly.", number=message_id),
            "success",
        )
    else:
        flash(_("Message no. %(number)s is no longer failed.", number=message_id), "info")
    return redirect(url_for("failed_messages.index"), 303)

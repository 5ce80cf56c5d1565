"""Writing a message on a referral's page: the view parses the form and calls `write_message`."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from werkzeug.wrappers import Response

from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.errors import NotAllowed
from service.referrals.message_forms import PREFIX
from service.referrals.message_forms import MessageForm
from service.referrals.messages import write_message
from service.referrals.views import page_with_message_form
from service.web.clock import request_clock
from service.web.database import db

blueprint = Blueprint("messages", __name__)


@blueprint.route("/referrals/<int:referral_id>/messages", methods=["POST"])
@login_required
def write(referral_id: int) -> str | Response:
    """Add the message written on the referral's page; a refusal shows the page again, saying why
    beside the message, whose text is kept."""
    form = MessageForm(prefix=PREFIX)
    if not form.validate_on_submit():
        return page_with_message_form(referral_id, form)
    try:
        write_message(
            db(),
            referral_id,
            current_user.actor,
            form.text.data,
            for_coordinator=form.for_coordinator.data,
            clock=request_clock(),
        )
    except ConsentRequired:
        why = _("Her consent is no longer valid: no message can be written on this referral.")
    except NotAllowed:
        why = _("Messages can be written once the referral is sent.")
    except ConcurrentUpdate:
        why = _("This referral changed in the meantime. Send your message again.")
    else:
        flash(_("Message sent. The other organization is told by email, without its content."), "success")
        return redirect(url_for("referrals.show", referral_id=referral_id, _anchor="messages-title"), 303)
    form.text.errors = [*form.text.errors, why]
    return page_with_message_form(referral_id, form)

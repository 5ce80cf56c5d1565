"""The page a partner without an account reaches from a signed link.

The token is the key to a woman's data: it must not leave this page, so every
answer says `Referrer-Policy: no-referrer` and `Cache-Control: no-store`, and
the page loads nothing from elsewhere. Opening the page never acts and shows
nothing of her; her details, and acting, are POSTs from buttons on it,
protected by the CSRF token of the session cookie Flask-WTF sets when the
page is shown.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from service.directory.models import Organization
from service.documents.links import read_through_link
from service.documents.operations import documents_for
from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.errors import GuardFailed
from service.errors import ReferralError
from service.extensions import limiter
from service.links.messages import write_through_link
from service.links.operations import LINK_PARTY
from service.links.operations import LinkError
from service.links.operations import LinkExpired
from service.links.operations import LinkPage
from service.links.operations import act_through_link
from service.links.operations import link_actions
from service.links.operations import link_holder
from service.links.operations import open_link
from service.protocols import protocol_library
from service.referrals.forms import ActionForm
from service.referrals.forms import action_forms
from service.referrals.message_forms import PREFIX as MESSAGE_PREFIX
from service.referrals.message_forms import MessageForm
from service.referrals.messages import messages_for
from service.referrals.queries import ActionInfo
from service.referrals.queries import action_info
from service.referrals.queries import organization_choices
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale

blueprint = Blueprint("links", __name__, url_prefix="/link")

RATE = "30 per minute"


@blueprint.after_request
def keep_the_token_here(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    # Nothing from elsewhere, no framing, forms only to us: the page cannot hand the token on.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    )
    return response


@blueprint.errorhandler(LinkError)
def link_not_valid(error: LinkError) -> tuple[str, int]:
    """A friendly page; for an expired link, whom to contact. An unknown one learns nothing."""
    sender = None
    if isinstance(error, LinkExpired):
        sender = db().get(Organization, error.sender_organization_id)
    return render_template("links/invalid.html", sender=sender), 410 if sender else 404


@blueprint.route("/<token>", methods=["GET"])
@limiter.limit(RATE)
def page(token: str) -> str:
    return _render(open_link(db(), protocol_library(), token, clock=request_clock()))


@blueprint.route("/<token>/person", methods=["POST"])
@limiter.limit(RATE)
def person(token: str) -> str:
    """Her details, shown because a person pressed the button for them (the read is audited).

    A POST, checked by the page's CSRF token: a mail scanner that fetches the link never gets here.
    """
    return _render(open_link(db(), protocol_library(), token, with_person=True, clock=request_clock()))


@blueprint.route("/<token>/person", methods=["GET"])
@limiter.limit(RATE)
def person_address(token: str) -> Response:
    """The address the details' page shows (a reload, a bookmark): the link's page, which reads nothing."""
    return _back(token)


@blueprint.route("/<token>", methods=["POST"])
@limiter.limit(RATE)
def act(token: str) -> str | Response | tuple[str, int]:
    """Fire the button pressed, as the receiving organization, on the version the page showed."""
    data = link_actions(db(), protocol_library(), token, clock=request_clock())
    trigger = request.form.get("trigger", "")
    action = next((a for a in _actions(data) if a.trigger == trigger), None)
    if action is None:
        if not any(t.trigger == trigger and LINK_PARTY in t.parties for t in data.protocol.transitions):
            abort(404)
        # Someone else answered first, or the page was old: show where it stands now.
        flash(_("This referral changed in the meantime. Here is where it stands now."), "error")
        return _back(token)
    form = ActionForm(action, _targets(data))
    if not form.validate_on_submit():
        return _render(open_link(db(), protocol_library(), token, clock=request_clock()), submitted=form), 400
    try:
        referral = act_through_link(
            db(), protocol_library(), token, trigger, clock=request_clock(), **form.operation_arguments()
        )
    except LinkError:
        raise
    except ConcurrentUpdate:
        flash(_("This referral changed in the meantime. Here is where it stands now."), "error")
        return _back(token)
    except GuardFailed as error:
        form.show_guard_failure(error.guard)
        return _render(open_link(db(), protocol_library(), token, clock=request_clock()), submitted=form), 400
    except ReferralError:
        flash(_("This action is no longer possible. Here is where the referral stands now."), "error")
        return _back(token)
    state = data.protocol.states[referral.state].title.in_language(current_locale())
    flash(_("Thank you. The referral is now: %(state)s.", state=state), "success")
    return _back(token)


@blueprint.route("/<token>/messages", methods=["POST"])
@limiter.limit(RATE)
def message(token: str) -> Response | tuple[str, int]:
    """Add the message she wrote, as the receiving organization; the page then shows nothing of her."""
    form = MessageForm(prefix=MESSAGE_PREFIX)
    if not form.validate_on_submit():
        page = open_link(db(), protocol_library(), token, clock=request_clock())
        return _render(page, message_form=form), 400
    try:
        write_through_link(db(), token, form.text.data, clock=request_clock())
    except LinkError:
        raise
    except ConsentRequired:
        flash(_("Her consent is no longer valid: no message can be written on this referral."), "error")
        return _back(token)
    except ReferralError:
        flash(_("This referral changed in the meantime. Write your message again."), "error")
        return _back(token)
    flash(_("Message sent. The other organization is told by email, without its content."), "success")
    return _back(token)


@blueprint.route("/<token>/documents/<int:document_id>", methods=["POST"])
@limiter.limit(RATE)
def document(token: str, document_id: int) -> Response:
    """A document of the referral, downloaded from a button under her details (a POST, as they are:
    a mail scanner never fetches it); the read is audited with the link."""
    try:
        found, data = read_through_link(db(), token, document_id, clock=request_clock())
    except ConsentRequired:
        flash(_("Her consent is no longer valid: her documents are not shown."), "error")
        return _back(token)
    response = send_file(
        BytesIO(data), mimetype=found.content_type, as_attachment=True, download_name=found.name, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _back(token: str) -> Response:
    return redirect(url_for("links.page", token=token), 303)


def _actions(data: LinkPage) -> list[ActionInfo]:
    return [action_info(data.protocol, t, current_locale()) for t in data.actions]


def _targets(data: LinkPage) -> list[tuple[int, str]]:
    """Where she may redirect the woman, or which resource she may suggest: any other organization."""
    referral = data.referral
    return organization_choices(
        db(), excluding=[referral.sender_organization_id, referral.receiver_organization_id]
    )


def _render(
    data: LinkPage, submitted: ActionForm | None = None, message_form: MessageForm | None = None
) -> str:
    actions = _actions(data)
    targets = _targets(data) if any(a.target for a in actions) else []
    now = request_clock()()
    # The messages speak of her: shown with her details, once a person asked for them (a POST).
    messages = messages_for(db(), data.referral.id, link_holder(data.link), now=now) if data.person else []
    # Her documents too, under the same rule as her details (None: her consent no longer allows it).
    documents = documents_for(db(), data.referral.id, link_holder(data.link), now=now) if data.person else []
    return render_template(
        "links/referral.html",
        page=data,
        actions=action_forms(actions, targets, data.referral.version, submitted),
        language=current_locale(),
        token=request.view_args["token"],
        now=now,
        messages=messages,
        documents=documents,
        message_form=message_form or MessageForm(prefix=MESSAGE_PREFIX, formdata=None),
        writes_messages=data.consent is not None and data.sent_at is not None,
    )

"""The page a partner organization without an account reaches from the signed link emailed to its
referral address about a request between organizations.

As for a referral's link (`service.links.views`): opening the page never acts (mail scanners open
links and keep the pages); acting is a POST from a button on it, protected by the CSRF token of the
session cookie Flask-WTF sets when the page is shown. A request carries no woman's data, so the
page shows the request at once; the token still must not leave the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from service.directory.models import Organization
from service.errors import ConcurrentUpdate
from service.errors import GuardFailed
from service.errors import ReferralError
from service.extensions import limiter
from service.links.operations import LinkError
from service.links.operations import LinkExpired
from service.links.views import RATE
from service.links.views import keep_the_token_here
from service.partnership_requests import links
from service.partnership_requests import pages
from service.partnership_requests.forms import ButtonBase
from service.partnership_requests.forms import button_form
from service.partnership_requests.forms import button_forms
from service.partnership_requests.forms import show_field_problem
from service.protocols import protocol_library
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale
from workflows.errors import FieldProblem

blueprint = Blueprint("request_links", __name__, url_prefix="/partnership-requests/link")
blueprint.after_request(keep_the_token_here)


@blueprint.errorhandler(LinkError)
@blueprint.errorhandler(pages.RequestNotFound)
def link_not_valid(error: Exception) -> tuple[str, int]:
    """A friendly page; for an expired link, whom to contact. An unknown one learns nothing."""
    asking = None
    if isinstance(error, LinkExpired):
        asking = db().get(Organization, error.sender_organization_id)
    return render_template("partnership_requests/link_invalid.html", asking=asking), 410 if asking else 404


@blueprint.route("/<token>", methods=["GET"])
@limiter.limit(RATE)
def page(token: str) -> str:
    return _render(token, _page(token, opening=True))


def _page(token: str, *, opening: bool = False) -> pages.RequestPage:
    """The request as the link's organization sees it; `opening` audits the opening of the page."""
    if opening:
        held = links.open_request_link(db(), protocol_library(), token, clock=request_clock())
    else:
        held = links.request_link_actions(db(), protocol_library(), token, clock=request_clock())
    return pages.request_page(
        db(),
        protocol_library(),
        held.request.id,
        links.link_holder(held.link),
        language=current_locale(),
        now=request_clock()(),
        parties=frozenset({links.LINK_PARTY}),
    )


def _render(
    token: str, found: pages.RequestPage, submitted: ButtonBase | None = None, status: int = 200
) -> Any:
    body = render_template(
        "partnership_requests/link.html",
        page=found,
        buttons=button_forms(found.buttons, found.request.version, submitted, found.request.fields),
        action_url=url_for(".act", token=token),
        token=token,
        language=current_locale(),
    )
    return (body, status) if status != 200 else body


@blueprint.route("/<token>", methods=["POST"])
@limiter.limit(RATE)
def act(token: str) -> Any:
    """Fire the button pressed, as the organization the link was sent to, on the version shown."""
    found = _page(token)
    back = redirect(url_for(".page", token=token), 303)
    trigger = request.form.get("trigger", "")
    button = next((b for b in found.buttons if b.trigger == trigger), None)
    if button is None:
        if not any(t.trigger == trigger for t in found.protocol.transitions):
            abort(400)
        flash(_("This request changed in the meantime; here is where it stands now."), "error")
        return back
    form = button_form(button, found.request.fields)
    if not form.validate_on_submit():
        return _render(token, found, submitted=form, status=400)
    try:
        changed = links.act_through_request_link(
            db(), protocol_library(), token, trigger, clock=request_clock(), **form.operation_arguments()
        )
    except LinkError:
        raise
    except ConcurrentUpdate:
        flash(_("This request changed in the meantime; here is where it stands now."), "error")
        return back
    except FieldProblem as problem:
        show_field_problem(form, problem.field, problem.code)
        return _render(token, _page(token), submitted=form, status=400)
    except GuardFailed as error:
        form.show_guard_failure(error.guard)
        return _render(token, _page(token), submitted=form, status=400)
    except ReferralError:
        flash(_("This action is no longer possible. Here is where the request stands now."), "error")
        return back
    state = found.protocol.states[changed.state].title.in_language(current_locale())
    flash(_("Thank you. The request is now: %(state)s.", state=state), "success")
    return back

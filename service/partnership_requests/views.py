"""The pages of requests between partner organizations: asking from a partnership's page (a loan, a
co-organized activity, the yearly presentation, a team-to-team session), proposing a joint
mobilization to organizations of the network, and the request's page with its buttons.

Views parse and check what was submitted, then call one operation of
`service.partnership_requests.operations`, which holds the rules. An organization that is not a
party to a request gets a 404 for it, as for a referral.
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
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.directory.errors import DirectoryNotFound
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.queries import get_partnership
from service.errors import ConcurrentUpdate
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ProtocolNotFound
from service.errors import ReferralError
from service.partnership_requests import operations
from service.partnership_requests import pages
from service.partnership_requests.forms import ButtonBase
from service.partnership_requests.forms import MobilizationForm
from service.partnership_requests.forms import ask_form
from service.partnership_requests.forms import button_form
from service.partnership_requests.forms import button_forms
from service.partnership_requests.forms import show_field_problem
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.protocols import protocol_library
from service.referrals.actors import REFERRAL_ROLES
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.templating import current_locale
from workflows.durations import TIME_ZONE
from workflows.errors import FieldProblem

blueprint = Blueprint("partnership_requests", __name__)


@blueprint.before_request
@login_required
def signed_in_only() -> None:
    """Every page here needs a signed-in person of an organization's team."""
    if current_user.organization_id is None or current_user.role not in REFERRAL_ROLES:
        abort(403)


@blueprint.errorhandler(pages.RequestNotFound)
@blueprint.errorhandler(DirectoryNotFound)
@blueprint.errorhandler(ProtocolNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


@blueprint.app_context_processor
def request_words() -> dict[str, Any]:
    """What the partnership page, the dashboard and the inbox call to show requests beside referrals."""
    return {
        "partnership_request_starts": pages.starts_on_partnership,
        "partnership_requests_on": pages.requests_on_partnership,
        "partnership_request_listing": pages.listing_for_page,
        "partnership_request_kind_label": pages.kind_label,
    }


def _changed() -> str:
    return _("This request changed in the meantime; here is where it stands now.")


# Asking from a partnership ---------------------------------------------------------------------------


@blueprint.route("/directory/partnerships/<int:partnership_id>/requests/<kind>/new", methods=["GET", "POST"])
def ask(partnership_id: int, kind: str) -> str | Response:
    """A new request of `kind` to the other organization of the partnership."""
    partnership = _our_partnership(partnership_id)
    protocol = pages.protocol_of_kind(protocol_library(), kind)
    if protocol is None or kind == pages.MOBILIZATION:
        abort(404)
    partner = _other(partnership)
    language = current_locale()
    infos = pages.fields_asked(protocol, pages.ASK, language)
    form = ask_form(infos)
    if all(t.comment == "none" for t in protocol.transitions if t.trigger == pages.ASK):
        del form.comment
    if form.validate_on_submit():
        try:
            created = operations.ask(
                db(),
                protocol_library(),
                current_user.actor,
                protocol_name=protocol.name,
                answering_organization_id=partner.id,
                partnership_id=partnership.id,
                fields=form.values(),
                comment=(form.comment.data or None) if "comment" in form else None,
                clock=request_clock(),
            )
        except NotAllowed:
            abort(403)
        except FieldProblem as problem:
            show_field_problem(form, problem.field, problem.code)
        except GuardFailed as error:
            form.form_errors.append(pages.guard_message(error.guard))
        else:
            flash(
                _(
                    "Request no. %(number)s sent to %(organization)s.",
                    number=created.id,
                    organization=partner.name,
                ),
                "success",
            )
            return redirect(url_for(".show", request_id=created.id), 303)
    return render_template(
        "partnership_requests/ask.html",
        form=form,
        protocol=protocol,
        kind=kind,
        partnership=partnership,
        partner=partner,
        language=language,
        title=pages.start_label(kind),
    )


def _our_partnership(partnership_id: int) -> Partnership:
    """The partnership, if the viewer's organization is one of its two; 404 otherwise."""
    found = get_partnership(db(), partnership_id)
    if current_user.organization_id not in (found.first_organization_id, found.second_organization_id):
        abort(404)
    if not found.active:
        abort(404)
    return found


def _other(partnership: Partnership) -> Organization:
    if partnership.first_organization_id == current_user.organization_id:
        return partnership.second_organization
    return partnership.first_organization


# Proposing a joint mobilization ----------------------------------------------------------------------


@blueprint.route("/mobilizations/new", methods=["GET", "POST"])
def propose_mobilization() -> str | Response:
    """A position or an action proposed to organizations of the network, each to join or decline."""
    protocol = pages.protocol_of_kind(protocol_library(), pages.MOBILIZATION)
    if protocol is None:
        abort(404)
    session = db()
    others = [
        (organization_id, name)
        for organization_id, name in session.execute(
            select(Organization.id, Organization.name)
            .where(Organization.id != current_user.organization_id)
            .order_by(Organization.name)
        )
    ]
    form = MobilizationForm()
    today = request_clock()().astimezone(TIME_ZONE).date()
    form.setup(others, today)
    if form.validate_on_submit():
        try:
            mobilization = operations.propose_mobilization(
                session,
                protocol_library(),
                current_user.actor,
                title=form.title.data,
                text=form.text.data,
                answer_by=form.answer_by.data,
                organization_ids=form.organizations.data,
                clock=request_clock(),
            )
        except NotAllowed:
            abort(403)
        else:
            flash(
                _(
                    "Mobilization proposed to %(count)s organizations. Each is asked to join or decline.",
                    count=len(form.organizations.data),
                ),
                "success",
            )
            return redirect(url_for(".mobilization", mobilization_id=mobilization.id), 303)
    return render_template("partnership_requests/mobilization_form.html", form=form)


@blueprint.route("/mobilizations/<int:mobilization_id>")
def mobilization(mobilization_id: int) -> str:
    """The mobilization, to its proposing organization (every answer) and to those invited (who joined)."""
    session = db()
    found = session.get(Mobilization, mobilization_id)
    if found is None:
        abort(404)
    invitations = pages.invitations_of(session, found)
    mine = current_user.organization_id
    proposer = found.organization_id == mine
    my_invitation = next((r for r in invitations if r.answering_organization_id == mine), None)
    if not proposer and my_invitation is None:
        abort(404)
    language = current_locale()
    return render_template(
        "partnership_requests/mobilization.html",
        mobilization=found,
        proposer=proposer,
        proposing=session.get(Organization, found.organization_id),
        rows=pages.invitation_rows(session, protocol_library(), invitations, language),
        my_invitation=my_invitation,
        language=language,
    )


# The request --------------------------------------------------------------------------------------


@blueprint.route("/partnership-requests")
def index() -> str:
    """Every request between my organization and others, open ones first, `page` a page."""
    listing = pages.listing(
        db(),
        protocol_library(),
        current_user.organization_id,
        language=current_locale(),
        now=request_clock()(),
        page=request.args.get("page", 1, type=int),
    )

    def page_address(_part: str, number: int) -> str:
        return url_for(".index", page=number, _anchor="requests-title")

    return render_template("partnership_requests/index.html", listing=listing, page_address=page_address)


@blueprint.route("/partnership-requests/<int:request_id>")
def show(request_id: int) -> str:
    return _render(_page(request_id))


def _page(request_id: int) -> pages.RequestPage:
    return pages.request_page(
        db(),
        protocol_library(),
        request_id,
        current_user.actor,
        language=current_locale(),
        now=request_clock()(),
    )


def _render(page: pages.RequestPage, submitted: ButtonBase | None = None, status: int = 200) -> Any:
    body = render_template(
        "partnership_requests/request.html",
        page=page,
        buttons=button_forms(page.buttons, page.request.version, submitted, page.request.fields),
        action_url=url_for(".act", request_id=page.request.id),
        language=current_locale(),
        now=request_clock()(),
    )
    return (body, status) if status != 200 else body


@blueprint.route("/partnership-requests/<int:request_id>/actions", methods=["GET"])
def act_address(request_id: int) -> Response:
    """The address a refused button's page shows (its language link, a reload): the request's page."""
    _page(request_id)  # a 404 for whoever is no party to it, as the page itself
    return redirect(url_for(".show", request_id=request_id), 303)


@blueprint.route("/partnership-requests/<int:request_id>/actions", methods=["POST"])
def act(request_id: int) -> Any:
    """Fire the button pressed, on the version of the request the page showed."""
    page = _page(request_id)
    back = redirect(url_for(".show", request_id=request_id), 303)
    trigger = request.form.get("trigger", "")
    button = next((b for b in page.buttons if b.trigger == trigger), None)
    if button is None:
        if not any(t.trigger == trigger for t in page.protocol.transitions):
            abort(400)
        # Possible in another state, or for the other organization: the page was old, or not hers.
        flash(_changed(), "error")
        return back
    form = button_form(button, page.request.fields)
    if not form.validate_on_submit():
        return _render(page, submitted=form, status=400)
    try:
        changed = operations.fire(
            db(),
            protocol_library(),
            request_id,
            trigger,
            current_user.actor,
            clock=request_clock(),
            **form.operation_arguments(),
        )
    except (ConcurrentUpdate, InvalidTransition):
        flash(_changed(), "error")
        return back
    except FieldProblem as problem:
        show_field_problem(form, problem.field, problem.code)
        return _render(_page(request_id), submitted=form, status=400)
    except GuardFailed as error:
        form.show_guard_failure(error.guard)
        return _render(_page(request_id), submitted=form, status=400)
    except NotAllowed:
        abort(403)
    except ReferralError:
        flash(_changed(), "error")
        return back
    state = page.protocol.states[changed.state].title.in_language(current_locale())
    flash(_("Done: %(action)s. The request is now: %(state)s.", action=button.title, state=state), "success")
    return back


def request_of(request_id: int) -> PartnershipRequest:
    """The request, if the viewer's organization is a party to it (for other blueprints' pages)."""
    return _page(request_id).request

"""Referral pages: dashboard, inbox, intake, consent, and the referral itself with its actions.

Views parse and check what was submitted, then call one domain operation.
Nothing about the woman goes into a URL, a page title or a flash message:
pages say "referral no. 12", never her name.
"""

from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta

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
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from service.config import settings
from service.directory.sheet_wording import size_words
from service.documents.forms import PREFIX as DOCUMENT_PREFIX
from service.documents.forms import DocumentForm
from service.documents.operations import documents_for
from service.documents.operations import may_add as may_add_document
from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import ParameterError
from service.errors import ProtocolNotFound
from service.protocols import protocol_library
from service.referrals.forms import NEED_GROUPS
from service.referrals.forms import OTHER
from service.referrals.forms import ActionEntry
from service.referrals.forms import ActionForm
from service.referrals.forms import ConsentForm
from service.referrals.forms import IntakeForm
from service.referrals.forms import NeedsForm
from service.referrals.forms import action_forms
from service.referrals.message_forms import PREFIX as MESSAGE_PREFIX
from service.referrals.message_forms import MessageForm
from service.referrals.messages import hide_unreadable
from service.referrals.messages import may_read_messages
from service.referrals.messages import side_of
from service.referrals.models import Referral
from service.referrals.operations import MAY_OPEN
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import read_person
from service.referrals.operations import record_consent
from service.referrals.operations import update_draft
from service.referrals.operations import withdraw_consent
from service.referrals.queries import DASHBOARD_PARTS
from service.referrals.queries import Duplicate
from service.referrals.queries import ReferralPage
from service.referrals.queries import dashboard as dashboard_rows
from service.referrals.queries import inbox as inbox_rows
from service.referrals.queries import needs_by_group
from service.referrals.queries import organization_choices
from service.referrals.queries import partner_suggestions
from service.referrals.queries import possible_duplicates
from service.referrals.queries import protocol_for
from service.referrals.queries import referral_page
from service.referrals.queries import timeline
from service.referrals.read_markers import mark_read
from service.referrals.read_markers import unread_counts
from service.referrals.rights_forms import VersionForm
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale
from workflows.durations import TIME_ZONE

blueprint = Blueprint("referrals", __name__)


def _changed() -> str:
    return _("This referral changed in the meantime; here is its current state.")


# Lists ------------------------------------------------------------------------------


@blueprint.route("/")
@login_required
def dashboard() -> str | Response:
    if current_user.is_privacy_officer:
        # She reads no referral: her home is her organization's tools (the register first).
        return redirect(url_for("organization.index"))
    now = request_clock()()
    # Anything but a whole number is the first page; the query keeps the others in range.
    pages = {part: request.args.get(f"{part}_page", 1, type=int) for part in DASHBOARD_PARTS}
    rows = dashboard_rows(
        db(), protocol_library(), current_user.actor, language=current_locale(), now=now, pages=pages
    )
    # Never an argument of `url_for` itself ("_external", "_scheme", "_anchor"...) from the address.
    arguments = {key: value for key, value in request.args.items() if not key.startswith("_")}

    def page_address(part: str, number: int) -> str:
        # Another part's page, and whatever else the address says, stay as they are.
        kept = arguments | {f"{part}_page": str(number)}
        return url_for("referrals.dashboard", **kept, _anchor=f"{part}-title")

    # One grouped query for every referral of the organization: the rows' badges and the total.
    unread = unread_counts(db(), current_user.organization_id) if current_user.organization_id else {}
    return render_template(
        "referrals/dashboard.html", rows=rows, now=now, page_address=page_address, unread=unread
    )


@blueprint.route("/referrals/received")
@login_required
def inbox() -> str:
    if current_user.organization_id is None:
        abort(403)
    # Anything but a whole number is the first page; the query keeps the others in range.
    listing = inbox_rows(
        db(),
        protocol_library(),
        current_user.actor,
        language=current_locale(),
        now=request_clock()(),
        page=request.args.get("page", 1, type=int),
    )
    arguments = {key: value for key, value in request.args.items() if not key.startswith("_")}

    def page_address(_part: str, number: int) -> str:
        return url_for("referrals.inbox", **(arguments | {"page": str(number)}), _anchor="inbox-title")

    unread = unread_counts(db(), current_user.organization_id, [row.id for row in listing.rows])
    return render_template("referrals/inbox.html", listing=listing, page_address=page_address, unread=unread)


# Intake -----------------------------------------------------------------------------


def _may_open() -> None:
    if current_user.role not in MAY_OPEN or current_user.organization_id is None:
        abort(403)


def _prepare(form: IntakeForm, keep: list[str] | None = None) -> list:
    """Fill the intake form's choices from the needs ticked so far; return the need groups."""
    session = db()
    language = current_locale()
    order = list(NEED_GROUPS)
    groups = sorted(
        needs_by_group(session, language, keep or []),
        key=lambda g: order.index(g.code) if g.code in order else len(order),
    )
    form.needs.choices = [SelectChoice(code, label) for group in groups for code, label in group.needs]
    # Only needs the form offers reach the query: a code typed by hand (a NUL byte, which PostgreSQL
    # refuses in text) is not one, and the form's validation, later, says so.
    offered = {code for group in groups for code, _label in group.needs}
    codes = [code for code in form.needs.data or [] if code in offered]
    suggestions = partner_suggestions(session, current_user.organization_id, codes)
    protocols = None
    if current_user.is_coordinator:
        protocols = [(p.name, p.spec.title.in_language(language)) for p in protocol_library().latest()]
    form.setup(
        suggestions,
        organization_choices(session, excluding=[current_user.organization_id]),
        protocols,
        len(codes),
    )
    return groups


@blueprint.route("/referrals/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response:
    """Step 1 (needs, urgency), then step 2 (partner, her details) on the same address.

    Without JavaScript the suggestions follow the needs by a round trip: the
    "suggest" button re-shows the form, saving nothing.
    """
    _may_open()
    form = IntakeForm()
    groups = _prepare(form)
    action = request.form.get("action")
    details = request.method == "POST" and (action != "suggest" or request.form.get("details") == "1")
    if request.method == "POST" and action == "suggest":
        step_one = NeedsForm()
        step_one.needs.choices = form.needs.choices
        if step_one.validate_on_submit():
            details = True
        else:
            form.needs.errors = step_one.needs.errors
            form.urgency.errors = step_one.urgency.errors
    elif request.method == "POST" and form.validate_on_submit():
        choice = protocol_for(
            db(),
            current_user.organization_id,
            form.receiver_id,
            urgent=form.urgency.data == "urgent",
            on=_today(),
            override=form.protocol_override,
        )
        try:
            referral = open_referral(
                db(),
                protocol_library(),
                current_user.actor,
                receiver_organization_id=form.receiver_id,
                protocol_name=choice.name,
                parameters=choice.parameters,
                agreement_id=choice.agreement_id,
                need_codes=form.needs.data,
                urgent=form.urgency.data == "urgent",
                person=form.person(),
                clock=request_clock(),
            )
        except (ParameterError, ProtocolNotFound):
            form.form_errors.append(
                _("The agreement with this organization cannot be used. Choose a protocol.")
            )
        else:
            return _after_saving(referral, action)
    return render_template(
        "referrals/intake.html",
        form=form,
        groups=groups,
        group_titles=NEED_GROUPS,
        details=details,
        referral=None,
    )


def _after_saving(referral: Referral, action: str | None) -> Response:
    if action == "draft":
        flash(_("Draft no. %(number)s saved.", number=referral.id), "success")
        return redirect(url_for("referrals.show", referral_id=referral.id), 303)
    flash(_("Draft no. %(number)s saved. Now record her consent.", number=referral.id), "success")
    return redirect(url_for("referrals.consent", referral_id=referral.id), 303)


def _today():
    return request_clock()().astimezone(TIME_ZONE).date()


def _draft_page(referral_id: int) -> ReferralPage:
    """The page of a draft its sending side may change; 404, 403, or back to the page otherwise."""
    page = _page(referral_id)
    if "sender" not in page.parties or current_user.role not in MAY_OPEN:
        abort(403)
    return page


def _page(referral_id: int) -> ReferralPage:
    return referral_page(
        db(),
        protocol_library(),
        referral_id,
        current_user.actor,
        language=current_locale(),
        now=request_clock()(),
    )


@blueprint.route("/referrals/<int:referral_id>/edit", methods=["GET", "POST"])
@login_required
def edit(referral_id: int) -> str | Response:
    page = _draft_page(referral_id)
    referral = page.referral
    if not page.is_draft:
        flash(_("Only a draft can be changed."), "error")
        return redirect(url_for("referrals.show", referral_id=referral_id), 303)
    keep = [need.code for need in referral.needs]
    if request.method == "GET":
        person = read_person(db(), referral_id, current_user.actor, clock=request_clock())
        form = IntakeForm(formdata=None, data=_draft_data(page, person))
    else:
        form = IntakeForm()
    groups = _prepare(form, keep)
    action = request.form.get("action")
    if request.method == "POST" and action != "suggest" and form.validate_on_submit():
        choice = protocol_for(
            db(),
            referral.sender_organization_id,
            form.receiver_id,
            urgent=form.urgency.data == "urgent",
            on=_today(),
            override=form.protocol_override,
        )
        try:
            update_draft(
                db(),
                protocol_library(),
                referral_id,
                current_user.actor,
                receiver_organization_id=form.receiver_id,
                protocol_name=choice.name,
                parameters=choice.parameters,
                agreement_id=choice.agreement_id,
                need_codes=form.needs.data,
                urgent=form.urgency.data == "urgent",
                person=form.person(),
                expected_version=_int(request.form.get("version")),
                clock=request_clock(),
            )
        except (ConcurrentUpdate, InvalidTransition):
            flash(_changed(), "error")
            return redirect(url_for("referrals.show", referral_id=referral_id), 303)
        except (ParameterError, ProtocolNotFound):
            form.form_errors.append(
                _("The agreement with this organization cannot be used. Choose a protocol.")
            )
        else:
            if page.consent is not None and form.receiver_id != page.receiver.id:
                flash(_("Her consent named the other organization: record it again for this one."), "info")
            return _after_saving(referral, action)
    return render_template(
        "referrals/intake.html",
        form=form,
        groups=groups,
        group_titles=NEED_GROUPS,
        details=True,
        referral=referral,
    )


def _draft_data(page: ReferralPage, person) -> dict:
    referral = page.referral
    receiver = str(referral.receiver_organization_id)
    suggested = {
        str(s.organization_id)
        for s in partner_suggestions(db(), referral.sender_organization_id, [n.code for n in referral.needs])
    }
    default = protocol_for(
        db(),
        referral.sender_organization_id,
        referral.receiver_organization_id,
        urgent=referral.urgent,
        on=_today(),
    )
    data = {
        "needs": [need.code for need in referral.needs],
        "urgency": "urgent" if referral.urgent else "standard",
        "partner": receiver if receiver in suggested else OTHER,
        "other_partner": "" if receiver in suggested else receiver,
        "protocol": "" if default.name == referral.protocol_name else referral.protocol_name,
    }
    if person is not None:
        data.update(person.__dict__)
        data["through_caseworker"] = not (person.phone or person.email)
    return data


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# Consent ----------------------------------------------------------------------------


@blueprint.route("/referrals/<int:referral_id>/consent", methods=["GET", "POST"])
@login_required
def consent(referral_id: int) -> str | Response:
    """Step 3: her consent, its own page, recorded by her sending organization."""
    page = _draft_page(referral_id)
    if page.status.finished:
        flash(_("This referral is finished: there is no consent to record."), "error")
        return redirect(url_for("referrals.show", referral_id=referral_id), 303)
    form = ConsentForm(today=_today())
    if form.validate_on_submit():
        until = form.until.data
        expires_at = None
        if until is not None:
            # To the end of that day in Montréal.
            expires_at = datetime.combine(until + timedelta(days=1), time(), TIME_ZONE)
        record_consent(
            db(),
            referral_id,
            current_user.actor,
            method=form.method.data,
            shared_with=form.shared_with.data,
            purpose=form.purpose.data,
            expires_at=expires_at,
            clock=request_clock(),
        )
        if page.is_draft:
            flash(_("Consent recorded. Check the referral, then send it."), "success")
        else:
            flash(_("Consent recorded."), "success")
        return redirect(url_for("referrals.show", referral_id=referral_id), 303)
    return render_template("referrals/consent.html", form=form, page=page)


@blueprint.route("/referrals/<int:referral_id>/consent/withdraw", methods=["POST"])
@login_required
def withdraw(referral_id: int) -> Response:
    """She took back her consent: record it; the receiving organization is told to stop using her data."""
    page = _page(referral_id)
    if "sender" not in page.parties or current_user.role not in MAY_OPEN:
        abort(403)
    back = redirect(url_for("referrals.show", referral_id=referral_id), 303)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        withdraw_consent(
            db(), referral_id, current_user.actor, expected_version=form.version.data, clock=request_clock()
        )
    except (ConcurrentUpdate, InvalidTransition):
        flash(_changed(), "error")
        return back
    if page.sent_at is not None:
        flash(
            _(
                "Her consent is withdrawn. %(organization)s is told to stop using her information; "
                "Maillage sends no more messages about this referral.",
                organization=page.receiver.name,
            ),
            "success",
        )
    else:
        flash(_("Her consent is withdrawn. This draft cannot be sent without a new consent."), "success")
    return back


# The referral -----------------------------------------------------------------------


@blueprint.route("/referrals/<int:referral_id>")
@login_required
def show(referral_id: int) -> str:
    return _render(_page(referral_id))


def page_with_message_form(referral_id: int, message_form: MessageForm) -> str:
    """The referral's page again with a refused message form: its errors beside it, her text kept."""
    return _render(_page(referral_id), message_form=message_form)


def page_with_document_form(referral_id: int, document_form: DocumentForm) -> str:
    """The referral's page again with a refused document: why, beside the file field."""
    return _render(_page(referral_id), document_form=document_form)


def _render(
    page: ReferralPage,
    submitted: ActionForm | None = None,
    duplicates: list[Duplicate] | None = None,
    message_form: MessageForm | None = None,
    document_form: DocumentForm | None = None,
) -> str:
    session = db()
    language = current_locale()
    referral = page.referral
    # Her details are read, and the read logged, on every showing of the page.
    person = read_person(session, referral.id, current_user.actor, clock=request_clock())
    organizations = organization_choices(
        session, excluding=[referral.sender_organization_id, referral.receiver_organization_id]
    )
    send_anyway = None
    if duplicates:
        send = next(a for a in page.actions if a.trigger == SHARING_TRIGGER)
        form = ActionForm(send, organizations, formdata=None)
        form.version.data = referral.version
        form.confirm_duplicate.data = "1"
        send_anyway = ActionEntry(send, form)
    reads_messages = may_read_messages(current_user.actor, referral, request_clock()())
    entries = hide_unreadable(timeline(session, protocol_library(), page, language), reads_messages)
    side = side_of(current_user.actor, referral)
    # Her documents follow her details: the receiving side lists them only under her consent (None).
    documents = (
        documents_for(session, referral.id, current_user.actor, now=request_clock()()) if side else None
    )
    if side_of(current_user.actor, referral) is not None:
        # Whoever of the organization opens the page has read the messages for it (or, after her
        # withdrawal, seen that there are some it may no longer read: they are not waiting on it).
        mark_read(session, referral.id, current_user.organization_id)
    return render_template(
        "referrals/referral.html",
        page=page,
        person=person,
        entries=entries,
        message_form=message_form or MessageForm(prefix=MESSAGE_PREFIX, formdata=None),
        may_write_messages=side_of(current_user.actor, referral) is not None and not page.is_draft,
        documents=documents,
        document_form=document_form or DocumentForm(prefix=DOCUMENT_PREFIX, formdata=None),
        may_attach=side is not None and may_add_document(side, referral, request_clock()()),
        document_limit=settings().document_max_bytes,
        size_words=lambda size: size_words(size, _),
        actions=action_forms(page.actions, organizations, referral.version, submitted),
        submitted=submitted,
        duplicates=duplicates,
        send_anyway=send_anyway,
        may_prepare=page.side == "sender" and current_user.role in MAY_OPEN,
        withdrawal=VersionForm(formdata=None, version=referral.version),
        now=request_clock()(),
    )


@blueprint.route("/referrals/<int:referral_id>/actions", methods=["GET"])
@login_required
def act_address(referral_id: int) -> Response:
    """The address a refused action's page shows (its language link, a reload): the referral's page."""
    return redirect(url_for("referrals.show", referral_id=referral_id), 303)


@blueprint.route("/referrals/<int:referral_id>/actions", methods=["POST"])
@login_required
def act(referral_id: int) -> str | Response:
    """Fire the action of the button pressed, on the version of the referral the page showed."""
    page = _page(referral_id)
    back = redirect(url_for("referrals.show", referral_id=referral_id), 303)
    trigger = request.form.get("trigger", "")
    action = next((a for a in page.actions if a.trigger == trigger), None)
    if action is None:
        transitions = [t for t in page.protocol.transitions if t.trigger == trigger]
        if not transitions:
            abort(400)
        if not any(t.parties & page.parties for t in transitions):
            abort(403)
        # Possible in another state: the page was old.
        flash(_changed(), "error")
        return back
    organizations = organization_choices(
        db(), excluding=[page.referral.sender_organization_id, page.referral.receiver_organization_id]
    )
    form = ActionForm(action, organizations)
    if not form.validate_on_submit():
        return _render(page, submitted=form)
    if trigger == SHARING_TRIGGER and form.confirm_duplicate.data != "1":
        duplicates = possible_duplicates(db(), protocol_library(), page.referral, language=current_locale())
        if duplicates:
            return _render(page, duplicates=duplicates)
    try:
        referral = fire(
            db(),
            protocol_library(),
            referral_id,
            trigger,
            current_user.actor,
            clock=request_clock(),
            **form.operation_arguments(),
        )
    except (ConcurrentUpdate, InvalidTransition):
        flash(_changed(), "error")
        return back
    except ConsentRequired:
        if trigger == SHARING_TRIGGER:
            message = _("Her consent is missing or no longer valid: record it (step 4) before sending.")
        else:  # a redirect hands her over to another organization
            message = _(
                "Her consent was withdrawn or is no longer valid: this referral cannot be passed on to "
                "another organization. Close it, or ask the sending organization to record a new consent."
            )
        form.form_errors.append(message)
        return _render(_page(referral_id), submitted=form)
    except GuardFailed as error:
        form.show_guard_failure(error.guard)
        return _render(_page(referral_id), submitted=form)
    state = page.protocol.states[referral.state].title.in_language(current_locale())
    if trigger == SHARING_TRIGGER:
        flash(
            _(
                "Referral no. %(number)s sent to %(organization)s.",
                number=referral.id,
                organization=page.receiver.name,
            ),
            "success",
        )
    else:
        flash(
            _("Done: %(action)s. The referral is now: %(state)s.", action=action.title, state=state),
            "success",
        )
    if action.target == "required":
        flash(_("A new draft was opened for the referring organization, to confirm with her."), "info")
    return back

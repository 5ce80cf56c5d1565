"""Directory pages: organizations and their services, partnerships, their traces and agreements.

Every signed-in person may read the directory: it holds no personal data.
Changes go through `service.directory.operations`, which decide who may make them.
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
from werkzeug.wrappers import Response

from service.directory import operations
from service.directory import queries
from service.directory import wording
from service.directory.errors import DirectoryNotFound
from service.directory.errors import RuleBroken
from service.directory.forms import PARAMETER_PREFIX
from service.directory.forms import AgreementForm
from service.directory.forms import EditPartnershipForm
from service.directory.forms import NewPartnershipForm
from service.directory.forms import NoteForm
from service.directory.forms import OrganizationForm
from service.directory.forms import ProtocolChoiceForm
from service.directory.forms import SearchForm
from service.directory.forms import ServiceForm
from service.directory.forms import agreement_form
from service.directory.forms import options
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.operations import AgreementTerms
from service.directory.operations import OrganizationDetails
from service.directory.operations import PartnershipTerms
from service.directory.operations import ServiceDetails
from service.errors import ParameterError
from service.errors import ProtocolNotFound
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.templating import day
from workflows.durations import Duration
from workflows.protocol import Protocol

blueprint = Blueprint("directory", __name__, url_prefix="/directory")


@blueprint.before_request
@login_required
def signed_in_only() -> None:
    """Every directory page needs a signed-in person; the decorator answers strangers."""


@blueprint.errorhandler(DirectoryNotFound)
@blueprint.errorhandler(ProtocolNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


@blueprint.context_processor
def directory_words() -> dict[str, Any]:
    return {
        "kind_label": wording.kind_label,
        "organization_kind_label": wording.organization_kind_label,
        "capacity_words": wording.capacity_words,
        "note_kind_label": wording.note_kind_label,
        "agreement_status_label": wording.agreement_status_label,
        "need_label": wording.need_label,
        "duration_words": wording.duration_words,
        "language_names": wording.language_names,
        "organization_needs": _needs_of,
        "protocol_title": _protocol_title,
        "parameter_title": _parameter_title,
        "may_edit_organization": operations.may_edit_organization,
        "may_create_organization": operations.may_create_organization,
        "may_create_partnership": operations.may_create_partnership,
        "may_edit_partnership": operations.may_edit_partnership,
        "may_propose_agreement": operations.may_propose_agreement,
        "may_confirm_agreement": operations.may_confirm_agreement,
        "actor": current_user.actor if current_user.is_authenticated else None,
    }


def _needs_of(organization: Organization) -> list[Need]:
    """The needs an organization covers, in the page language's alphabetical order."""
    return sorted(
        queries.organization_needs(organization), key=lambda n: queries.folded(wording.need_label(n))
    )


def _actor() -> Actor:
    return current_user.actor


def _done(message: str, endpoint: str, anchor: str | None = None, **values: Any) -> Response:
    """After a change: say so, and send the browser to see the result (303: GET it)."""
    flash(message, "success")
    return redirect(url_for(endpoint, _anchor=anchor, **values), code=303)


# Organizations ----------------------------------------------------------------------


@blueprint.route("/")
def index() -> str:
    form = SearchForm(formdata=request.args)
    labels = _need_choices()
    form.need.choices = options([("", _("Any need")), *labels])
    text = (form.q.data or "").strip() if form.validate() else ""
    need = form.need.data if form.need.data in {code for code, _label in labels} else None
    organizations = queries.search_organizations(db(), text=text, need_code=need)
    return render_template(
        "directory/index.html",
        form=form,
        organizations=organizations,
        searched=bool(text or need),
        need_code=need,
    )


@blueprint.route("/organizations/<int:organization_id>")
def organization(organization_id: int) -> str:
    found = queries.get_organization(db(), organization_id)
    rows = queries.partnerships_of(db(), found.id, request_clock())
    return render_template("directory/organization.html", organization=found, partnerships=rows)


@blueprint.route("/organizations/new", methods=["GET", "POST"])
def new_organization() -> str | Response:
    if not operations.may_create_organization(_actor()):
        abort(403)
    form = OrganizationForm()
    if form.validate_on_submit():
        try:
            created = operations.create_organization(
                db(), _actor(), _organization_details(form), clock=request_clock()
            )
        except RuleBroken as error:
            form.name.errors.append(_rule_message(error.rule))
        else:
            return _done(
                _("The organization is added to the directory."), ".organization", organization_id=created.id
            )
    return render_template("directory/organization_form.html", form=form, organization=None)


@blueprint.route("/organizations/<int:organization_id>/edit", methods=["GET", "POST"])
def edit_organization(organization_id: int) -> str | Response:
    found = queries.get_organization(db(), organization_id)
    if not operations.may_edit_organization(_actor(), found.id):
        abort(403)
    form = OrganizationForm(data=_organization_data(found))
    if form.validate_on_submit():
        try:
            operations.update_organization(
                db(), _actor(), found.id, _organization_details(form), clock=request_clock()
            )
        except RuleBroken as error:
            form.name.errors.append(_rule_message(error.rule))
        else:
            return _done(
                _("The organization's details are saved."), ".organization", organization_id=found.id
            )
    return render_template("directory/organization_form.html", form=form, organization=found)


@blueprint.route("/organizations/<int:organization_id>/services/new", methods=["GET", "POST"])
def new_service(organization_id: int) -> str | Response:
    found = queries.get_organization(db(), organization_id)
    if not operations.may_edit_organization(_actor(), found.id):
        abort(403)
    form = ServiceForm()
    form.needs.choices = options(_need_choices())
    if form.validate_on_submit():
        operations.add_service(db(), _actor(), found.id, _service_details(form), clock=request_clock())
        return _done(_("The service is added."), ".organization", "services", organization_id=found.id)
    return render_template("directory/service_form.html", form=form, organization=found, service=None)


@blueprint.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
def edit_service(service_id: int) -> str | Response:
    service = queries.get_service(db(), service_id)
    if not operations.may_edit_organization(_actor(), service.organization_id):
        abort(403)
    form = ServiceForm(
        data={
            "name": service.name,
            "description": service.description,
            "needs": [n.code for n in service.needs],
        }
    )
    form.needs.choices = options(_need_choices())
    if form.validate_on_submit():
        operations.update_service(db(), _actor(), service.id, _service_details(form), clock=request_clock())
        return _done(
            _("The service is saved."), ".organization", "services", organization_id=service.organization_id
        )
    organization_ = queries.get_organization(db(), service.organization_id)
    return render_template(
        "directory/service_form.html", form=form, organization=organization_, service=service
    )


@blueprint.route("/services/<int:service_id>/remove", methods=["POST"])
def remove_service(service_id: int) -> Response:
    service = queries.get_service(db(), service_id)
    organization_id = service.organization_id
    operations.remove_service(db(), _actor(), service.id, clock=request_clock())
    return _done(_("The service is removed."), ".organization", "services", organization_id=organization_id)


# Partnerships -------------------------------------------------------------------------


@blueprint.route("/partnerships")
def partnerships() -> str:
    """My organization's partnerships; every partnership for the regional admin."""
    organization_id = _actor().organization_id
    rows = queries.partnerships_of(db(), organization_id, request_clock())
    mine = db().get(Organization, organization_id) if organization_id is not None else None
    return render_template(
        "directory/partnerships.html", rows=rows, organization=mine, today=queries.today(request_clock())
    )


@blueprint.route("/partnerships/new", methods=["GET", "POST"])
def new_partnership() -> str | Response:
    actor = _actor()
    if not operations.may_create_partnership(actor):
        abort(403)
    choices = queries.organization_choices(db())
    form = NewPartnershipForm()
    if actor.organization_id is not None:
        del form.organization  # a coordinator records her own organization's partnerships
        mine = db().get(Organization, actor.organization_id)
        form.organization_contact.label.text = _("Contact at %(name)s", name=mine.name)
        others = [c for c in choices if c[0] != actor.organization_id]
        form.partner.choices = options([(0, _("Choose…")), *others])
    else:
        mine = None
        form.organization.choices = options([(0, _("Choose…")), *choices])
        form.partner.choices = options([(0, _("Choose…")), *choices])
    if request.method == "GET" and request.args.get("partner", type=int):
        form.partner.data = request.args.get("partner", type=int)
    if form.validate_on_submit():
        organization_id = actor.organization_id or form.organization.data
        try:
            created = operations.create_partnership(
                db(),
                actor,
                organization_id,
                form.partner.data,
                _terms(
                    form,
                    {
                        organization_id: form.organization_contact.data,
                        form.partner.data: form.partner_contact.data,
                    },
                    active=True,
                ),
                clock=request_clock(),
            )
        except RuleBroken as error:
            form.partner.errors.append(_rule_message(error.rule))
        except DirectoryNotFound:
            form.partner.errors.append(_("Choose the partner organization."))
        else:
            return _done(_("The partnership is recorded."), ".partnership", partnership_id=created.id)
    return render_template("directory/partnership_form.html", form=form, partnership=None, mine=mine)


@blueprint.route("/partnerships/<int:partnership_id>")
def partnership(partnership_id: int) -> str:
    found = queries.get_partnership(db(), partnership_id)
    return _partnership_page(found, NoteForm())


@blueprint.route("/partnerships/<int:partnership_id>/edit", methods=["GET", "POST"])
def edit_partnership(partnership_id: int) -> str | Response:
    found = queries.get_partnership(db(), partnership_id)
    if not operations.may_edit_partnership(_actor(), found):
        abort(403)
    form = EditPartnershipForm(
        data={
            "kinds": list(found.kinds),
            "formal": "formal" if found.formal else "informal",
            "description": found.description,
            "review_every_months": found.review_every_months,
            "started_on": found.started_on,
            "first_contact": found.first_contact,
            "second_contact": found.second_contact,
            "active": found.active,
        }
    )
    form.first_contact.label.text = _("Contact at %(name)s", name=found.first_organization.name)
    form.second_contact.label.text = _("Contact at %(name)s", name=found.second_organization.name)
    if form.validate_on_submit():
        contacts = {
            found.first_organization_id: form.first_contact.data,
            found.second_organization_id: form.second_contact.data,
        }
        try:
            operations.update_partnership(
                db(),
                _actor(),
                found.id,
                _terms(form, contacts, active=form.active.data),
                clock=request_clock(),
            )
        except RuleBroken as error:
            form.kinds.errors.append(_rule_message(error.rule))
        else:
            return _done(_("The partnership is saved."), ".partnership", partnership_id=found.id)
    return render_template("directory/partnership_form.html", form=form, partnership=found, mine=None)


@blueprint.route("/partnerships/<int:partnership_id>/notes", methods=["GET"])
def notes_address(partnership_id: int) -> Response:
    """The address a refused trace's page shows (its language link, a reload): the partnership's page."""
    return redirect(url_for(".partnership", partnership_id=partnership_id), 303)


@blueprint.route("/partnerships/<int:partnership_id>/notes", methods=["POST"])
def add_note(partnership_id: int) -> str | Response:
    found = queries.get_partnership(db(), partnership_id)
    if not operations.may_add_note(_actor(), found):
        abort(403)
    form = NoteForm()
    if form.validate_on_submit():
        operations.add_partnership_note(
            db(), _actor(), found.id, kind=form.kind.data, text=form.text.data, clock=request_clock()
        )
        return _done(_("The trace is added."), ".partnership", "traces", partnership_id=found.id)
    return _partnership_page(found, form)


def _partnership_page(found: Partnership, note_form: NoteForm) -> str:
    actor = _actor()
    on = queries.today(request_clock())
    read_notes = operations.may_read_notes(actor, found)
    return render_template(
        "directory/partnership.html",
        partnership=found,
        versions=queries.agreement_versions(db(), found, on),
        notes=queries.partnership_notes(db(), found) if read_notes else None,
        note_form=note_form if operations.may_add_note(actor, found) else None,
        next_review_on=queries.next_review_on(db(), found),
        today=on,
        actor=actor,
    )


# Referral agreements ------------------------------------------------------------------


@blueprint.route("/partnerships/<int:partnership_id>/agreements/new", methods=["GET", "POST"])
def propose_agreement(partnership_id: int) -> str | Response:
    found = queries.get_partnership(db(), partnership_id)
    if not operations.may_propose_agreement(_actor(), found):
        abort(403)
    if not found.active:
        flash(_rule_message("partnership_inactive"), "error")
        return redirect(url_for(".partnership", partnership_id=found.id), code=303)
    library = protocol_library()
    versions = queries.agreement_versions(db(), found, queries.today(request_clock()))
    previous = versions[0].agreement if versions else None
    default = previous.protocol_name if previous else "standard"
    name = request.args.get("protocol") or default
    protocol = library.get(name)
    choices = [(p.name, wording.protocol_title(p)) for p in library.latest()]
    chooser = ProtocolChoiceForm(formdata=None, data={"protocol": protocol.name})
    chooser.protocol.choices = options(choices)
    form = _agreement_form(found, protocol, previous)
    form.urgent_protocol.choices = options(choices)
    if form.validate_on_submit():
        # The protocol itself checks the numbers against its bounds, zero and negatives included.
        values = {
            parameter: f"{getattr(form, PARAMETER_PREFIX + parameter).data} {_unit(spec)}"
            for parameter, spec in protocol.spec.parameters.items()
        }
        terms = AgreementTerms(
            protocol_name=protocol.name,
            urgent_protocol_name=form.urgent_protocol.data,
            effective_on=form.effective_on.data,
            parameters=values,
            contacts={
                found.first_organization_id: form.first_contact.data,
                found.second_organization_id: form.second_contact.data,
            },
            information_needed=form.information_needed.data or "",
        )
        try:
            agreement = operations.propose_agreement(
                db(), library, _actor(), found.id, terms, clock=request_clock()
            )
        except ParameterError as error:
            _parameter_error(form, protocol, error, values)
        except RuleBroken as error:
            if error.rule == "effective_in_past":
                form.effective_on.errors.append(_rule_message(error.rule))
            else:
                form.form_errors.append(_rule_message(error.rule))
        else:
            other = (
                found.second_organization
                if _actor().organization_id == found.first_organization_id
                else found.first_organization
            )
            message = _(
                "Version %(version)s of the referral agreement is proposed. "
                "The coordinator of %(name)s must now confirm it.",
                version=agreement.version,
                name=other.name,
            )
            return _done(message, ".partnership", "agreements", partnership_id=found.id)
    parameters = [
        (
            getattr(form, PARAMETER_PREFIX + parameter),
            _(
                "Allowed: %(bounds)s. The protocol's default: %(default)s.",
                bounds=wording.bounds_words(spec.min, spec.max),
                default=wording.duration_words(spec.default),
            ),
        )
        for parameter, spec in protocol.spec.parameters.items()
    ]
    return render_template(
        "directory/agreement_form.html",
        partnership=found,
        protocol=protocol,
        chooser=chooser,
        form=form,
        parameters=parameters,
        previous=previous,
    )


@blueprint.route("/partnerships/<int:partnership_id>/agreements/<int:version>/confirm", methods=["POST"])
def confirm_agreement(partnership_id: int, version: int) -> Response:
    found = queries.get_partnership(db(), partnership_id)
    try:
        agreement = operations.confirm_agreement(db(), _actor(), found.id, version, clock=request_clock())
    except RuleBroken as error:
        flash(_rule_message(error.rule), "error")
        return redirect(
            url_for(".partnership", partnership_id=partnership_id, _anchor="agreements"), code=303
        )
    message = _(
        "Version %(version)s of the referral agreement is confirmed. "
        "It applies to referrals opened from %(date)s.",
        version=agreement.version,
        date=day(agreement.effective_on),
    )
    return _done(message, ".partnership", "agreements", partnership_id=partnership_id)


# Helpers --------------------------------------------------------------------------------


def _rule_message(rule: str) -> str:
    messages = {
        "same_organization": _("An organization cannot be its own partner: choose another organization."),
        "already_partners": _("These two organizations already have a partnership: edit that one instead."),
        "name_taken": _("Another organization already has this name."),
        "kind_needed_by_agreement": _(
            "This partnership has a referral agreement: keep the kind “Referral protocols”."
        ),
        "partnership_inactive": _(
            "This partnership is not active: make it active again before agreeing on referrals."
        ),
        "effective_in_past": _("Choose today or a later date."),
        "own_proposal": _(
            "Your organization proposed this version: the other organization's coordinator confirms it."
        ),
        "already_confirmed": _("This version is already confirmed; a confirmed version never changes."),
        "not_newest": _("A newer version was proposed since: only the newest version can be confirmed."),
        "changed_meanwhile": _(
            "Someone changed this agreement in the meantime. Reload the page and try again."
        ),
    }
    return messages.get(rule, _("This change is not possible."))


def _need_choices() -> list[tuple[str, str]]:
    needs = queries.active_needs(db())
    return sorted(((n.code, wording.need_label(n)) for n in needs), key=lambda c: queries.folded(c[1]))


def _organization_data(organization: Organization) -> dict[str, Any]:
    return {
        "name": organization.name,
        "kind": organization.kind,
        "mandate": organization.mandate,
        "territory": organization.territory,
        "clienteles": organization.clienteles,
        "languages": ", ".join(organization.languages or []),
        "accessibility": organization.accessibility,
        "hours": organization.hours,
        "phone": organization.phone,
        "referral_email": organization.referral_email,
        "capacity_status": organization.capacity_status or "",
        "public_address": organization.public_address,
        "address_confidential": organization.address_confidential,
        "what_to_bring": organization.what_to_bring,
    }


def _organization_details(form: OrganizationForm) -> OrganizationDetails:
    return OrganizationDetails(
        name=form.name.data,
        kind=form.kind.data or "",
        mandate=form.mandate.data or "",
        territory=form.territory.data or "",
        clienteles=form.clienteles.data or "",
        languages=tuple(part.strip() for part in (form.languages.data or "").split(",") if part.strip()),
        accessibility=form.accessibility.data or "",
        hours=form.hours.data or "",
        phone=form.phone.data or "",
        referral_email=form.referral_email.data or "",
        capacity_status=form.capacity_status.data or None,
        public_address=form.public_address.data or "",
        address_confidential=bool(form.address_confidential.data),
        what_to_bring=form.what_to_bring.data or "",
    )


def _service_details(form: ServiceForm) -> ServiceDetails:
    return ServiceDetails(
        name=form.name.data, description=form.description.data or "", need_codes=tuple(form.needs.data or ())
    )


def _terms(
    form: NewPartnershipForm | EditPartnershipForm, contacts: dict[int, str], *, active: bool
) -> PartnershipTerms:
    return PartnershipTerms(
        kinds=tuple(form.kinds.data or ()),
        formal=form.formal.data == "formal",
        description=form.description.data or "",
        contacts={key: value or "" for key, value in contacts.items()},
        review_every_months=form.review_every_months.data,
        started_on=form.started_on.data,
        active=active,
    )


def _protocol_title(name: str) -> str:
    try:
        return wording.protocol_title(protocol_library().get(name))
    except ProtocolNotFound:
        return name


def _parameter_title(protocol_name: str, parameter: str) -> str:
    try:
        spec = protocol_library().get(protocol_name).spec.parameters.get(parameter)
    except ProtocolNotFound:
        spec = None
    return wording.parameter_title(spec) if spec else parameter


def _unit(spec: Any) -> str:
    return Duration.parse(spec.min).unit.replace("_", " ")


def _agreement_form(partnership: Partnership, protocol: Protocol, previous: Any) -> AgreementForm:
    """The agreement form for `protocol`, filled from the previous version when there is one."""
    parameters = {
        name: (
            _(
                "%(title)s (in %(unit)s)",
                title=wording.parameter_title(spec),
                unit=wording.unit_name(Duration.parse(spec.min).unit),
            ),
            Duration.parse(spec.min).amount,
            Duration.parse(spec.max).amount,
        )
        for name, spec in protocol.spec.parameters.items()
    }
    data: dict[str, Any] = {
        "urgent_protocol": "urgent",
        "first_contact": partnership.first_contact,
        "second_contact": partnership.second_contact,
        "effective_on": queries.today(request_clock()),
    }
    values = {name: spec.default for name, spec in protocol.spec.parameters.items()}
    if previous is not None:
        data |= {
            "urgent_protocol": previous.urgent_protocol_name,
            "first_contact": previous.first_contact,
            "second_contact": previous.second_contact,
            "information_needed": previous.information_needed,
        }
        if previous.protocol_name == protocol.name:
            values |= {k: v for k, v in previous.parameters.items() if k in values}
    for name, value in values.items():
        data[PARAMETER_PREFIX + name] = Duration.parse(value).amount
    form = agreement_form(parameters, data=data)
    form.first_contact.label.text = _("Contact at %(name)s", name=partnership.first_organization.name)
    form.second_contact.label.text = _("Contact at %(name)s", name=partnership.second_organization.name)
    return form


def _parameter_error(
    form: AgreementForm, protocol: Protocol, error: ParameterError, values: dict[str, str]
) -> None:
    """Tie the protocol's refusal to the field it is about, in the page's language."""
    spec = protocol.spec.parameters.get(error.parameter)
    field = getattr(form, PARAMETER_PREFIX + error.parameter, None)
    if spec is not None and field is not None and _out_of_bounds(values.get(error.parameter, ""), spec):
        field.errors.append(_("Choose a value %(bounds)s.", bounds=wording.bounds_words(spec.min, spec.max)))
        return
    # Otherwise a later step of a deadline does not come after the step before it.
    message = _(
        "Each step of a deadline must come after the one before it (the escalation after the reminder)."
    )
    if field is not None:
        field.errors.append(message)
    else:
        form.form_errors.append(message)


def _out_of_bounds(value: str, spec: Any) -> bool:
    try:
        duration = Duration.parse(value)
    except ValueError:
        return True
    return not Duration.parse(spec.min) <= duration <= Duration.parse(spec.max)

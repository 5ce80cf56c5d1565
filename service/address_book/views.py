"""Address book pages (*carnet d'adresses*): her organization's book, its entries, their exports, and
the contacts of a partnership chosen from it.

Every member of an organization reads its book; its coordinators change it.
Another organization's entries do not exist for her (404). Changes go through
`service.address_book.operations`, which also write the audit log.
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

from service.accounts.models import Role
from service.address_book import exports
from service.address_book import operations
from service.address_book import queries
from service.address_book.errors import EntryNotFound
from service.address_book.errors import EntryRefused
from service.address_book.forms import BookSearchForm
from service.address_book.forms import PartnershipContactsForm
from service.address_book.forms import PersonForm
from service.address_book.models import ContactPerson
from service.address_book.operations import PersonDetails
from service.directory import queries as directory_queries
from service.directory.errors import DirectoryNotFound
from service.directory.forms import options
from service.directory.models import Organization
from service.directory.models import Partnership
from service.referrals.actors import Actor
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.templating import current_locale

blueprint = Blueprint("address_book", __name__, url_prefix="/address-book")


@blueprint.before_request
@login_required
def members_only() -> None:
    """A signed-in member of an organization: the book is her organization's (a regional admin has none)."""
    if current_user.organization_id is None:
        abort(403)


@blueprint.errorhandler(EntryNotFound)
@blueprint.errorhandler(DirectoryNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


@blueprint.app_context_processor
def address_book_words() -> dict[str, Any]:
    """What the directory's pages show of the reader's book: an organization's people, a partnership's."""
    return {"book_people_at": _book_people_at, "partnership_book_contacts": _partnership_book_contacts}


def _actor() -> Actor:
    return current_user.actor


# The book -----------------------------------------------------------------------------


@blueprint.route("/")
def index() -> str:
    form = BookSearchForm(formdata=request.args)
    valid = form.validate()
    text = (form.q.data or "").strip() if valid else ""
    include_left = bool(form.include_left.data) if valid else False
    people = queries.book(db(), current_user.organization_id, text=text, include_left=include_left)
    return render_template(
        "address_book/index.html",
        form=form,
        people=people,
        searched=bool(text),
        may_edit=operations.may_edit_book(_actor()),
    )


@blueprint.route("/new", methods=["GET", "POST"])
def new_person() -> str | Response:
    if not operations.may_edit_book(_actor()):
        abort(403)
    form = _person_form()
    if request.method == "GET" and request.args.get("organization", type=int):
        form.organization.data = request.args.get("organization", type=int)
    if form.validate_on_submit():
        try:
            person = operations.add_person(db(), _actor(), _details(form), clock=request_clock())
        except EntryRefused as error:
            _explain(form, error.rule)
        else:
            return _done(_("%(name)s is added to the address book.", name=person.name), person.id)
    return render_template("address_book/person_form.html", form=form, person=None)


@blueprint.route("/<int:person_id>")
def person(person_id: int) -> str:
    found = operations.entry_in_book(db(), _actor(), person_id)
    return render_template(
        "address_book/person.html",
        person=found,
        partnerships=queries.partnerships_of_person(db(), found.id),
        may_edit=operations.may_edit_book(_actor()),
    )


@blueprint.route("/<int:person_id>/edit", methods=["GET", "POST"])
def edit_person(person_id: int) -> str | Response:
    found = operations.entry_in_book(db(), _actor(), person_id)
    if not operations.may_edit_book(_actor()):
        abort(403)
    form = _person_form(found)
    if form.validate_on_submit():
        try:
            operations.update_person(db(), _actor(), found.id, _details(form), clock=request_clock())
        except EntryRefused as error:
            _explain(form, error.rule)
        else:
            return _done(_("The entry is saved."), found.id)
    return render_template("address_book/person_form.html", form=form, person=found)


@blueprint.route("/<int:person_id>/left", methods=["POST"])
def mark_left(person_id: int) -> Response:
    found = operations.mark_left(db(), _actor(), person_id, clock=request_clock())
    return _done(
        _("%(name)s is marked as having left her organization: she is out of the lists.", name=found.name),
        found.id,
    )


@blueprint.route("/<int:person_id>/back", methods=["POST"])
def mark_back(person_id: int) -> Response:
    found = operations.mark_back(db(), _actor(), person_id, clock=request_clock())
    return _done(_("%(name)s is back in the lists.", name=found.name), found.id)


@blueprint.route("/<int:person_id>/erase", methods=["GET", "POST"])
def erase_person(person_id: int) -> str | Response:
    """Asks first (GET), then erases (POST): an erased entry cannot come back."""
    found = operations.entry_in_book(db(), _actor(), person_id)
    if not operations.may_edit_book(_actor()):
        abort(403)
    if request.method == "GET":
        return render_template("address_book/erase.html", person=found)
    name = operations.erase_person(db(), _actor(), person_id, clock=request_clock())
    flash(_("%(name)s is erased from the address book.", name=name), "success")
    return redirect(url_for(".index"), code=303)


# Exports ------------------------------------------------------------------------------


@blueprint.route("/address-book.vcf")
def export_vcard() -> Response:
    people = queries.book(db(), current_user.organization_id)
    operations.record_export(db(), _actor(), "vcard", clock=request_clock())
    return Response(
        exports.vcard_text(people),
        mimetype="text/vcard",
        headers={"Content-Disposition": f'attachment; filename="{_file_name()}.vcf"'},
    )


@blueprint.route("/address-book.csv")
def export_csv() -> Response:
    people = queries.book(db(), current_user.organization_id)
    operations.record_export(db(), _actor(), "csv", clock=request_clock())
    return Response(
        exports.csv_file(people, current_locale()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_file_name()}.csv"'},
    )


# A partnership's contacts ------------------------------------------------------------


@blueprint.route("/partnerships/<int:partnership_id>", methods=["GET", "POST"])
def partnership_contacts(partnership_id: int) -> str | Response:
    """A coordinator of a side names the partnership's contacts, on both sides, from her book."""
    found = directory_queries.get_partnership(db(), partnership_id)
    sides = (found.first_organization, found.second_organization)
    if current_user.organization_id not in {side.id for side in sides}:
        abort(404)  # not her organization's partnership: her book has nothing to say there
    if not operations.may_edit_book(_actor()):
        abort(403)
    named = set(queries.named_by(db(), found.id, current_user.organization_id))
    form = PartnershipContactsForm(
        data=None if request.method == "POST" else {"first_side": sorted(named), "second_side": sorted(named)}
    )
    for field, side in ((form.first_side, sides[0]), (form.second_side, sides[1])):
        field.label.text = _("Contact people at %(name)s", name=side.name)
        field.choices = options(_person_choices(side, named))
    if form.validate_on_submit():
        chosen = [*(form.first_side.data or ()), *(form.second_side.data or ())]
        try:
            operations.name_partnership_contacts(db(), _actor(), found.id, chosen, clock=request_clock())
        except EntryRefused:
            form.form_errors.append(
                _("Someone changed these contact people in the meantime. Reload the page and try again.")
            )
        else:
            flash(_("The partnership's contact people are saved."), "success")
            return redirect(
                url_for("directory.partnership", partnership_id=found.id, _anchor="contacts"), 303
            )
    return render_template("address_book/partnership_contacts.html", form=form, partnership=found)


# Helpers --------------------------------------------------------------------------------


def _person_choices(side: Organization, named: set[int]) -> list[tuple[int, str]]:
    """Her book's people at `side` who are still there, and those already named who left (to unname)."""
    people = [
        p
        for p in queries.book(db(), current_user.organization_id, include_left=True)
        if p.organization_id == side.id
    ]
    shown = [p for p in people if not p.has_left or p.id in named]
    return [(p.id, _choice_label(p)) for p in shown]


def _choice_label(person: ContactPerson) -> str:
    label = f"{person.name} — {person.role}" if person.role else person.name
    return _("%(label)s (left the organization)", label=label) if person.has_left else label


def _book_people_at(organization_id: int) -> list[ContactPerson]:
    """The people the reader's book has at an organization, for its directory page; none for outsiders."""
    if not current_user.is_authenticated or current_user.organization_id is None:
        return []
    return queries.people_at(db(), current_user.organization_id, organization_id)


def _partnership_book_contacts(partnership: Partnership) -> list[ContactPerson] | None:
    """The partnership's named contacts, for its two organizations and the regional admin; None for others.

    Naming someone on a partnership is sharing her work details with the other side.
    """
    if not current_user.is_authenticated:
        return None
    sides = {partnership.first_organization_id, partnership.second_organization_id}
    if current_user.organization_id not in sides and current_user.role != Role.REGIONAL_ADMIN:
        return None
    return queries.named_contacts(db(), partnership.id)


def _person_form(person: ContactPerson | None = None) -> PersonForm:
    data = None
    if person is not None and request.method == "GET":
        data = {
            "name": person.name,
            "organization": person.organization_id,
            "role": person.role,
            "email": person.email,
            "phone": person.phone,
            "languages": ", ".join(person.languages or []),
            "notes": person.notes,
        }
    form = PersonForm(data=data)
    form.organization.choices = options([(0, _("Choose…")), *directory_queries.organization_choices(db())])
    return form


def _details(form: PersonForm) -> PersonDetails:
    return PersonDetails(
        name=form.name.data,
        organization_id=form.organization.data,
        role=form.role.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        languages=tuple(part.strip() for part in (form.languages.data or "").split(",") if part.strip()),
        notes=form.notes.data or "",
    )


def _explain(form: PersonForm, rule: str) -> None:
    if rule == "unknown_organization":
        form.organization.errors.append(_("Choose the organization where she works."))
    else:
        form.name.errors.append(_("Enter the person's name."))


def _done(message: str, person_id: int) -> Response:
    """After a change: say so, and send the browser to the entry (303: GET it)."""
    flash(message, "success")
    return redirect(url_for(".person", person_id=person_id), code=303)


def _file_name() -> str:
    return _("address-book")

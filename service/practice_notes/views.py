"""Practice notes pages (*clés d'intervention*): the list with its search and filters, a note with its
versions, and the forms to write, edit and withdraw one.

A note is read by its organization, by the organizations in an active
partnership with it when shared with partners, by everyone when shared with
the network; for anyone else it does not exist (404). Changes go through
`service.practice_notes.operations`, which also write the audit log.
"""

from __future__ import annotations

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

from service.accounts.models import Role
from service.directory.forms import options
from service.directory.models import Need
from service.practice_notes import queries
from service.practice_notes.access import may_change
from service.practice_notes.access import may_write
from service.practice_notes.errors import NoteNotFound
from service.practice_notes.errors import NoteRefused
from service.practice_notes.forms import NoteForm
from service.practice_notes.forms import NoteSearchForm
from service.practice_notes.models import PracticeNote
from service.practice_notes.operations import NoteDetails
from service.practice_notes.operations import note_for
from service.practice_notes.operations import revise_note
from service.practice_notes.operations import withdraw_note
from service.practice_notes.operations import write_note
from service.practice_notes.rendering import note_html
from service.referrals.actors import Actor
from service.unmet_needs.queries import directory_values
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.inputs import MAX_ID
from service.web.templating import current_locale

blueprint = Blueprint("practice_notes", __name__, url_prefix="/practice-notes")


@blueprint.before_request
@login_required
def signed_in_only() -> None:
    """Any signed-in person reads what her organization may read; the views check who writes."""


@blueprint.errorhandler(NoteNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


def _actor() -> Actor:
    return current_user.actor


# The list -------------------------------------------------------------------------------------


@blueprint.route("/")
def index() -> str:
    session = db()
    form = NoteSearchForm(formdata=request.args)
    labels = _need_labels()
    form.need.choices = options([("", _("Every need")), *labels.items()])
    form.clientele.choices = options(
        [("", _("Every clientele")), *((c, c) for c in queries.clienteles_written(session, _actor()))]
    )
    valid = form.validate()
    text = (form.q.data or "").strip() if valid else ""
    need = (form.need.data or "") if valid else ""
    clientele = (form.clientele.data or "") if valid else ""
    page = request.args.get("page", default=1, type=int) or 1
    found = queries.find_notes(
        session, _actor(), text=text, need=need, clientele=clientele, page=min(max(page, 1), MAX_ID)
    )
    return render_template(
        "practice_notes/index.html",
        form=form,
        found=found,
        filters={"q": text, "need": need, "clientele": clientele},
        filtered=bool(text or need or clientele),
        need_labels=labels,
        may_write=may_write(_actor()),
    )


# A note ---------------------------------------------------------------------------------------


@blueprint.route("/new", methods=["GET", "POST"])
def new_note() -> str | Response:
    if not may_write(_actor()):
        abort(403)
    form = _note_form()
    if form.validate_on_submit():
        try:
            note = write_note(db(), _actor(), _details(form), clock=request_clock())
        except NoteRefused as error:
            _explain(form, error.rule)
        else:
            flash(_("The practice note is saved."), "success")
            return redirect(url_for(".note", note_id=note.id), code=303)
    return render_template("practice_notes/form.html", form=form, note=None)


@blueprint.route("/<int:note_id>")
def note(note_id: int) -> str:
    found = note_for(db(), _actor(), note_id)
    return render_template(
        "practice_notes/note.html",
        note=found,
        shown=found.versions[0],
        body=note_html(found.body),
        need_labels=_need_labels(include_inactive=True),
        may_change=may_change(_actor(), found),
    )


@blueprint.route("/<int:note_id>/versions/<int:version>")
def version(note_id: int, version: int) -> str:
    found = note_for(db(), _actor(), note_id)
    shown = next((v for v in found.versions if v.version == version), None)
    if shown is None:
        abort(404)
    return render_template(
        "practice_notes/note.html",
        note=found,
        shown=shown,
        body=note_html(shown.body),
        need_labels=_need_labels(include_inactive=True),
        may_change=False,
    )


@blueprint.route("/<int:note_id>/edit", methods=["GET", "POST"])
def edit_note(note_id: int) -> str | Response:
    found = note_for(db(), _actor(), note_id)
    if not may_change(_actor(), found):
        abort(403)
    form = _note_form(found)
    if form.validate_on_submit():
        read_version = _read_version(form)
        try:
            if read_version is None:
                raise NoteRefused("changed_meanwhile")
            revise_note(db(), _actor(), found.id, read_version, _details(form), clock=request_clock())
        except NoteRefused as error:
            _explain(form, error.rule)
        else:
            flash(_("The practice note is saved as a new version."), "success")
            return redirect(url_for(".note", note_id=found.id), code=303)
    return render_template("practice_notes/form.html", form=form, note=found)


@blueprint.route("/<int:note_id>/withdraw", methods=["GET", "POST"])
def withdraw(note_id: int) -> str | Response:
    """Asks first (GET), then deletes the note and its versions (POST): it cannot come back."""
    found = note_for(db(), _actor(), note_id)
    if not may_change(_actor(), found) or current_user.role != Role.COORDINATOR:
        abort(403)
    if request.method == "GET":
        return render_template("practice_notes/withdraw.html", note=found)
    title = withdraw_note(db(), _actor(), found.id, clock=request_clock())
    flash(_("The practice note “%(title)s” and its versions are deleted.", title=title), "success")
    return redirect(url_for(".index"), code=303)


# Helpers --------------------------------------------------------------------------------------


def _need_labels(*, include_inactive: bool = False) -> dict[str, str]:
    """Need code -> label in her language, by label."""
    query = select(Need) if include_inactive else select(Need).where(Need.active.is_(True))
    english = current_locale() == "en"
    labels = {n.code: n.label_en if english else n.label_fr for n in db().scalars(query)}
    return dict(sorted(labels.items(), key=lambda item: item[1].casefold()))


def _note_form(note: PracticeNote | None = None) -> NoteForm:
    data = None
    if note is not None and request.method == "GET":
        data = {
            "title": note.title,
            "body": note.body,
            "needs": [n.code for n in note.needs],
            "clientele": note.clientele,
            "visibility": note.visibility,
        }
    form = NoteForm(data=data)
    if note is not None and request.method == "GET":
        form.read_version.data = str(note.version)
    needs = _need_labels()
    for kept in note.needs if note else ():  # a need since retired stays ticked until she unticks it
        needs.setdefault(kept.code, kept.label_en if current_locale() == "en" else kept.label_fr)
    form.needs.choices = options(needs.items())
    clienteles = directory_values(db(), "clienteles")
    if note is not None and note.clientele and note.clientele not in clienteles:
        clienteles.append(note.clientele)
    form.clientele.choices = options([("", _("Every clientele")), *((c, c) for c in clienteles)])
    return form


def _details(form: NoteForm) -> NoteDetails:
    return NoteDetails(
        title=form.title.data or "",
        body=form.body.data or "",
        visibility=form.visibility.data or "",
        clientele=form.clientele.data or "",
        need_codes=tuple(form.needs.data or ()),
    )


def _read_version(form: NoteForm) -> int | None:
    sent = (form.read_version.data or "").strip()
    return int(sent) if sent.isascii() and sent.isdigit() and len(sent) < 10 else None


def _explain(form: NoteForm, rule: str) -> None:
    if rule == "changed_meanwhile":
        form.form_errors.append(
            _("Someone saved another version of this note in the meantime. Reload the page and try again.")
        )
    elif rule == "title_needed":
        form.title.errors.append(_("Enter a title."))
    elif rule == "body_needed":
        form.body.errors.append(_("Write the note."))
    elif rule == "unknown_need":
        form.needs.errors.append(_("Tick needs of the list."))
    elif rule == "unknown_visibility":
        form.visibility.errors.append(_("Choose who the note is shared with."))
    else:
        abort(403)

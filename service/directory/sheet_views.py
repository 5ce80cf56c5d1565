"""The regional admin's spreadsheet import: upload, map the columns, check (dry run), then import.

Between the upload and the import, the file waits in the database
(`held_imports`), found by a random token that only this browser's signed
session knows; it is deleted once imported, cancelled or replaced by another
upload. A directory file holds organizations' public details, never a woman's.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from service import extensions
from service.config import settings
from service.directory import held_imports
from service.directory import sheet_wording
from service.directory.operations import may_create_organization
from service.directory.sheet_columns import CONTACT_FIELDS
from service.directory.sheet_columns import FIELDS
from service.directory.sheet_columns import IGNORED
from service.directory.sheet_columns import ORGANIZATION_FIELDS
from service.directory.sheet_columns import SERVICE_FIELDS
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_import import SheetPlan
from service.directory.sheet_import import import_sheet
from service.directory.sheet_reading import Sheet
from service.directory.sheet_reading import SheetError
from service.directory.sheet_reading import read_sheet
from service.standards.taxonomy_map import TaxonomyMapError
from service.standards.taxonomy_map import configured_map
from service.web.clock import request_clock
from service.web.database import db
from service.web.forms import Form
from service.web.inputs import uploads_in_memory

blueprint = Blueprint("directory_import", __name__, url_prefix="/directory/import")
# The session's key for the token of the file held between upload and import.
HELD = "directory_import"
# What the page shows of each column, and of the plan: enough to check, not the whole file.
EXAMPLES = 3
SHOWN_CHANGES = 1000


class UploadForm(Form):
    sheet = FileField(
        _l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file to import."))]
    )


@blueprint.before_request
@login_required
def regional_admin_only() -> None:
    """The import writes the whole directory: the regional admin's job."""
    if request.endpoint == "directory_import.upload" and request.method == "POST":
        _check_upload_token()
    if not may_create_organization(current_user.actor):
        abort(403)


def _check_upload_token() -> None:
    """The upload's CSRF token, read under the import's own size limit: the app-wide check (which the
    upload is exempt from) would read a sheet under the pages' limit (1 MB) and refuse it unread."""
    request.max_content_length = settings().import_max_bytes + 64 * 1024
    uploads_in_memory()
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    try:
        extensions.csrf.protect()
    except RequestEntityTooLarge:
        return  # the upload's page says it, with the limit in words


@blueprint.route("/", methods=["GET", "POST"])
def upload() -> str | Response:
    limit = settings().import_max_bytes  # the request's own, set with its token's check above
    try:
        form = UploadForm()
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        form = UploadForm(formdata=None)
        form.sheet.errors = [sheet_wording.file_error_text(SheetError("too_large", limit_bytes=limit), _)]
        return render_template("directory/import_upload.html", form=form, limit=_size(limit)), 413
    if submitted:
        upload = form.sheet.data
        data = upload.read(limit + 1)
        try:
            read_sheet(data, upload.filename or "", max_bytes=limit)
        except SheetError as error:
            form.sheet.errors.append(sheet_wording.file_error_text(error, _))
        else:
            _hold(data, upload.filename or "")
            return redirect(url_for(".columns"), code=303)
    return render_template("directory/import_upload.html", form=form, limit=_size(limit))


# Its token is checked before the role, as the app-wide check does for every other form, but under
# the import's size limit (`_check_upload_token`).
extensions.csrf.exempt(upload)


def _size(limit: int) -> str:
    return sheet_wording.size_words(limit, _)


@blueprint.route("/columns", methods=["GET", "POST"])
def columns() -> str | Response:
    held = _held_sheet()
    if held is None:
        flash(_("Upload a file first: the one you had uploaded is no longer here."), "error")
        return redirect(url_for(".upload"), code=303)
    sheet, filename = held
    if request.method == "GET":
        return _columns_page(sheet, filename, guess_mapping(sheet.headers))
    mapping = [_chosen(request.form.get(f"column-{index}", "")) for index in range(len(sheet.headers))]
    checked = ",".join(mapping)
    committing = request.form.get("action") == "import" and request.form.get("checked") == checked
    try:
        plan = import_sheet(
            db(),
            current_user.actor,
            sheet,
            mapping,
            configured_map(),
            dry_run=not committing,
            clock=request_clock(),
        )
    except TaxonomyMapError:
        flash(
            _("The taxonomy mapping file (MAILLAGE_TAXONOMY_MAP) cannot be read: ask the technician."),
            "error",
        )
        return _columns_page(sheet, filename, mapping)
    if plan.written:
        _forget()
        flash(_imported_words(plan), "success")
        return redirect(url_for("directory.index"), code=303)
    if request.form.get("action") == "import" and not plan.refused:
        flash(_("The columns changed since the check: check the new result, then import."), "error")
    return _columns_page(sheet, filename, mapping, plan=plan, checked=checked, tried=committing)


@blueprint.route("/cancel", methods=["POST"])
def cancel() -> Response:
    _forget()
    flash(_("The import is cancelled; the file is deleted."), "success")
    return redirect(url_for(".upload"), code=303)


def _chosen(value: str) -> str:
    return value if value in FIELDS else IGNORED


def _columns_page(
    sheet: Sheet,
    filename: str,
    mapping: list[str],
    *,
    plan: SheetPlan | None = None,
    checked: str = "",
    tried: bool = False,
) -> str:
    examples = [
        [cells[index] for _line, cells in sheet.rows if cells[index]][:EXAMPLES]
        for index in range(len(sheet.headers))
    ]
    groups = [
        (_("Organization"), ORGANIZATION_FIELDS),
        (_("Service"), SERVICE_FIELDS),
        (_("Contact person"), CONTACT_FIELDS),
    ]
    return render_template(
        "directory/import_columns.html",
        sheet=sheet,
        filename=filename,
        mapping=mapping,
        examples=examples,
        groups=groups,
        field_label=lambda name: sheet_wording.field_label(name, _),
        problem_text=lambda problem: sheet_wording.problem_text(problem, _, sheet.headers),
        outcome_text=lambda outcome: sheet_wording.outcome_text(outcome, _),
        plan=plan,
        checked=checked,
        tried=tried,
        shown_changes=SHOWN_CHANGES,
    )


def _imported_words(plan: SheetPlan) -> str:
    return _(
        "Imported: %(created)s organization(s) created and %(updated)s updated; "
        "%(services_created)s service(s) created and %(services_updated)s updated.",
        created=plan.count("organization", "created"),
        updated=plan.count("organization", "updated"),
        services_created=plan.count("service", "created"),
        services_updated=plan.count("service", "updated"),
    )


# The held file ----------------------------------------------------------------------------


def _hold(data: bytes, filename: str) -> None:
    _forget()
    token = held_imports.hold(db(), data, Path(filename).name, request_clock()())
    session[HELD] = token


def _held_sheet() -> tuple[Sheet, str] | None:
    token = session.get(HELD)
    found = held_imports.held(db(), token) if isinstance(token, str) else None
    if found is None:
        return None
    try:
        sheet = read_sheet(found.content, found.filename, max_bytes=settings().import_max_bytes)
    except SheetError:
        return None
    return sheet, found.filename


def _forget() -> None:
    token = session.pop(HELD, None)
    if isinstance(token, str):
        held_imports.forget(db(), token)

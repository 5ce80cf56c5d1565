"""The regional admin's spreadsheet import: upload, map the columns, check (dry run), then import.

Between the upload and the import, the file waits in the data folder under a
random name that only this browser's signed session knows; it is deleted once
imported, cancelled or replaced by another upload. A directory file holds
organizations' public details, never a woman's.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import abort
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
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from service.config import settings
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

blueprint = Blueprint("directory_import", __name__, url_prefix="/directory/import")
HELD = "directory_import"
# A held file's name: when it came (app clock, seconds) and a random token only the session knows.
HELD_NAME = re.compile(r"^(\d{1,12})-[A-Za-z0-9_-]{32}$")
# A file whose import was left unfinished (the session ended) is deleted at the next upload after this.
LEFT_FOR = timedelta(hours=24)
# What the page shows of each column, and of the plan: enough to check, not the whole file.
EXAMPLES = 3
SHOWN_CHANGES = 1000


class UploadForm(FlaskForm):
    sheet = FileField(
        _l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file to import."))]
    )


@blueprint.before_request
@login_required
def regional_admin_only() -> None:
    """The import writes the whole directory: the regional admin's job."""
    if not may_create_organization(current_user.actor):
        abort(403)


@blueprint.route("/", methods=["GET", "POST"])
def upload() -> str | Response:
    limit = settings().import_max_bytes
    # A file larger than the pages' own limit is still refused unread, past this one.
    request.max_content_length = limit + 64 * 1024
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


def _folder() -> Path:
    return settings().data_dir / "imports"


def _hold(data: bytes, filename: str) -> None:
    _forget()
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = request_clock()()
    _delete_left_before(folder, int((now - LEFT_FOR).timestamp()))
    token = f"{int(now.timestamp())}-{secrets.token_urlsafe(24)}"
    path = folder / f"{token}.upload"
    path.write_bytes(data)
    path.chmod(0o600)
    session[HELD] = {"token": token, "filename": Path(filename).name[:120]}


def _held_path() -> tuple[Path, str] | None:
    held: Any = session.get(HELD)
    if not isinstance(held, dict) or not HELD_NAME.match(str(held.get("token", ""))):
        return None
    return _folder() / f"{held['token']}.upload", str(held.get("filename", ""))


def _held_sheet() -> tuple[Sheet, str] | None:
    found = _held_path()
    if found is None or not found[0].is_file():
        return None
    path, filename = found
    try:
        return read_sheet(path.read_bytes(), filename, max_bytes=settings().import_max_bytes), filename
    except SheetError:
        return None


def _delete_left_before(folder: Path, moment: int) -> None:
    """Delete the files of imports left unfinished, uploaded before `moment` (seconds)."""
    for path in folder.glob("*.upload"):
        found = HELD_NAME.match(path.stem)
        if found and int(found.group(1)) < moment:
            path.unlink(missing_ok=True)


def _forget() -> None:
    found = _held_path()
    if found is not None:
        found[0].unlink(missing_ok=True)
    session.pop(HELD, None)

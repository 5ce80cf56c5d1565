"""The spreadsheet import's words: its fields, its refusals and its file errors, in the reader's language.

The messages are English msgids translated by the caller's `gettext` (the page's
Flask-Babel, or the command's catalog), so both speak French by default.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from service.directory.sheet_import import Problem
from service.directory.sheet_reading import SheetError

Gettext = Callable[..., str]


def _l(message: str) -> str:
    """Marks a message for the catalog; it is translated when shown."""
    return message


FIELD_LABELS = {
    "name": _l("Organization name"),
    "kind": _l("Kind of organization"),
    "mandate": _l("Mandate"),
    "territory": _l("Territory served"),
    "clienteles": _l("Who the organization serves"),
    "languages": _l("Languages"),
    "accessibility": _l("Accessibility"),
    "hours": _l("Opening hours"),
    "phone": _l("Phone"),
    "referral_email": _l("Email for referrals"),
    "capacity_status": _l("Capacity status"),
    "public_address": _l("Public address"),
    "address_confidential": _l("Confidential address (yes or no)"),
    "what_to_bring": _l("What to bring"),
    "service_name": _l("Service name"),
    "service_description": _l("Service description"),
    "service_needs": _l("Needs or categories of the service"),
    "contact_name": _l("Contact person's name"),
    "contact_role": _l("Contact person's role"),
    "contact_email": _l("Contact person's email"),
    "contact_phone": _l("Contact person's phone"),
}
REASONS = {
    "required": _l("required, but the cell is empty"),
    "required_with_service": _l("required when the row gives a service's description or needs"),
    "too_long": _l("at most %(limit)s characters (this cell has %(length)s)"),
    "invalid_email": _l("“%(value)s” is not an email address"),
    "capacity_unknown": _l("“%(value)s” is not a capacity status: write open, waitlist or full"),
    "confidential_unknown": _l(
        "“%(value)s” does not say whether the address is confidential: write yes or no"
    ),
    "differs": _l("differs from what row %(first_line)s says for the same organization or service"),
    "name_unmapped": _l("no column goes to the organization's name: choose one"),
    "twice": _l("several columns go to this field (columns %(columns)s): keep one"),
    "directory_changed": _l(
        "the directory changed during the import (an organization of the same name was added): "
        "nothing was written, try again"
    ),
}
FILE_ERRORS = {
    "too_large": _l("The file is too large: at most %(size)s."),
    "empty": _l("The file is empty."),
    "no_rows": _l("The file has a header row but no data under it."),
    "old_excel": _l(
        "Excel 97-2003 files (.xls) cannot be read: save the file as .xlsx or CSV, then upload it again."
    ),
    "encoding": _l(
        "The file's characters cannot be read: save it as “CSV UTF-8” (or .xlsx), then upload it again."
    ),
    "not_a_sheet": _l("This is not a spreadsheet: upload a CSV or XLSX file."),
    "malformed_csv": _l("The CSV file is malformed near line %(line)s (a quote left open?)."),
    "unreadable_xlsx": _l("The XLSX file cannot be opened: it is damaged or not an Excel workbook."),
    "too_many_rows": _l("The file has more than %(limit)s rows: split it into several files."),
    "too_many_columns": _l("The file has more than %(limit)s columns."),
    "cell_too_long": _l("Row %(line)s has a cell longer than %(limit)s characters."),
}
OUTCOMES = {
    "created": _l("created"),
    "updated": _l("updated"),
    "unchanged": _l("unchanged"),
}


def field_label(name: str, gettext: Gettext) -> str:
    return gettext(FIELD_LABELS[name]) if name in FIELD_LABELS else name


def problem_text(problem: Problem, gettext: Gettext, headers: Sequence[str] = ()) -> str:
    """ "Row 4, Email for referrals: “x” is not an email address"; a whole-file problem has no row."""
    values: dict[str, Any] = dict(problem.values)
    if "columns" in values:
        values["columns"] = ", ".join(_column_name(index, headers) for index in values["columns"])
    reason = gettext(REASONS.get(problem.code, problem.code), **values)
    where = field_label(problem.field, gettext) if problem.field else ""
    if problem.line is None:
        return gettext("%(field)s: %(reason)s", field=where, reason=reason) if where else reason
    if where:
        return gettext("Row %(line)s, %(field)s: %(reason)s", line=problem.line, field=where, reason=reason)
    return gettext("Row %(line)s: %(reason)s", line=problem.line, reason=reason)


def _column_name(index: int, headers: Sequence[str]) -> str:
    header = headers[index] if index < len(headers) else ""
    return f"{index + 1} « {header} »" if header else str(index + 1)


def file_error_text(error: SheetError, gettext: Gettext) -> str:
    values = dict(error.values)
    if "limit_bytes" in values:
        values["size"] = size_words(int(str(values.pop("limit_bytes"))), gettext)
    return gettext(FILE_ERRORS.get(error.problem, error.problem), **values)


def size_words(size: int, gettext: Gettext) -> str:
    """A file size as people say it: "5 MB", "500 kB"."""
    if size >= 1_048_576:
        megabytes = f"{size / 1_048_576:g}"
        return gettext("%(num)s MB", num=megabytes)
    return gettext("%(num)s kB", num=max(1, round(size / 1024)))


def outcome_text(outcome: str, gettext: Gettext) -> str:
    return gettext(OUTCOMES[outcome])

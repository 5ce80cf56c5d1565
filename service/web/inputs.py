"""What a request may carry to the database: text without control characters, ids a row can have.

PostgreSQL refuses a NUL in text and compares no integer column with a number past
32 bits: either would surface as a 500. Forms (`service.web.forms`), the API's models
(`service.api.schemas`) and the addresses of pages (`register`) refuse them here first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from io import BytesIO
from typing import Any

from flask import Flask
from flask import request
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from service.web.errors import error_page

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database

# C0 control characters but tab, line feed and carriage return, which a text area sends. Lone
# surrogates (only JSON's `\ud800` escapes can make one) cannot be encoded for the database.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# The same rule as a JSON Schema pattern, for the API's document (a surrogate cannot travel in JSON).
WITHOUT_CONTROL_CHARACTERS = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*$"


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def is_row_id(value: int) -> bool:
    """Whether some row could have `value` as its id."""
    return 1 <= value <= MAX_ID


def outside_rows(values: Iterable[Any]) -> bool:
    """Whether any whole number among `values` (an address's parts) is no row's id."""
    return any(isinstance(value, int) and not is_row_id(value) for value in values)


def refuse_unreadable_address(exempt: frozenset[str]) -> tuple[str, int] | None:
    """404 for an address naming an id no row can have or holding control characters in its path;
    400 for a query string holding control characters. Blueprints in `exempt` check their own."""
    if request.blueprint in exempt:
        return None
    values = (request.view_args or {}).values()
    if outside_rows(values) or any(isinstance(v, str) and has_control_characters(v) for v in values):
        raise NotFound()
    for name, value in request.args.items(multi=True):
        if has_control_characters(name) or has_control_characters(value):
            return error_page(400, _("The address holds characters that are not allowed. Check the link."))
    return None


def register(app: Flask, *, exempt: Iterable[str] = ()) -> None:
    """Check every page's address before its view runs (and before it asks who is signed in)."""
    skipped = frozenset(exempt)
    app.before_request(lambda: refuse_unreadable_address(skipped))


def uploads_in_memory() -> None:
    """Parse this request's uploaded files into memory (Werkzeug's `Request._get_file_stream`), never
    into a temporary file on the disk: for the few pages that take files, each with its own limit
    (a woman's paper stays off the disk; a sheet is read whole at once anyway)."""
    request._get_file_stream = _memory_stream


def _memory_stream(*_arguments: object, **_options: object) -> BytesIO:
    return BytesIO()

"""Tables as CSV files a spreadsheet opens well, for every download of the app.

UTF-8 with a byte order mark, without which Excel reads accents as
Windows-1252. French files are separated by semicolons: Excel in French
Canada expects them (the comma is its decimal separator, and figures like
"12,5" appear in French tables); English files by commas. A cell that starts
like a formula is quoted, so that a spreadsheet shows it instead of running it
(CSV injection: an organization's name could start with "=").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from collections.abc import Sequence

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(rows: Iterable[Sequence[object]], language: str) -> str:
    """The rows as CSV text, byte order mark first; `language` picks the separator."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if language == "fr" else ",", lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return BOM + out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text

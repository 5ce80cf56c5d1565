"""A report table as a CSV file a spreadsheet opens: UTF-8 with a BOM, one header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# A cell starting with one of these is a formula to a spreadsheet; an organization's
# name could start with one (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(rows: Iterable[list[str]]) -> str:
    """The rows as CSV text, each cell that a spreadsheet would run defused with a quote."""
    buffer = io.StringIO()
    buffer.write("\ufeff")  # so that Excel reads the accents as UTF-8
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_defused(cell) for cell in row])
    return buffer.getvalue()


def _defused(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell

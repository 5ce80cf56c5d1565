"""A spreadsheet (CSV or XLSX) read as a header and rows of text, whatever Excel saved it as.

CSV files come in the encodings and separators spreadsheets write: UTF-8 with or
without a byte order mark, UTF-16 ("Unicode text"), Windows-1252 (Excel's "CSV" in
French Windows), separated by semicolons (Excel in French Canada), commas or tabs.
Rows are numbered as the spreadsheet numbers them (the header is row 1), so that a
refusal's line number is the one the admin sees. Empty rows are skipped and counted.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

MAX_ROWS = 20_000
MAX_COLUMNS = 100
MAX_CELL = 10_000
SEPARATORS = (";", ",", "\t")
ZIP = b"PK\x03\x04"
OLE = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls) and other old Office files


class SheetError(ValueError):
    """The file as a whole cannot be read; `problem` is a code `sheet_wording` puts in words."""

    def __init__(self, problem: str, **values: object) -> None:
        self.problem = problem
        self.values = values
        super().__init__(problem)


@dataclass
class Sheet:
    """The header's cells, and each non-empty row with its number in the spreadsheet."""

    headers: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    empty_rows: int = 0


def read_sheet(data: bytes, filename: str = "", *, max_bytes: int) -> Sheet:
    """Read an uploaded file: XLSX by its content (a zip), CSV otherwise."""
    if len(data) > max_bytes:
        raise SheetError("too_large", limit_bytes=max_bytes)
    if not data.strip():
        raise SheetError("empty")
    if data.startswith(OLE) or filename.lower().endswith(".xls"):
        raise SheetError("old_excel")
    if data.startswith(ZIP):
        return _sheet(_xlsx_rows(data))
    return _sheet(_csv_rows(_decoded(data)))


def _decoded(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Not UTF-8: what Excel writes on a French Windows. Five bytes have no character there.
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise SheetError("encoding") from None
    if "\x00" in text:
        raise SheetError("not_a_sheet")
    return text


def _separator(text: str) -> str:
    """The separator of the first line that has one (quoted commas in a French file aside)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        counts = {sep: _outside_quotes(line).count(sep) for sep in SEPARATORS}
        best = max(SEPARATORS, key=lambda sep: counts[sep])
        if counts[best]:
            return best
    return ","


def _outside_quotes(line: str) -> str:
    return "".join(part for index, part in enumerate(line.split('"')) if index % 2 == 0)


def _csv_rows(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text), strict=True)
    rows = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise SheetError("too_many_rows", limit=MAX_ROWS)
    except csv.Error:
        raise SheetError("malformed_csv", line=reader.line_num) from None
    return rows


def _xlsx_rows(data: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        raise SheetError("unreadable_xlsx") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise SheetError("empty")
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append([_cell_text(value) for value in values[:MAX_COLUMNS]])
            if len(rows) > MAX_ROWS + 1:
                raise SheetError("too_many_rows", limit=MAX_ROWS)
        return rows
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        # A damaged archive may only show while its rows are read.
        raise SheetError("unreadable_xlsx") from None
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()  # a spreadsheet's dates are datetimes at midnight
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _sheet(rows: list[list[str]]) -> Sheet:
    cleaned = [[cell.strip() for cell in row] for row in rows]
    start = next((index for index, row in enumerate(cleaned) if any(row)), None)
    if start is None:
        raise SheetError("empty")
    width = max(len(row) for row in cleaned)
    if width > MAX_COLUMNS:
        raise SheetError("too_many_columns", limit=MAX_COLUMNS)
    headers = cleaned[start] + [""] * (width - len(cleaned[start]))
    sheet = Sheet(headers=headers)
    for index, row in enumerate(cleaned[start + 1 :], start + 2):
        if not any(row):
            sheet.empty_rows += 1
            continue
        if any(len(cell) > MAX_CELL for cell in row):
            raise SheetError("cell_too_long", line=index, limit=MAX_CELL)
        sheet.rows.append((index, row + [""] * (width - len(row))))
    if not sheet.rows:
        raise SheetError("no_rows")
    return sheet

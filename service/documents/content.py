"""What a document is, by its content: a PDF, a JPEG or a PNG, whatever its name says.

`filetype` reads the file's signature (its first bytes); each accepted kind is then checked for
the end its format requires, so that a file cut short in the upload, or a signature pasted before
something else, is refused as well. A name ending in `.pdf` decides nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from pathlib import PureWindowsPath

import filetype

from service.web.inputs import CONTROL_CHARACTERS

# The content types accepted, and the extension a downloaded copy gets.
ACCEPTED = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
# A PDF ends with `%%EOF`; readers (Acrobat's own) look for it in the last kilobyte, past which
# some writers leave a few bytes.
PDF_TAIL = 1024
PNG_END = b"IEND\xaeB`\x82"
JPEG_END = b"\xff\xd9"
MAX_NAME = 120


class DocumentRefused(ValueError):
    """The file is not one Maillage keeps; `reason` says why ("type", "empty", "too_large", "damaged")."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Checked:
    content_type: str
    extension: str


def check_content(data: bytes, *, max_bytes: int) -> Checked:
    """The kind of `data` if it is a whole PDF, JPEG or PNG of at most `max_bytes`; else `DocumentRefused`."""
    if not data:
        raise DocumentRefused("empty")
    if len(data) > max_bytes:
        raise DocumentRefused("too_large")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ACCEPTED:
        raise DocumentRefused("type")
    whole = {
        "application/pdf": lambda: data.startswith(b"%PDF-") and b"%%EOF" in data[-PDF_TAIL:],
        "image/png": lambda: data.rstrip(b"\x00").endswith(PNG_END),
        "image/jpeg": lambda: JPEG_END in data[-PDF_TAIL:],
    }[kind.mime]
    if not whole():
        raise DocumentRefused("damaged")
    return Checked(kind.mime, ACCEPTED[kind.mime])


def display_name(sent_name: str, checked: Checked) -> str:
    """The name a document is shown and downloaded under: the last part of the name it was sent
    under, without control characters, shortened, ending in its content's extension."""
    # Browsers send a bare name, some old ones a whole path (with either separator).
    base = PureWindowsPath(PurePosixPath(sent_name).name).name
    base = CONTROL_CHARACTERS.sub("", unicodedata.normalize("NFC", base)).strip().strip(".")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = " ".join(stem.split())[: MAX_NAME - len(checked.extension)].strip() or "document"
    return stem + checked.extension

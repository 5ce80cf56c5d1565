"""What a refused document is told, in the reader's language."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service.directory.sheet_wording import size_words

REFUSALS = {
    "type": _l("Only PDF, JPEG and PNG files can be attached: this file's content is none of them."),
    "damaged": _l("This file is incomplete or damaged: save it again, then attach it."),
    "empty": _l("The file is empty."),
}


def refusal_text(reason: str, limit: int) -> str:
    if reason == "too_large":
        return too_large_text(limit)
    return str(REFUSALS[reason])


def too_large_text(limit: int) -> str:
    return _("The file is too large: at most %(size)s.", size=size_words(limit, _))

"""The translation catalogs: `.po` files are committed, `.mo` files are compiled from them.

They are compiled before Maillage runs, never by it: the installed code may not
be writable (a root-owned image run by an unprivileged user). The wheel holds
them compiled (build_steps.py); a checkout compiles them with `make`, and the
test suite before it starts.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = ("fr",)
"""The languages with a catalog: English is the msgids themselves."""


class CatalogNotCompiled(RuntimeError):
    """A language's `.mo` is missing: its pages would all be in English."""


def check_catalogs(folder: Path = TRANSLATIONS) -> None:
    """Raise `CatalogNotCompiled` when a language's `.mo` is missing; warn when it is older than its `.po`."""
    for language in LANGUAGES:
        mo_path = folder / language / "LC_MESSAGES" / "messages.mo"
        if not mo_path.exists():
            raise CatalogNotCompiled(
                f"{mo_path} is missing: in a checkout, compile the catalogs with `make catalogs`; "
                "an installed Maillage holds them compiled (install it from its wheel)"
            )
        po_path = mo_path.with_suffix(".po")  # only in a checkout: the wheel holds the `.mo` alone
        if po_path.exists() and po_path.stat().st_mtime > mo_path.stat().st_mtime:
            # A warning, not a stop: only the strings added since show in English.
            log.warning(
                "%s is older than messages.po: the strings added since show in English until "
                "the catalogs are compiled again (`make catalogs`)",
                mo_path,
            )

"""Every string a person can see has a French translation in the committed catalog."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "service" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
METHODS = [("service/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        # A plural entry is found in the catalog by its singular form.
        messages.add(message if isinstance(message, str) else message[0])
    return messages


def catalog():
    with CATALOG.open("rb") as file:
        return read_po(file)


def test_every_string_in_the_code_and_templates_is_translated_to_french():
    french = catalog()
    missing = sorted(
        m for m in extracted() if m not in french or not all(_forms(french[m].string)) or french[m].fuzzy
    )
    assert missing == [], "run 'make messages' and translate these in messages.po"


def _forms(string: str | tuple[str, ...]) -> tuple[str, ...]:
    """Every form of a translation: French plurals have three (0-1, millions, the rest), all needed."""
    return string if isinstance(string, tuple) else (string,)


def test_translations_keep_their_placeholders():
    for message in catalog():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) <= wanted | set(PLACEHOLDER.findall(ids[0])), message.id

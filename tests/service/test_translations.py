"""Every string a person can see has a French translation in the committed catalog."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "service" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# What `make messages` extracts: the files babel.cfg names (the code, the worker, the pages and the
# emails), with pybabel's keywords and the `-k _l` it adds.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# A file that gives a string to translate: a gettext call, or a template's trans block.
TRANSLATABLE = re.compile(r"\b(?:_|_l|gettext|ngettext|lazy_gettext)\(|\{%-?\s*trans\b")


@cache
def extracted() -> tuple[tuple[str, str, str | None], ...]:
    """(file, message, context) of each string the code and templates give to translate."""
    with (ROOT / "babel.cfg").open() as config:
        methods, options = parse_mapping_cfg(config)
    found = []
    for file, _line, message, _comments, context in extract_from_dir(
        ROOT, methods, options, keywords=KEYWORDS
    ):
        # A plural entry is found in the catalog by its singular form.
        found.append((file, message if isinstance(message, str) else message[0], context))
    return tuple(found)


def test_every_file_with_strings_to_translate_is_extracted():
    """babel.cfg reaches them all: the code, the worker, the pages, the emails in text and HTML."""
    extracted_files = {file for file, _message, _context in extracted()}
    left_out = [
        str(path.relative_to(ROOT))
        for folder in ("service", "worker", "templates")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".html", ".txt", ".jinja"}
        and TRANSLATABLE.search(path.read_text(encoding="utf-8"))
        and str(path.relative_to(ROOT)) not in extracted_files
    ]
    assert left_out == []


def catalog():
    with CATALOG.open("rb") as file:
        return read_po(file)


def test_every_string_in_the_code_and_templates_is_translated_to_french():
    french = catalog()
    missing = set()
    for file, message, context in extracted():
        entry = french.get(message, context=context)
        if entry is None or not all(_forms(entry.string)) or entry.fuzzy:
            missing.add(f"{file}: {message}")
    assert sorted(missing) == [], "run 'make messages' and translate these in messages.po"


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

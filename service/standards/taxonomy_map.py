"""Other taxonomies' terms (211's, a spreadsheet's categories) read as Maillage's needs.

The shipped `taxonomy_map.yaml` is the default; `MAILLAGE_TAXONOMY_MAP` names an admin's own
file, whose terms are added to the shipped ones and win over them. A term is looked up by its
code, then its name, case, accents and spacing aside. What no entry names is the caller's to
report: an import lists every such term rather than dropping it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from service.config import settings

SHIPPED_MAP = Path(__file__).resolve().parent / "taxonomy_map.yaml"
SPACES = re.compile(r"\s+")


class TaxonomyMapError(ValueError):
    """The mapping file cannot be read; the message names the file and what to fix."""


def term_key(text: str) -> str:
    """A term as the map compares it: folded case, no accents, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return SPACES.sub(" ", bare).strip()


@dataclass(frozen=True)
class TaxonomyMap:
    """Folded term -> the need codes it means (an empty tuple: on purpose, none)."""

    entries: Mapping[str, tuple[str, ...]]

    def needs_for(self, *names: str | None) -> tuple[str, ...] | None:
        """The needs of the first of `names` (a term's code, its name...) the map knows; None if none."""
        for name in names:
            if name and term_key(name) in self.entries:
                return self.entries[term_key(name)]
        return None

    def need_codes(self) -> set[str]:
        return {code for codes in self.entries.values() for code in codes}


def read_map(path: Path) -> dict[str, tuple[str, ...]]:
    """The entries of one mapping file, checked."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyMapError(f"{path}: no such file (MAILLAGE_TAXONOMY_MAP)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TaxonomyMapError(f"{path}: not a readable UTF-8 YAML file ({error})") from None
    terms = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(terms, dict):
        raise TaxonomyMapError(f"{path}: expected a 'terms:' mapping of 'term: [need codes]'")
    entries: dict[str, tuple[str, ...]] = {}
    for term, codes in terms.items():
        if not isinstance(term, str | int) or not str(term).strip():
            raise TaxonomyMapError(f"{path}: {term!r} is not a term (write it as text)")
        if codes is None:
            codes = []
        if isinstance(codes, str):
            codes = [codes]
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise TaxonomyMapError(f"{path}: {term}: give a list of need codes, e.g. [food, housing]")
        entries[term_key(str(term))] = tuple(code.strip() for code in codes if code.strip())
    return entries


def load_map(override: Path | None = None, shipped: Path = SHIPPED_MAP) -> TaxonomyMap:
    """The shipped map, with the entries of `override` (the admin's file) added over it."""
    entries = read_map(shipped)
    if override is not None:
        entries.update(read_map(override))
    return TaxonomyMap(entries)


def configured_map() -> TaxonomyMap:
    """The map this installation uses: the shipped one and `MAILLAGE_TAXONOMY_MAP`'s file, if set."""
    return load_map(settings().taxonomy_map)


def unknown_needs(taxonomy: TaxonomyMap, known: Iterable[str]) -> list[str]:
    """Need codes the map names that the directory does not have (a typo in the admin's file)."""
    return sorted(taxonomy.need_codes() - set(known))

"""The app reads compiled catalogs and never compiles them: the installed code may be read-only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from build_steps import compile_catalogs
from service.web.catalogs import TRANSLATIONS
from service.web.catalogs import CatalogNotCompiled
from service.web.catalogs import check_catalogs


@pytest.fixture
def translations(tmp_path: Path) -> Path:
    """A copy of the checkout's catalogs, sources only."""
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, folder, ignore=shutil.ignore_patterns("*.mo", "*.partial", "*.pot"))
    return folder


def files(folder: Path) -> dict[str, float]:
    return {str(path.relative_to(folder)): path.stat().st_mtime for path in folder.rglob("*")}


def test_a_missing_catalog_stops_the_start_with_what_to_do_and_nothing_is_written(translations: Path) -> None:
    before = files(translations)

    with pytest.raises(CatalogNotCompiled, match=r"fr/LC_MESSAGES/messages\.mo is missing: .*make catalogs"):
        check_catalogs(translations)

    assert files(translations) == before


def test_a_catalog_older_than_its_source_is_read_with_a_warning_that_says_what_to_do(
    translations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (mo_path,) = compile_catalogs(translations, translations)
    po_path = mo_path.with_suffix(".po")
    os.utime(po_path, (mo_path.stat().st_mtime + 60,) * 2)
    before = files(translations)

    check_catalogs(translations)

    assert "is older than messages.po" in caplog.text
    assert "make catalogs" in caplog.text
    assert files(translations) == before


def test_a_compiled_catalog_is_read_as_it_is(translations: Path) -> None:
    compile_catalogs(translations, translations)
    before = files(translations)

    check_catalogs(translations)

    assert files(translations) == before


def test_the_wheel_holds_the_compiled_catalog_alone(translations: Path, tmp_path: Path) -> None:
    build_lib = tmp_path / "build"

    written = compile_catalogs(translations, build_lib)

    assert [path.relative_to(build_lib).as_posix() for path in written] == ["fr/LC_MESSAGES/messages.mo"]
    assert sorted(path.name for path in build_lib.rglob("*") if path.is_file()) == ["messages.mo"]
    check_catalogs(build_lib)

"""The wheel holds every file Maillage reads: it runs installed, not only from a checkout.

Built as `python -m build` does (a source distribution, then the wheel from it),
from a copy of the checkout; `.ci/wheel_as_nobody.sh` installs such a wheel and
runs it as an unprivileged user.
"""

from __future__ import annotations

import gettext
import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the copy leaves out: nothing a build reads, and no compiled catalog it could pick up by mistake.
LEFT_OUT = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.mo", "*.partial"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The source distribution and the wheel built from it."""
    folder = tmp_path_factory.mktemp("packaging")
    source = folder / "checkout"
    shutil.copytree(ROOT, source, ignore=LEFT_OUT)
    shutil.rmtree(source / "tests")
    # No build isolation: the build requirements (setuptools, Babel) are this virtualenv's, and
    # nothing is downloaded. The CI script builds with isolation, as a user would.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    script = "from setuptools import build_meta; print(build_meta.build_sdist('dist'))"
    sdist = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-c", script], cwd=source, check=True, capture_output=True, text=True
    ).stdout.splitlines()[-1]
    subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder / "wheels"), sdist],
        cwd=source / "dist",
        check=True,
        capture_output=True,
    )
    (wheel,) = (folder / "wheels").glob("maillage-*.whl")
    return source / "dist" / sdist, wheel


def in_wheel(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def shipped(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_every_template_under_the_workflows_package(built: tuple[Path, Path]) -> None:
    _sdist, wheel = built
    names = in_wheel(wheel)

    templates = shipped(ROOT / "templates")
    assert "email/deadline_reminder.txt" in templates
    assert {f"workflows/templates/{name}" for name in templates} <= names


def test_the_wheel_holds_the_protocols(built: tuple[Path, Path]) -> None:
    _sdist, wheel = built
    names = in_wheel(wheel)

    protocols = {
        f"workflows/protocols/{path.name}" for path in (ROOT / "workflows" / "protocols").glob("*.yaml")
    }
    assert protocols
    assert protocols <= names


def test_the_wheel_holds_the_french_catalog_compiled_and_not_its_source(built: tuple[Path, Path]) -> None:
    _sdist, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        catalog = archive.read("service/translations/fr/LC_MESSAGES/messages.mo")

    french = gettext.GNUTranslations(io.BytesIO(catalog))
    assert french.gettext("Sign in") == "Connexion"
    assert not [name for name in names if name.endswith((".po", ".partial"))]


def test_the_source_distribution_holds_what_the_wheel_is_built_from(built: tuple[Path, Path]) -> None:
    sdist, _wheel = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    assert {"build_steps.py", "templates/email/deadline_reminder.txt"} <= names
    assert "service/translations/fr/LC_MESSAGES/messages.po" in names
    assert not [name for name in names if name.endswith(".mo")]

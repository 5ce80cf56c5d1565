"""What the wheel needs beyond Python files, added when setuptools builds it.

- `templates/` stays at the top of the checkout (the project's layout) and goes into the wheel as
  `workflows/templates`, where `workflows.loader.TEMPLATES_FOLDER` looks first.
- Each `messages.po` is compiled into the `messages.mo` gettext reads: the installed code may not
  be writable, so nothing compiles catalogs at run time (a checkout compiles them with `make`).

pyproject.toml names `BuildPy` as setuptools' `build_py` command; Babel is a build requirement.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
TRANSLATIONS = Path("service", "translations")
INSTALLED_TEMPLATES = Path("workflows", "templates")


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every `LANG/LC_MESSAGES/messages.po` under `source` to its `.mo` under `target`."""
    written = []
    for po_path in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        # Written aside, then renamed: a test session starting meanwhile never reads half a file.
        with tempfile.NamedTemporaryFile(dir=mo_path.parent, suffix=".partial", delete=False) as mo_file:
            write_mo(mo_file, catalog)
        Path(mo_file.name).chmod(0o644)
        Path(mo_file.name).replace(mo_path)
        written.append(mo_path)
    return written


class BuildPy(build_py):
    """setuptools' `build_py`, then the templates and the compiled catalogs into the build folder."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # An editable install reads templates/ in the checkout; `make` compiles its catalogs.
            return
        build_lib = Path(self.build_lib)
        templates = build_lib / INSTALLED_TEMPLATES
        # The build folder may hold an earlier build: a template removed since must not stay.
        shutil.rmtree(templates, ignore_errors=True)
        shutil.copytree(TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__"))
        compile_catalogs(ROOT / TRANSLATIONS, build_lib / TRANSLATIONS)

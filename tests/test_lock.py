"""The locks in requirements/ are current with pyproject.toml, and pyproject.toml declares every import.

CI (the Makefile's install) and the image (the Dockerfile, .ci/wheel_as_nobody.sh) install the exact
versions of the locks, then Maillage without dependencies: a package pyproject.toml asks for that the
lock lacks would be missing there, and a package our code imports without declaring it works only as
long as another package happens to bring it. `make lock` rewrites both locks from pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import packages_distributions
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements" / "maillage.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
# Our own top-level packages, and the code whose imports must be declared (runtime code: in
# `dependencies`, or the `server` extra the image adds; tests, benchmarks, build and CI scripts:
# in any extra or the build requirements).
OURS = {"service", "workflows", "worker", "tests"}
# The type checkers' own stubs of the standard library, imported only under TYPE_CHECKING.
TYPING_ONLY = {"_typeshed"}
RUNTIME_CODE = ["service", "workflows", "worker"]
OTHER_CODE = ["tests", "bench", "build_steps.py", ".ci"]
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)(?:\s*;(?P<marker>[^\\]+))?"
)


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashed: bool

    @property
    def applies_here(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def pins(lock: Path) -> dict[str, list[Pin]]:
    """The lock's pins by canonical name (a universal lock may pin one package twice, under markers)."""
    lines = lock.read_text().splitlines()
    found: dict[str, list[Pin]] = {}
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        marker = match["marker"].strip() if match["marker"] else None
        hashed = number + 1 < len(lines) and lines[number + 1].strip().startswith("--hash=sha256:")
        pin = Pin(match["name"], Version(match["version"]), Marker(marker) if marker else None, hashed)
        found.setdefault(canonicalize_name(pin.name), []).append(pin)
    return found


def declared(*extras: str) -> list[Requirement]:
    requirements = [Requirement(line) for line in PROJECT["project"]["dependencies"]]
    for extra in extras:
        requirements += [Requirement(line) for line in PROJECT["project"]["optional-dependencies"][extra]]
    return requirements


def what_the_extras_bring(requirement: Requirement) -> list[Requirement]:
    """The requirements an extra (`psycopg[binary]`) adds, read from the installed package's metadata."""
    try:
        metadata = requires(requirement.name) or []
    except PackageNotFoundError:
        return []  # reported by the caller: the package itself is not locked or not installed
    brought = []
    for extra in requirement.extras:
        for line in metadata:
            needed = Requirement(line)
            if needed.marker and "extra" in str(needed.marker) and needed.marker.evaluate({"extra": extra}):
                needed.marker = None  # it holds here, with the extra asked for
                brought.append(needed)
    return brought


LOCKS = {
    RUNTIME_LOCK: ["server"],  # what the image runs: Maillage and gunicorn
    DEV_LOCK: sorted(PROJECT["project"]["optional-dependencies"]),  # what CI and developers install
}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_the_lock_pins_every_requirement_of_pyproject_within_its_bounds(lock: Path) -> None:
    locked = pins(lock)
    problems = []
    for requirement in declared(*LOCKS[lock]):
        for needed in [requirement, *what_the_extras_bring(requirement)]:
            name = canonicalize_name(needed.name)
            if needed.marker and not needed.marker.evaluate({"extra": ""}):
                continue
            here = [pin for pin in locked.get(name, []) if pin.applies_here]
            if not here:
                problems.append(f"{needed} is not pinned in {lock.name}")
            problems += [
                f"{needed}: {lock.name} pins {pin.version}"
                for pin in here
                if not needed.specifier.contains(pin.version, prereleases=True)
            ]
    assert not problems, "Run `make lock` (the README says how):\n" + "\n".join(problems)


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_every_pin_of_the_lock_carries_its_hashes(lock: Path) -> None:
    locked = [pin for versions in pins(lock).values() for pin in versions]

    assert len(locked) > 50
    assert [pin.name for pin in locked if not pin.hashed] == []


def test_the_locks_say_they_were_written_by_the_command_of_make_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (compile_line,) = re.findall(r"^UV_COMPILE := \$\(BIN\)/(.*)$", makefile, re.MULTILINE)
    flags = [flag for flag in shlex.split(compile_line) if flag != "--quiet"]
    recipes = dict(re.findall(r"^\t\$\(UV_COMPILE\) \$\(LOCK_FLAGS\) (.*) -o \$\((\w+)\)$", makefile, re.M))
    assert set(recipes.values()) == {"RUNTIME_LOCK", "DEV_LOCK"}
    extras = {lock: options for options, lock in recipes.items()}

    for lock, variable in [(RUNTIME_LOCK, "RUNTIME_LOCK"), (DEV_LOCK, "DEV_LOCK")]:
        assert f"{variable} := {lock.relative_to(ROOT)}" in makefile
        command = shlex.split(lock.read_text().splitlines()[1].lstrip("# "))
        expected = [*flags, *shlex.split(extras[variable]), "-o", str(lock.relative_to(ROOT))]
        assert command == expected, f"{lock.name} was not written by `make lock`: run it"


def python_files(where: str) -> list[Path]:
    path = ROOT / where
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def third_party_imports(file: Path) -> set[str]:
    """The top-level names a file imports that are neither the standard library nor ours."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])

    def local(name: str) -> bool:  # a module beside the file, or at the root (build_steps)
        return any((folder / f"{name}.py").exists() for folder in (file.parent, ROOT))

    known = sys.stdlib_module_names | OURS | TYPING_ONLY
    return {name for name in names if name not in known and not local(name)}


def undeclared(code: list[str], requirements: list[Requirement]) -> list[str]:
    names = {canonicalize_name(requirement.name) for requirement in requirements}
    distributions = packages_distributions()
    problems = []
    for where in code:
        for file in python_files(where):
            for module in sorted(third_party_imports(file)):
                providers = {canonicalize_name(name) for name in distributions.get(module, [])}
                if not providers & names:
                    which = ", ".join(sorted(providers)) or "no installed distribution"
                    problems.append(f"{file.relative_to(ROOT)} imports {module} ({which})")
    return problems


def test_the_code_maillage_runs_imports_only_packages_of_its_dependencies() -> None:
    problems = undeclared(RUNTIME_CODE, declared("server"))

    assert not problems, "Declare them in pyproject.toml's dependencies, then `make lock`:\n" + "\n".join(
        problems
    )


def test_the_tests_benchmarks_and_scripts_import_only_declared_packages() -> None:
    extras = sorted(PROJECT["project"]["optional-dependencies"])
    build = [Requirement(line) for line in PROJECT["build-system"]["requires"]]

    problems = undeclared(OTHER_CODE, declared(*extras) + build)

    assert not problems, "Declare them in pyproject.toml's dev extra, then `make lock`:\n" + "\n".join(
        problems
    )


def test_an_import_nobody_declared_is_found(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("import os\nimport limits.storage\nfrom service import app\nfrom . import near\n")

    assert third_party_imports(module) == {"limits"}
    assert "limits" in packages_distributions()
    assert canonicalize_name(packages_distributions()["limits"][0]) == "limits"

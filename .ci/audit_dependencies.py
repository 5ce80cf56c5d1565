"""Known vulnerabilities in the installed dependencies: pip-audit, then what PyPI itself says.

pip-audit asks PyPI's JSON API for each installed version (`/pypi/NAME/VERSION/json`), or OSV.
Where only pip's registry is reachable, those per-version answers may be missing: pip-audit
then skips every package ("not found on PyPI") and passes, having audited nothing. So each
package it skipped is looked up in PyPI's project JSON (`/pypi/NAME/json`, the same host pip
uses), whose `vulnerabilities` are those of the latest release: exact when the installed
version is the latest, which `pip install` of a lower-bounded requirement usually gives.

Exits 1 on any known vulnerability; says plainly how many packages could not be audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

PYPI = "https://pypi.org/pypi/{name}/json"
# Our own package, installed editable: another project of the same name may well be on PyPI.
OURS = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"][
    "name"
]


def pip_audit() -> list[dict]:
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--skip-editable",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed command
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.exit(f"pip-audit failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)["dependencies"]


def installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def latest_release(name: str) -> dict | None:
    try:
        with urllib.request.urlopen(PYPI.format(name=name), timeout=30) as answer:  # noqa: S310 - https only
            return json.load(answer)
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError):
        return None


def main() -> int:
    findings: list[str] = []
    audited: list[str] = []
    unaudited: list[str] = []
    for dependency in pip_audit():
        name = dependency["name"]
        if name == OURS:
            continue
        if "skip_reason" not in dependency:
            audited.append(name)
            findings += [
                f"{name} {dependency['version']}: {v['id']} (fixed in {v['fix_versions']})"
                for v in dependency["vulns"]
            ]
            continue
        version = installed_version(name)
        project = latest_release(name)
        if version is None or project is None:
            unaudited.append(f"{name} (no answer from PyPI)")
            continue
        latest = project["info"]["version"]
        if latest != version:
            unaudited.append(f"{name} {version} (PyPI describes only the latest, {latest})")
            continue
        audited.append(name)
        findings += [
            f"{name} {version}: {v['id']} (fixed in {v.get('fixed_in')})"
            for v in project.get("vulnerabilities", [])
            if not v.get("withdrawn")
        ]
    print(f"Dependencies audited: {len(audited)}; not auditable from here: {len(unaudited)}.")
    for line in unaudited:
        print(f"  not audited: {line}")
    for line in findings:
        print(f"VULNERABLE: {line}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

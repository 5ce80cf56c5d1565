"""Known vulnerabilities in the installed dependencies: pip-audit, then what PyPI itself says.

pip-audit asks PyPI's JSON API for each installed version (`/pypi/NAME/VERSION/json`), or OSV.
Where only pip's registry is reachable, those per-version answers may be missing: pip-audit
then skips every package ("not found on PyPI") and passes, having audited nothing. So each
package it skipped is looked up in PyPI's project JSON (`/pypi/NAME/json`, the same host pip
uses), whose `vulnerabilities` are those of the latest release: exact when the installed
version is the latest, which `pip install` of a lower-bounded requirement usually gives.

Fails closed: exits 1 on any known vulnerability, and 2 when a dependency could not be audited
(unless it is one of the few gaps accepted below, at its exact version) or nothing was audited
at all. A check that cannot look must not say "no known vulnerabilities".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed
from pathlib import Path
from urllib.request import urlopen

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version

PYPI = "https://pypi.org/pypi/{name}/json"
EDITABLE = "distribution marked as editable"  # pip-audit's words for what --skip-editable left out
# Our own package: another project of the same name may well be on PyPI.
OURS = canonicalize_name(
    tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]["name"]
)
# Dependencies held below their latest release, which PyPI's project JSON cannot audit where its
# per-version answers are missing (a machine that reaches only pip's registry). Each is accepted at
# this exact version only: another version, or another package, fails the audit until it is
# audited or added here after a look at its advisories. Where pip-audit reaches PyPI or OSV, they
# are audited like the rest and these entries are unused.
ACCEPTED_GAPS: dict[tuple[str, str], str] = {
    ("packaging", "26.3"): "pinned by kombu[redis] (packaging==26.3)",
    ("python-dateutil", "2.9.0.post0"): "pinned by celery (python-dateutil==2.9.0.post0)",
    ("jsonschema-rs", "0.60.3"): "held below 0.61 by schemathesis, a test tool",
    ("deprecated", "1.3.1"): "used by Flask-Limiter's limits; the newest release pip's registry offers",
    # botocore publishes a release a day; aiobotocore pins the exact range it was tested with.
    ("botocore", "1.43.117"): "pinned by aiobotocore 3.10.0 (s3fs's), only for the optional s3 extra",
}


@dataclass(frozen=True)
class Gap:
    """A dependency that could not be audited, and why."""

    name: str
    version: str | None
    why: str

    @property
    def accepted(self) -> str | None:
        """Why this gap is accepted, if it is."""
        return ACCEPTED_GAPS.get((canonicalize_name(self.name), self.version or ""))


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
        last = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        sys.exit(
            f"NOT AUDITED: pip-audit failed (exit {done.returncode}): {last[0]}\n"
            "Is its vulnerability service (pypi.org, or api.osv.dev with --vulnerability-service osv) "
            "reachable from here?"
        )
    return json.loads(done.stdout)["dependencies"]


def installed_version(name: str) -> str | None:
    try:
        return installed(name)
    except PackageNotFoundError:
        return None


def latest_release(name: str) -> dict | None:
    try:
        with urlopen(PYPI.format(name=name), timeout=30) as answer:  # noqa: S310 - https only
            return json.load(answer)
    except (OSError, ValueError):  # unreachable, refused, timed out, not JSON
        return None


def same_version(one: str, other: str) -> bool:
    try:
        return Version(one) == Version(other)
    except InvalidVersion:
        return one == other


def audit(dependencies: list[dict]) -> tuple[list[str], list[Gap], list[str]]:
    """What pip-audit said, completed by PyPI: the audited names, the gaps, the vulnerabilities."""
    audited: list[str] = []
    gaps: list[Gap] = []
    findings: list[str] = []
    for dependency in dependencies:
        name = dependency["name"]
        if canonicalize_name(name) == OURS or dependency.get("skip_reason") == EDITABLE:
            continue  # the project itself, or another local checkout: not from PyPI
        if "skip_reason" not in dependency:
            audited.append(name)
            findings += [
                f"{name} {dependency['version']}: {v['id']} (fixed in {v['fix_versions']})"
                for v in dependency["vulns"]
            ]
            continue
        version = installed_version(name)
        project = latest_release(name) if version is not None else None
        if version is None:
            gaps.append(Gap(name, None, f"pip-audit: {dependency['skip_reason']}"))
        elif project is None:
            gaps.append(Gap(name, version, "no answer from PyPI's JSON API"))
        elif "vulnerabilities" not in project:
            gaps.append(Gap(name, version, "PyPI's answer carries no vulnerability data"))
        elif not same_version(project["info"]["version"], version):
            latest = project["info"]["version"]
            gaps.append(Gap(name, version, f"PyPI describes only the latest release, {latest}"))
        else:
            audited.append(name)
            findings += [
                f"{name} {version}: {v['id']} (fixed in {v.get('fixed_in')})"
                for v in project["vulnerabilities"]
                if not v.get("withdrawn")
            ]
    return audited, gaps, findings


def verdict(audited: list[str], gaps: list[Gap], findings: list[str]) -> tuple[int, list[str]]:
    """The exit status and what to say: 1 on a vulnerability, 2 when the audit could not look."""
    lines = [f"Dependencies audited: {len(audited)}; not audited: {len(gaps)}."]
    for gap in gaps:
        status = f"accepted: {gap.accepted}" if gap.accepted else "NOT accepted"
        lines.append(f"  not audited: {gap.name} {gap.version} ({gap.why}); {status}")
    lines += [f"VULNERABLE: {line}" for line in findings]
    refused = [gap for gap in gaps if not gap.accepted]
    if findings:
        return 1, lines
    if not audited:
        lines.append(
            "NOT AUDITED: no dependency could be audited. Is pypi.org (or OSV) reachable from here? "
            "A check that cannot look does not pass."
        )
        return 2, lines
    if refused:
        lines.append(
            f"NOT AUDITED: {len(refused)} dependencies could not be audited ("
            + ", ".join(f"{gap.name} {gap.version}" for gap in refused)
            + "). Upgrade them to their latest release, run where pip-audit reaches PyPI's per-version "
            "answers or OSV, or, after reading their advisories, accept the gap at that exact version "
            "in ACCEPTED_GAPS."
        )
        return 2, lines
    return 0, lines


def main() -> int:
    status, lines = verdict(*audit(pip_audit()))
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())

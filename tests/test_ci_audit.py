"""`make audit` fails closed: a dependency audit that could not look does not pass."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "audit_dependencies.py"


@pytest.fixture
def audit(monkeypatch):
    """The script as a module, with PyPI answering only what a test says."""
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    module.pypi_answers = {}
    module.installed_versions = {}
    monkeypatch.setattr(module, "latest_release", module.pypi_answers.get)
    monkeypatch.setattr(module, "installed_version", module.installed_versions.get)
    return module


def audited(name: str, version: str = "1.0", vulns: list | None = None) -> dict:
    return {"name": name, "version": version, "vulns": vulns or []}


def skipped(name: str) -> dict:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name}"}


def decide(audit, dependencies: list[dict]) -> tuple[int, str]:
    status, lines = audit.verdict(*audit.audit(dependencies))
    return status, "\n".join(lines)


def test_nothing_audited_because_pypi_does_not_answer_fails(audit):
    audit.installed_versions.update(flask="3.1.0", jinja2="3.1.6")

    status, said = decide(audit, [skipped("flask"), skipped("jinja2")])

    assert status == 2
    assert "no dependency could be audited" in said


def test_an_empty_environment_is_not_a_clean_one(audit):
    assert decide(audit, [])[0] == 2


def test_everything_audited_and_clean_passes(audit):
    audit.installed_versions.update(jinja2="3.1.6")
    audit.pypi_answers["jinja2"] = {"info": {"version": "3.1.6"}, "vulnerabilities": []}

    status, said = decide(audit, [audited("flask"), skipped("jinja2")])

    assert (status, said) == (0, "Dependencies audited: 2; not audited: 0.")


@pytest.mark.parametrize("where", ["pip-audit", "pypi"])
def test_a_known_vulnerability_fails(audit, where):
    audit.installed_versions.update(jinja2="3.1.5")
    vulnerability = {"id": "GHSA-fictive", "fix_versions": ["3.1.6"], "fixed_in": ["3.1.6"]}
    if where == "pip-audit":
        dependencies = [audited("jinja2", "3.1.5", [vulnerability])]
    else:
        audit.pypi_answers["jinja2"] = {"info": {"version": "3.1.5"}, "vulnerabilities": [vulnerability]}
        dependencies = [skipped("jinja2")]

    status, said = decide(audit, dependencies)

    assert status == 1
    assert "VULNERABLE: jinja2 3.1.5: GHSA-fictive" in said


def test_one_dependency_not_audited_fails_even_when_the_rest_are(audit):
    audit.installed_versions.update(werkzeug="3.0.0")
    audit.pypi_answers["werkzeug"] = {"info": {"version": "3.1.9"}, "vulnerabilities": []}

    status, said = decide(audit, [audited("flask"), skipped("werkzeug")])

    assert status == 2
    assert "werkzeug 3.0.0 (PyPI describes only the latest release, 3.1.9); NOT accepted" in said


def test_an_answer_without_vulnerability_data_audits_nothing(audit):
    audit.installed_versions.update(werkzeug="3.1.9")
    audit.pypi_answers["werkzeug"] = {"info": {"version": "3.1.9"}}

    assert decide(audit, [audited("flask"), skipped("werkzeug")])[0] == 2


def test_an_accepted_gap_passes_at_its_exact_version_only(audit, monkeypatch):
    monkeypatch.setattr(audit, "ACCEPTED_GAPS", {("python-dateutil", "2.9.0.post0"): "pinned by celery"})
    audit.pypi_answers["python-dateutil"] = {"info": {"version": "4.0.0"}, "vulnerabilities": []}

    audit.installed_versions["python-dateutil"] = "2.9.0.post0"
    assert decide(audit, [audited("flask"), skipped("python-dateutil")])[0] == 0
    audit.installed_versions["python-dateutil"] = "2.8.2"
    assert decide(audit, [audited("flask"), skipped("python-dateutil")])[0] == 2


def test_the_project_itself_is_left_out(audit):
    ours = {"name": audit.OURS, "skip_reason": "distribution marked as editable"}
    local = {"name": "a-local-checkout", "skip_reason": "distribution marked as editable"}
    # As the Docker image installs it: not editable, and not the project of that name on PyPI.
    installed = skipped(audit.OURS)
    audit.installed_versions[audit.OURS] = "0.1.0"

    for left_out in ([ours, local], [installed]):
        status, said = decide(audit, [audited("flask"), *left_out])
        assert (status, said) == (0, "Dependencies audited: 1; not audited: 0.")
    # ...and what is left out does not count as audited.
    assert decide(audit, [ours, local])[0] == 2

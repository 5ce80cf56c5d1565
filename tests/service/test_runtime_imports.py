"""What the running processes load: the web app and the worker stay clear of the test and benchmark
tools, and of what only a new password needs (memory of `maillage run`, see bench/footprint.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Development tools (pyproject's `dev` extra) that must never be imported at runtime, and zxcvbn's
# 13 MB of word lists, which only a password being chosen needs.
NEVER_AT_RUNTIME = ("fhir", "schemathesis", "playwright", "pytest", "hypothesis", "aiosmtpd", "zxcvbn")

LOADED = """
import json, sys
{start}
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(start: str, data_dir: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running `start`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(MAILLAGE_DATA_DIR=data_dir, MAILLAGE_ENV="development")
    loaded = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", LOADED.format(start=start)],
        env=env,
        # Not the checkout: the package as installed, as the processes load it.
        cwd=data_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    return {name.split(".")[0] for name in json.loads(loaded.stdout.splitlines()[-1])}


@pytest.mark.parametrize(
    "process",
    [
        pytest.param("from service.app import create_app\ncreate_app()", id="web"),
        pytest.param("import worker.app\nimport worker.tasks", id="worker"),
    ],
)
def test_the_running_processes_load_no_development_tool_and_no_password_lists(process, tmp_path):
    loaded = modules_loaded_by(process, str(tmp_path))
    assert "sqlalchemy" in loaded  # the interpreter did load the app
    assert sorted(loaded & set(NEVER_AT_RUNTIME)) == []


def test_checking_a_new_password_still_loads_the_lists(tmp_path):
    start = (
        "from service.accounts.passwords import password_weakness\nprint(password_weakness('Bonjour2024!!!'))"
    )
    assert "zxcvbn" in modules_loaded_by(start, str(tmp_path))

"""A signed link's token is written in no log line, whichever server runs the app.

The request is still logged, its path masked: `/link/***`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from werkzeug.serving import make_server

from service import migrate
from service.app import create_app
from service.config import settings

ROOT = Path(__file__).resolve().parents[2]
# Long enough for a slow CI machine; the server answers in about a second.
WAIT = 30.0


@pytest.fixture
def link_token() -> str:
    """A token of the shape links carry; the log must not keep it, valid or not."""
    return secrets.token_urlsafe(32)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, *, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(url, data=data, timeout=WAIT) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def compose_web_command(port: int) -> list[str]:
    """docker-compose.yml's web command, as it is documented, on a loopback port with one worker."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["command"]
    assert command[0] == "gunicorn"
    changed = {"--bind": f"127.0.0.1:{port}", "--workers": "1"}
    arguments = []
    for argument in command[1:]:
        name = argument.split("=", 1)[0]
        arguments.append(f"{name}={changed[name]}" if name in changed else argument)
    return [str(Path(sys.executable).with_name("gunicorn")), *arguments]


@contextmanager
def serving_as_compose(tmp_path: Path, **environment: str) -> Iterator[tuple[str, Path]]:
    """gunicorn serving the app as docker-compose.yml runs it, with `environment` added; its
    address and its whole log."""
    if not Path(sys.executable).with_name("gunicorn").exists():
        pytest.fail("gunicorn is missing: it is in the dev dependencies (pip install -e '.[dev]')")
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'maillage.db'}"
    migrate.upgrade(url)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "MAILLAGE_ENV": "development",
        "MAILLAGE_DATA_DIR": str(data),
        "MAILLAGE_DATABASE_URL": url,
        "PYTHONUNBUFFERED": "1",
        **environment,
    }
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own command line
            compose_web_command(port), cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        address = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT
        while call_or_none(f"{address}/sign-in") != 200:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        yield address, log
    finally:
        server.terminate()
        server.wait(timeout=WAIT)


@pytest.fixture
def gunicorn_log(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serving_as_compose(tmp_path) as served:
        yield served


def call_or_none(url: str) -> int | None:
    try:
        return call(url)
    except OSError:
        return None


def test_gunicorn_as_docker_compose_runs_it_logs_link_requests_without_their_token(gunicorn_log, link_token):
    address, log = gunicorn_log
    assert call(f"{address}/link/{link_token}") == 404
    assert call(f"{address}/link/{link_token}/person", data=b"csrf_token=x") == 400
    deadline = time.monotonic() + WAIT
    while "POST /link/" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    written = log.read_text()
    assert link_token not in written
    assert '"GET /link/*** HTTP/1.1" 404' in written
    assert '"POST /link/***/person HTTP/1.1" 400' in written


def test_the_development_server_logs_link_requests_without_their_token(app, caplog, link_token):
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert call(f"http://127.0.0.1:{server.server_port}/link/{link_token}") == 404
    finally:
        server.shutdown()
        thread.join(timeout=WAIT)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    # Werkzeug colours the request by its status: the path is what matters.
    assert any("GET /link/*** HTTP/1.1" in line and " 404 " in line for line in lines), lines
    assert not any(link_token in line for line in lines)


def test_waitress_and_the_app_log_paths_without_the_token(app, caplog, link_token):
    """What waitress (`maillage run`) and Flask write with a path: a dropped client, an exception."""
    caplog.set_level(logging.INFO)
    logging.getLogger("waitress").info("Client disconnected while serving %s", f"/link/{link_token}")
    try:
        raise RuntimeError(f"while serving /link/{link_token}")
    except RuntimeError:
        app.logger.exception("Exception on /link/%s [POST]", link_token)
    written = caplog.text
    assert "Client disconnected while serving /link/***" in written
    assert "Exception on /link/*** [POST]" in written
    assert "RuntimeError: while serving /link/***" in written
    assert link_token not in written


def test_a_server_started_after_the_app_is_covered_too(tmp_path, monkeypatch, caplog, link_token):
    """The mask is set up by the app factory, for loggers that may not exist yet."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path))
    settings.cache_clear()
    create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    settings.cache_clear()
    caplog.set_level(logging.INFO)
    logging.getLogger("gunicorn.error").error("Error handling request /link/%s", link_token)
    assert "Error handling request /link/***" in caplog.text
    assert link_token not in caplog.text

"""Log lines as JSON (`MAILLAGE_LOG_FORMAT=json`), each with the id of the request it belongs to.

The id comes from the request's `X-Request-ID` when it is a short safe token, else is made, and
goes back in the answer's `X-Request-ID`. The worker's side (the email a request caused, logged
with the same id) is in tests/worker/test_request_ids.py.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.app import create_app
from service.config import settings
from service.logs import SAFE_REQUEST_ID
from service.logs import JsonLines
from service.logs import acting_for
from tests.service.test_link_tokens_in_logs import WAIT
from tests.service.test_link_tokens_in_logs import serving_as_compose

FIELDS = {"time", "level", "logger", "message", "request_id"}


def ask(url: str, *, request_id: str | None = None, data: bytes | None = None) -> tuple[int, str | None]:
    """The status of the answer and the request id it returned."""
    headers = {} if request_id is None else {"X-Request-ID": request_id}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:  # noqa: S310 - loopback
            return response.status, response.headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.code, error.headers["X-Request-ID"]


def json_lines(log: Path) -> list[dict]:
    """Every line of the log, each parsed as one JSON object (a line that is not one fails the test)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


# In the app ------------------------------------------------------------------------------------


def test_a_request_gets_back_the_id_it_came_with(client):
    answer = client.get("/healthz", headers={"X-Request-ID": "caddy-7f3a.b_9"})
    assert answer.headers["X-Request-ID"] == "caddy-7f3a.b_9"


@pytest.mark.parametrize(
    "unsafe",
    ["has space", "x" * 65, "quote\"'", "<script>", "é-accent", "/link/abc", ""],
)
def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, unsafe):
    answer = client.get("/healthz", headers={"X-Request-ID": unsafe})
    given = answer.headers["X-Request-ID"]
    assert given != unsafe
    assert SAFE_REQUEST_ID.fullmatch(given)


def test_a_request_without_an_id_gets_one_of_its_own_each_time(client):
    first = client.get("/sign-in").headers["X-Request-ID"]
    second = client.get("/sign-in").headers["X-Request-ID"]
    assert SAFE_REQUEST_ID.fullmatch(first)
    assert SAFE_REQUEST_ID.fullmatch(second)
    assert first != second


def test_by_default_no_log_line_is_json(app):
    """Plain text unless MAILLAGE_LOG_FORMAT=json: the app factory leaves every formatter alone."""
    loggers = [
        logging.getLogger(),
        app.logger,
        *map(logging.getLogger, ("gunicorn.error", "gunicorn.access")),
    ]
    assert not any(
        isinstance(handler.formatter, JsonLines) for logger in loggers for handler in logger.handlers
    )


def test_a_json_line_keeps_its_fields_only_and_masks_tokens():
    """Whatever a library attaches to a record (Celery's task arguments, gunicorn's headers) stays out."""
    record = logging.LogRecord(
        "gunicorn.error", logging.ERROR, __file__, 1, "Error handling %s", ("/link/s3cr3t",), None
    )
    record.data = {"args": "her name"}
    with acting_for("abc"):
        line = json.loads(JsonLines().format(record))
    assert set(line) == FIELDS
    assert line["message"] == "Error handling /link/***"
    assert line["request_id"] == "abc"
    assert line["level"] == "ERROR"
    assert line["logger"] == "gunicorn.error"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The loggers an app factory in JSON changes, put back as they were for the tests after."""
    names = ["", "service", "service.app", "gunicorn.error", "gunicorn.access", "waitress", "werkzeug"]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(list(logger.handlers), logger.level) for logger in loggers]
    formatters = {handler: handler.formatter for logger in loggers for handler in logger.handlers}
    yield
    for logger, (handlers, level) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
    for handler, formatter in formatters.items():
        handler.setFormatter(formatter)
    settings.cache_clear()


def test_in_json_each_line_of_the_app_is_written_once_as_json(
    monkeypatch, tmp_path, capsys, logging_restored
):
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILLAGE_LOG_FORMAT", "json")
    settings.cache_clear()
    # As under gunicorn or waitress: no handler on the root logger (pytest's own taken off here).
    logging.getLogger().handlers.clear()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    with acting_for("once-1"):
        app.logger.error("Exception on /link/%s [POST]", "s3cr3t")
        logging.getLogger("waitress").warning("Client disconnected while serving /link/s3cr3t")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["message"], line["request_id"]) for line in lines] == [
        ("service.app", "Exception on /link/*** [POST]", "once-1"),
        ("waitress", "Client disconnected while serving /link/***", "once-1"),
    ]


# Under gunicorn, as docker-compose.yml runs it --------------------------------------------------


@pytest.fixture
def json_gunicorn(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn as docker-compose.yml runs it, with MAILLAGE_LOG_FORMAT=json; its address and log."""
    with serving_as_compose(tmp_path, MAILLAGE_LOG_FORMAT="json") as served:
        yield served


def test_under_gunicorn_every_line_is_json_with_the_request_id_and_no_token(json_gunicorn):
    address, log = json_gunicorn
    link_token = secrets.token_urlsafe(32)
    # A partner's link with a stale form: the app logs the error page it shows, gunicorn the request.
    status, given = ask(
        f"{address}/link/{link_token}/person", request_id="trace.JSON-1", data=b"csrf_token=x"
    )
    assert (status, given) == (400, "trace.JSON-1")
    status, replaced = ask(f"{address}/link/{link_token}", request_id="not safe!")
    assert status == 404
    assert replaced != "not safe!"

    def access_lines() -> list[dict]:
        return [line for line in json_lines(log) if line["logger"] == "gunicorn.access"]

    deadline = time.monotonic() + WAIT
    while not any(line["request_id"] == replaced for line in access_lines()):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    lines = json_lines(log)
    # gunicorn's master from its first line, its workers, the app: every line one object.
    assert all(set(line) >= FIELDS for line in lines), lines
    assert any(
        line["logger"] == "gunicorn.error" and "Starting gunicorn" in line["message"] for line in lines
    )
    traced = [line for line in lines if line["request_id"] == "trace.JSON-1"]
    assert {line["logger"] for line in traced} == {"gunicorn.access", "service.web.errors"}, lines
    access = next(line for line in traced if line["logger"] == "gunicorn.access")
    assert '"POST /link/***/person HTTP/1.1" 400' in access["message"]
    assert '"GET /link/*** HTTP/1.1" 404' in next(
        line["message"] for line in lines if line["request_id"] == replaced
    )
    assert link_token not in log.read_text()
    assert "not safe!" not in log.read_text()

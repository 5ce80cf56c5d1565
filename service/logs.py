"""Log lines as JSON objects (`MAILLAGE_LOG_FORMAT=json`), and the request id that ties them together.

Each web request gets an id (`service.web.request_ids`): its log lines carry it, its answer
returns it in `X-Request-ID`, and the outbox messages it queues keep it
(`OutboxMessage.request_id`), so that the worker's line for an email sent because of that
request carries the same id, however much later, on whichever host.

A JSON line holds a fixed set of fields (`FIELDS`): time, level, logger, message, request id,
and a traceback when there is one. Nothing else a library attaches to a record (Celery's task
arguments, gunicorn's request headers) is written. A signed link's token is masked in the
message and the traceback here as well (`mask_tokens`), whichever logger the line comes from.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from service.links.redaction import mask_tokens

# What a client or a proxy may name its request by: short, and nothing a log reader could
# mistake for something else (no spaces, quotes, newlines or escape sequences).
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FIELDS = ("time", "level", "logger", "message", "request_id", "exc_info", "stack_info")
# Always written, `null` outside any request: a reader filters on it without a special case.
ALWAYS = frozenset({"time", "level", "logger", "message", "request_id"})

_request_id: ContextVar[str | None] = ContextVar("maillage_request_id", default=None)


def request_id_from(header: str | None) -> str:
    """The id a request goes by: the one it came with (`X-Request-ID`) if it is safe, else a new one."""
    if header is not None and SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request (or of the email being sent) this code runs for, if any."""
    return _request_id.get()


@contextmanager
def acting_for(request_id: str | None) -> Iterator[None]:
    """Within the block, log lines (and outbox messages written) carry `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class JsonLines(JsonFormatter):
    """One JSON object per record, with `FIELDS` only, tokens masked."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # Set by whoever logged with `extra={"request_id": ...}`, else the one this code runs for.
        log_data["request_id"] = getattr(record, "request_id", None) or current_request_id()

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        kept = {field: log_data.get(field) for field in FIELDS if field in ALWAYS or log_data.get(field)}
        for field in ("message", "exc_info", "stack_info"):
            if isinstance(kept.get(field), str):
                kept[field] = mask_tokens(kept[field])
        return kept


def use_json(loggers: Iterable[logging.Logger]) -> None:
    """Every handler of these loggers writes `JsonLines`."""
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, JsonLines):
                handler.setFormatter(JsonLines())


def write_json_lines(loggers: Iterable[logging.Logger]) -> None:
    """The web app's logging in JSON: the root logger gets a handler (stderr) if it has none, so
    that the app's own lines, and waitress's, are written; our own loggers from INFO up."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    logging.getLogger("service").setLevel(logging.INFO)
    use_json([root, *loggers])

"""Each request's id: taken from `X-Request-ID` when it is safe, else made; written in the
request's log lines and the outbox messages it queues (`service.logs`), and returned in the
answer's `X-Request-ID`.

A WSGI middleware rather than Flask hooks: the id then covers everything the app logs for the
request, its error handlers included, and gunicorn's access line finds it in the environ
(`service.web.gunicorn_logs`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from flask.logging import default_handler

from service.config import Settings
from service.links.redaction import SERVER_LOGGERS
from service.logs import acting_for
from service.logs import request_id_from
from service.logs import write_json_lines

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

HEADER = "X-Request-ID"
# Where the id waits for the server's access line, after the app has answered.
ENVIRON_KEY = "maillage.request_id"


class RequestIds:
    """Gives each request its id for as long as the app handles it, and returns it in the answer."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id

        def answer(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            kept = [(name, value) for name, value in headers if name.lower() != HEADER.lower()]
            return start_response(status, [*kept, (HEADER, request_id)], exc_info)

        with acting_for(request_id):
            return self.app(environ, answer)


def register(app: Flask, config: Settings) -> None:
    """Give requests their ids; with `MAILLAGE_LOG_FORMAT=json`, the app and its server log in JSON."""
    app.wsgi_app = RequestIds(app.wsgi_app)  # type: ignore[method-assign]
    if config.log_format == "json":
        # The app's lines reach the root logger's JSON handler: Flask's own would write each twice.
        app.logger.removeHandler(default_handler)
        write_json_lines([app.logger, *(logging.getLogger(name) for name in SERVER_LOGGERS)])

"""`/metrics` for Prometheus, when `MAILLAGE_METRICS_TOKEN` is set, and the timing of every request.

Off by default. On, it answers only a request carrying `Authorization: Bearer
<the token>`; any other gets the 404 of a page that does not exist, so that it
does not advertise itself. Like the probes it needs no sign-in, session, CSRF
token or rate limit (`service.web.health.serve_to_machines`).
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest

from service.config import Settings
from service.health.metrics import REQUEST_SECONDS
from service.health.metrics import exposition_registry
from service.web.clock import request_clock
from service.web.database import db
from service.web.health import serve_to_machines

blueprint = Blueprint("metrics", __name__)

_KEY = "maillage.metrics_token"
# Requests no view answers (an unknown address) share one route: their paths are not labels.
UNMATCHED = "unmatched"


@blueprint.get("/metrics")
def metrics() -> Response:
    """The text exposition format: the processes' counters and the database's gauges."""
    if not _authorized(current_app.extensions[_KEY]):
        abort(404)
    registry = exposition_registry(db().connection(), request_clock()())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _authorized(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time: how long a refusal takes says nothing of how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _start_timing() -> None:
    g.metrics_started = time.perf_counter()


def _time_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        route = request.url_rule.endpoint if request.url_rule is not None else UNMATCHED
        status = f"{response.status_code // 100}xx"
        REQUEST_SECONDS.labels(route, status).observe(time.perf_counter() - started)
    return response


def register(app: Flask, config: Settings) -> None:
    """Serve `/metrics` and time every request, when a token is set; else do neither."""
    if not config.metrics_token:
        return
    app.extensions[_KEY] = config.metrics_token
    # Before the other hooks: a request they answer early (a refused address) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timing)
    app.after_request(_time_request)
    serve_to_machines(app, blueprint)

"""`/healthz` (the process answers) and `/readyz` (Maillage can do its work), for probes and monitors.

Both answer anyone, in JSON, without signing in, a session cookie, a CSRF token or a rate
limit, and say nothing about people or secrets: check names and reason codes only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from sqlalchemy import Engine

from service import extensions
from service.config import Settings
from service.health.checks import OK
from service.health.checks import check_beat
from service.health.checks import check_broker
from service.health.checks import check_outbox
from service.health.checks import check_schema
from service.health.checks import on_connection
from service.health.checks import probe_engine
from service.health.checks import run_checks
from service.web.clock import request_clock

blueprint = Blueprint("health", __name__)

PROBES = ("/healthz", "/readyz")
_KEY = "maillage.readiness"


@dataclass(frozen=True)
class Readiness:
    """What `/readyz` checks against, fixed when the app is made."""

    engine: Engine
    broker_url: str | None
    broker_folder: Path
    beat_max_age: timedelta
    outbox_max_age: timedelta


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process answers: nothing else is looked at (no database), so a restart is never
    ordered for a server that is merely away."""
    return jsonify(status=OK)


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """One entry per check, "ok" or a reason code; 200 when all pass, 503 otherwise."""
    readiness: Readiness = current_app.extensions[_KEY]
    now = request_clock()()
    results = run_checks(
        {
            "database": on_connection(readiness.engine, check_schema),
            "broker": partial(check_broker, readiness.broker_url, readiness.broker_folder),
            "outbox": on_connection(
                readiness.engine, partial(check_outbox, now=now, max_age=readiness.outbox_max_age)
            ),
            "beat": on_connection(
                readiness.engine, partial(check_beat, now=now, max_age=readiness.beat_max_age)
            ),
        }
    )
    ready = all(result == OK for result in results.values())
    return jsonify(status=OK if ready else "failed", checks=results), 200 if ready else 503


class QuietProbes(logging.Filter):
    """Drops the access-log lines of probes answered 200, written every few seconds by whatever
    watches Maillage; a probe that fails is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # gunicorn's access log: its atoms
            return not (args.get("U") in PROBES and args.get("s") == "200")
        if isinstance(args, tuple) and len(args) == 3:  # Werkzeug's: request line, status, size
            line, status = str(args[0]), str(args[1])
            return not (status == "200" and any(line.startswith(f"GET {path} ") for path in PROBES))
        return True


# Blueprints that answer machines (probes, Prometheus), not people: no sign-in or MFA enrolment
# asked, no cookie read or set, no CSRF token, no rate limit.
MACHINE_BLUEPRINTS = frozenset({"health", "metrics"})


def serve_to_machines(app: Flask, machines: Blueprint) -> None:
    """Register a blueprint of `MACHINE_BLUEPRINTS` outside CSRF and rate limits."""
    if machines.name not in MACHINE_BLUEPRINTS:
        raise ValueError(f"add {machines.name!r} to MACHINE_BLUEPRINTS, so that sign-in hooks leave it alone")
    extensions.csrf.exempt(machines)
    extensions.limiter.exempt(machines)
    app.register_blueprint(machines)


def register(app: Flask, config: Settings) -> None:
    """Serve the probes, outside CSRF and rate limits, and keep their successes out of access logs."""
    app.extensions[_KEY] = Readiness(
        engine=probe_engine(app.config["DATABASE_URL"]),
        broker_url=config.broker_url,
        broker_folder=config.broker_folder(),
        beat_max_age=timedelta(seconds=config.ready_beat_seconds),
        outbox_max_age=timedelta(minutes=config.ready_outbox_minutes),
    )
    serve_to_machines(app, blueprint)
    for name in ("gunicorn.access", "werkzeug"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, QuietProbes) for existing in logger.filters):
            logger.addFilter(QuietProbes())

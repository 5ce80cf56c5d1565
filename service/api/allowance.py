"""Each API key's allowance (`API_RATE_LIMIT`, default 300 requests a minute), counted by
`authenticate` once the key is known (see `service.web.quota`).

Flask-Limiter's own per-request work (finding which limits apply to the endpoint, then
counting) cost twice the count itself on every API call (bench/api.py).
"""

from __future__ import annotations

from flask import current_app
from werkzeug.exceptions import TooManyRequests

from service.web import quota

DEFAULT_RATE = "300 per minute"


def spend(key: str) -> None:
    """Count one request against `key`'s allowance; `TooManyRequests` once it is spent."""
    rate = current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE)
    if not quota.within(rate, "api", key):
        raise TooManyRequests(retry_after=quota.wait(rate, "api", key))

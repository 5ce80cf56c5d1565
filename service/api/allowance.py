"""Each API key's allowance (`API_RATE_LIMIT`, default 300 requests a minute), counted where the
web's rate limits count: Redis when there is one, so every web process shares the count.

The count is one call to `limits`, the library under Flask-Limiter, made by `authenticate` once
the key is known. Flask-Limiter's own per-request work (finding which limits apply to the
endpoint, then counting) cost twice the count itself on every API call (bench/api.py).
"""

from __future__ import annotations

import logging
import time
from functools import cache

from flask import current_app
from limits import RateLimitItem
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from service import extensions

log = logging.getLogger(__name__)

DEFAULT_RATE = "300 per minute"
# After the shared count failed (Redis away), count in this process for this long before trying again.
RETRY_SHARED_AFTER = 30.0


class _Counter:
    """The shared count, or this process's own while the shared storage is away."""

    def __init__(self) -> None:
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.shared_failed_at: float | None = None

    def fits(self, allowance: RateLimitItem, key: str) -> bool:
        """Count one request; whether it fits in the allowance."""
        if self.shared_failed_at is None or time.monotonic() - self.shared_failed_at > RETRY_SHARED_AFTER:
            shared = extensions.limiter.limiter
            try:
                fits = shared.hit(allowance, "api", key)
            except (StorageError, shared.storage.base_exceptions) as error:  # a class or a tuple: both match
                log.warning("API rate limits' storage unreachable (%s): counting here", type(error).__name__)
                self.shared_failed_at = time.monotonic()
            else:
                self.shared_failed_at = None
                return fits
        return self.local.hit(allowance, "api", key)


_counter = _Counter()


def spend(key: str) -> None:
    """Count one request against `key`'s allowance; `TooManyRequests` once it is spent."""
    if not extensions.limiter.enabled:
        return
    if not _counter.fits(_allowance(current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE)), key):
        raise TooManyRequests()


@cache
def _allowance(rate: str) -> RateLimitItem:
    return parse(rate)

"""Counting against a quota where the web's rate limits count: Redis when there is one, so that
every web process shares the count, and this process's memory while Redis is away.

One call to `limits`, the library under Flask-Limiter, for the counts a view makes once it
knows whom they are about (an API key, an account), which Flask-Limiter's decorators,
keyed on the request, cannot express.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from limits import RateLimitItem
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from service import extensions

log = logging.getLogger(__name__)

# After the shared count failed (Redis away), count in this process for this long before trying again.
RETRY_SHARED_AFTER = 30.0


class _Counter:
    """The shared count, or this process's own while the shared storage is away."""

    def __init__(self) -> None:
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.shared_failed_at: float | None = None

    def fits(self, quota: RateLimitItem, *identifiers: str) -> bool:
        """Count one; whether it fits in the quota."""
        if self.shared_failed_at is None or time.monotonic() - self.shared_failed_at > RETRY_SHARED_AFTER:
            shared = extensions.limiter.limiter
            try:
                fits = shared.hit(quota, *identifiers)
            except (StorageError, shared.storage.base_exceptions) as error:  # a class or a tuple: both match
                log.warning("rate limits' storage unreachable (%s): counting here", type(error).__name__)
                self.shared_failed_at = time.monotonic()
            else:
                self.shared_failed_at = None
                return fits
        return self.local.hit(quota, *identifiers)


_counter = _Counter()


def within(rate: str, *identifiers: str) -> bool:
    """Count one against `rate` (e.g. "5 per 15 minutes") for these identifiers; whether it fits.

    Always true when rate limiting is off (`RATELIMIT_ENABLED`, as most tests run).
    """
    if not extensions.limiter.enabled:
        return True
    return _counter.fits(_parsed(rate), *identifiers)


@cache
def _parsed(rate: str) -> RateLimitItem:
    return parse(rate)

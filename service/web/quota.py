"""Counting against a quota where the web's rate limits count: Redis when there is one, so that
every web process shares the count, and this process's memory while Redis is away.

One call to `limits`, the library under Flask-Limiter, for the counts a view makes once it
knows whom they are about (an API key, an account), which Flask-Limiter's decorators,
keyed on the request, cannot express; and how long a refused request waits (`Retry-After`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from limits import RateLimitItem
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from limits.strategies import RateLimiter

from service import extensions

log = logging.getLogger(__name__)

# After the shared count failed (Redis away), count in this process for this long before trying again.
RETRY_SHARED_AFTER = 30.0


T = TypeVar("T")


class Counter:
    """The shared count, or this process's own while the shared storage is away, by `strategy`."""

    def __init__(self, strategy: type[RateLimiter] = FixedWindowRateLimiter) -> None:
        self.strategy = strategy
        self.local = strategy(MemoryStorage())
        self.shared_failed_at: float | None = None
        self._shared: RateLimiter | None = None

    def ask(self, question: Callable[[RateLimiter], T]) -> T:
        """`question` put to the shared count, or to this process's while the shared one is away."""
        if self.shared_failed_at is None or time.monotonic() - self.shared_failed_at > RETRY_SHARED_AFTER:
            shared = self._shared_limiter()
            try:
                answer = question(shared)
            except (StorageError, shared.storage.base_exceptions) as error:  # a class or a tuple: both match
                log.warning("rate limits' storage unreachable (%s): counting here", type(error).__name__)
                self.shared_failed_at = time.monotonic()
            else:
                self.shared_failed_at = None
                return answer
        return question(self.local)

    def fits(self, quota: RateLimitItem, *identifiers: str) -> bool:
        """Count one; whether it fits in the quota."""
        return self.ask(lambda limiter: limiter.hit(quota, *identifiers))

    def _shared_limiter(self) -> RateLimiter:
        # Flask-Limiter's storage (Redis, or memory), made anew by each app it is bound to.
        storage = extensions.limiter.storage
        if self._shared is None or self._shared.storage is not storage:
            self._shared = self.strategy(storage)
        return self._shared


_counter = Counter()


def wait(rate: str, *identifiers: str) -> int:
    """Whole seconds (at least 1) until `rate` lets one more through for these identifiers."""
    limit = _parsed(rate)
    reset = _counter.ask(lambda limiter: limiter.get_window_stats(limit, *identifiers).reset_time)
    return seconds_until(reset, limit)


def seconds_until(moment: float, limit: RateLimitItem) -> int:
    """Whole seconds (at least 1) from now to `moment`, a time as the rate limits' storage counts it
    (seconds since the epoch, the real clock's: windows expire in Redis by it, not by the app's).

    Never more than `limit`'s window: the storage rounds its reset up to the next whole second."""
    return max(1, min(limit.get_expiry(), math.ceil(moment - time.time())))


def breached_wait() -> int | None:
    """Whole seconds until the limits Flask-Limiter found broken on this request let one more
    through; None when it broke none (or cannot say)."""
    try:
        waits = [
            seconds_until(limit.reset_at, limit.limit)
            for limit in extensions.limiter.current_limits
            if limit.breached
        ]
    except Exception as error:  # the storage went away since: say nothing rather than fail the page
        log.warning("rate limit's reset unknown (%s)", type(error).__name__)
        return None
    return max(waits, default=None)


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

"""Password attempts per account: a growing wait after repeated failures, whatever the addresses.

The sign-in page is also limited per address (`SIGN_IN_LIMIT`), which someone with many
addresses goes around. Here every attempt at one email counts, in moving windows of
growing length (`ACCOUNT_LIMITS`): a few quick failures make her wait a minute, more make
her wait longer, and the wait is capped by the longest window, so an attacker cannot
lock a caseworker out for more than a quarter of an hour after stopping. A refused
attempt is not counted: waiting is enough. A right password clears the count.

Counted per email as typed (trimmed, lower case, as the account is looked up), whether an
account has it or not: a refusal says nothing about which emails have an account. Stored
under a keyed hash of the email, so the count's storage holds no address.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from flask import current_app
from limits import RateLimitItem
from limits import parse_many
from limits.strategies import MovingWindowRateLimiter

from service import extensions
from service.web import quota

# Failures before each wait, and the longest wait: 5 in a minute, 10 in 5 minutes, 15 in 15.
ACCOUNT_LIMITS = "5 per minute; 10 per 5 minutes; 15 per 15 minutes"
SCOPE = "sign-in-account"

_counter = quota.Counter(MovingWindowRateLimiter)


def admit(email: str) -> int:
    """Count an attempt at `email`'s password: 0 when the password may be checked, else the
    whole seconds to wait first (and the attempt is not counted).

    Counted before the password is checked, so that many attempts at once all count.
    Always 0 when rate limiting is off (`RATELIMIT_ENABLED`, as most tests run).
    """
    if not extensions.limiter.enabled:
        return 0
    key = _key(email)
    limits = _limits(current_app.config.get("SIGN_IN_ACCOUNT_LIMITS", ACCOUNT_LIMITS))
    if all(_counter.ask(lambda limiter, limit=limit: limiter.test(limit, SCOPE, key)) for limit in limits):
        counted = [
            _counter.ask(lambda limiter, limit=limit: limiter.hit(limit, SCOPE, key)) for limit in limits
        ]
        if all(counted):
            return 0
    # Until every full window has room again.
    waits = []
    for limit in limits:
        stats = _counter.ask(lambda limiter, limit=limit: limiter.get_window_stats(limit, SCOPE, key))
        if stats.remaining <= 0:
            waits.append(quota.seconds_until(stats.reset_time, limit))
    return max(waits, default=1)


def succeeded(email: str) -> None:
    """Her password was right: her count starts over."""
    if not extensions.limiter.enabled:
        return
    key = _key(email)
    for limit in _limits(current_app.config.get("SIGN_IN_ACCOUNT_LIMITS", ACCOUNT_LIMITS)):
        _counter.ask(lambda limiter, limit=limit: limiter.clear(limit, SCOPE, key))


def _key(email: str) -> str:
    normalized = email.strip().lower()  # as `user_by_email` finds her account
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, normalized.encode(), hashlib.sha256).hexdigest()


@cache
def _limits(rates: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rates))

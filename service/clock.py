"""The one place that reads the time, so tests can move it instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)

"""The clock pages use: `CLOCK` in the app config when a test sets one, the real time otherwise."""

from __future__ import annotations

from flask import current_app

from service.clock import Clock
from service.clock import utcnow


def request_clock() -> Clock:
    return current_app.config.get("CLOCK", utcnow)

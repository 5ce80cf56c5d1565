"""Re-authentication before sensitive acts (OWASP ASVS 3.7.1): exports, erasure, the emergency path.

A cookie left in an unlocked browser must not be enough to take a woman's whole file away. Decorate
the view after `login_required`:

    @blueprint.route("/people/<int:person_id>/export")
    @login_required
    @fresh_authentication_required
    def export(person_id): ...

When she has not confirmed her password (and her code, with MFA) in this session within the last
`REAUTH_MINUTES` (5 by default; signing in counts), she is sent to `/account/confirm?next=<this page>`
and comes back once confirmed. A POST comes back as a GET of the same address: the page shows its
form again and she submits it once more, knowingly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec
from typing import TypeVar
from urllib.parse import urlsplit

from flask import current_app
from flask import redirect
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from service.extensions import login_manager
from service.web.clock import request_clock
from service.web.templating import here

P = ParamSpec("P")
R = TypeVar("R")


def freshness_window() -> timedelta:
    return timedelta(minutes=current_app.config.get("REAUTH_MINUTES", 5))


def is_fresh() -> bool:
    """Whether the signed-in person proved who she is recently enough for a sensitive act."""
    at = current_user.authenticated_at if current_user.is_authenticated else None
    return at is not None and request_clock()() - at <= freshness_window()


def local_target(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: a confirmation never sends her elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def fresh_authentication_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not is_fresh():
            return redirect(url_for("auth.confirm", next=here()), code=303)
        return view(*args, **kwargs)

    return wrapped

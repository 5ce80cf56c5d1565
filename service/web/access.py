"""Refusing a page to whoever's role may not use it, before anything else the view asks."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

View = Callable[..., Any]


def roles_only(roles: Collection[str]) -> Callable[[View], View]:
    """403 for anyone but a member of an organization with one of `roles`.

    Put under `login_required` and above `fresh_authentication_required`: asking
    someone to confirm who she is helps nobody who is refused anyway.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles or current_user.organization_id is None:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate

"""Which language a page speaks: French unless the person chose English."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import request
from flask_login import current_user

LANGUAGES = ("fr", "en")
COOKIE = "maillage_lang"


def select_locale() -> str:
    """A `?lang=` choice, then the one remembered in her cookie, then her profile's; French by default.

    The latest choice made in this browser wins over the profile: choosing
    "English" in the menu must hold for the next pages, signed in or not.
    """
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered
    if current_user and current_user.is_authenticated:
        return current_user.language
    return "fr"


def remember_choice(response: Response) -> Response:
    """Keep a `?lang=` choice for the next pages."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(
            COOKIE,
            asked,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=current_app.config["SESSION_COOKIE_SECURE"],  # HTTPS only, as the session's
        )
    return response

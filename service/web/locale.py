"""Which language a page speaks: French unless the person chose English."""

from __future__ import annotations

from flask import Response
from flask import request
from flask_login import current_user

LANGUAGES = ("fr", "en")
COOKIE = "maillage_lang"


def select_locale() -> str:
    """A `?lang=` choice, then the signed-in person's language, then her cookie; French by default."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    if current_user and current_user.is_authenticated:
        return current_user.language
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return "fr"


def remember_choice(response: Response) -> Response:
    """Keep a `?lang=` choice for the next pages."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response

"""Every error a person can meet, as a friendly page in her language with a reference code.

Domain errors are mapped here, once: pages never show a stack trace, an
exception's text, or anything about the woman.
"""

from __future__ import annotations

import logging
import math
import secrets
import traceback

from flask import Flask
from flask import render_template
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from service.errors import NotAllowed
from service.errors import ReferralNotFound
from service.web import quota

log = logging.getLogger(__name__)

# How long a request that met the database away waits before trying again: a restart of
# PostgreSQL takes a couple of seconds (tests/service/test_database_restart.py).
DATABASE_AWAY_RETRY_SECONDS = 5

FALLBACK_PAGE = """<!doctype html><html lang="fr"><meta charset="utf-8"><title>Maillage</title>
<h1>Une erreur est survenue / Something went wrong</h1>
<p>Réessayez plus tard. / Try again later.</p><p>Référence / Reference: {code}</p></html>"""


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("This request could not be understood"), _("Go back and try again.")),
        403: (_("You may not do this"), _("Your role does not allow this action.")),
        404: (_("Page not found"), _("This page does not exist, or you may not see it.")),
        405: (_("This action is not possible here"), _("Go back and try again.")),
        409: (_("This changed in the meantime"), _("Reload the page to see where it stands.")),
        413: (_("What was sent is too large"), _("Send shorter texts, or less at once.")),
        429: (_("Too many attempts"), _("Wait a few minutes, then try again.")),
        500: (_("Something went wrong on our side"), _("Nothing you did caused this. Try again later.")),
        503: (
            _("Maillage is briefly unavailable"),
            _("Nothing you did caused this. Try again in a few seconds."),
        ),
    }


def error_page(status: int, detail: str | None = None, cause: Exception | None = None) -> tuple[str, int]:
    """The error page for `status`; its reference code is logged so support can find the cause."""
    code = secrets.token_hex(4).upper()
    if cause is None:
        log.info("error %s shown, reference %s", status, code)
    else:
        # The type and the place, never the message: a message may quote submitted data.
        frame = traceback.extract_tb(cause.__traceback__)[-1]
        where = f"{frame.filename}:{frame.lineno}"
        log.error("error %s, reference %s: %s at %s", status, code, type(cause).__name__, where)
    try:
        title, hint = _messages().get(status, _messages()[500])
        page = render_template(
            "errors/error.html", status=status, title=title, hint=detail or hint, code=code
        )
    except Exception as error:
        log.error("error page %s failed, reference %s: %s", status, code, type(error).__name__)
        page = FALLBACK_PAGE.format(code=code)
    return page, status


def waiting_time(seconds: int) -> str:
    """A wait as a person reads it: in whole minutes, rounded up."""
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def too_many_attempts(seconds: int, detail: str | None = None) -> tuple[str, int, dict[str, str]]:
    """The 429 page: how long to wait, in words and in `Retry-After` (whole seconds)."""
    hint = detail or _("Wait %(delay)s, then try again.", delay=waiting_time(seconds))
    page, status = error_page(429, hint)
    return page, status, {"Retry-After": str(seconds)}


def _retry_after(error: HTTPException) -> int:
    """How long a refused request waits: as the refusal says, or as the limits it broke say."""
    given = dict(error.get_headers()).get("Retry-After", "")
    if given.isdigit():
        return int(given)
    # A minute when nothing says: the shortest window of the web's limits.
    return quota.breached_wait() or 60


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> tuple[str, int]:
        return error_page(400, _("The form expired. Go back, reload the page and send it again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        if error.code == 429:
            return too_many_attempts(_retry_after(error))
        return error_page(error.code or 500)

    @app.errorhandler(ReferralNotFound)
    def not_found(_error: ReferralNotFound) -> tuple[str, int]:
        return error_page(404)

    @app.errorhandler(NotAllowed)
    def not_allowed(_error: NotAllowed) -> tuple[str, int]:
        return error_page(403)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        if not database_away(error):
            return error_page(500, cause=error)
        page, status = error_page(503, cause=error)
        return page, status, {"Retry-After": str(DATABASE_AWAY_RETRY_SECONDS)}

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        return error_page(500, cause=error)


def database_away(error: Exception) -> bool:
    """Whether `error` says the database could not be reached or dropped the connection (a restart,
    a failover, SQLite busy past its timeout), as opposed to a mistake of ours: worth a retry."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    # OperationalError: refused connection, server shutting down, "database is locked".
    return type(error).__name__ in {"OperationalError", "InterfaceError"}

"""No signed link's token, nor a one-time link's, in any log line.

A token opens a referral, and her details, for days: whoever reads a log must not
be able to use it. Every server we ship or document writes request paths: gunicorn's
access log (`"POST /link/<token> HTTP/1.1" 303`) and its "Error handling request
<path>", waitress's "Client disconnected while serving <path>", the Werkzeug
development server's request lines, Flask's "Exception on <path>". A filter on each
of those loggers masks the token in the finished message; the rest of the line,
the request and its status, stays.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# The paths whose last part is a token: signed links, and the one-time links to an account
# (`service.accounts.one_time_links`) that reset a password or accept an invitation, and the secret
# addresses of calendar feeds (`service.calendars.feeds`).
TOKEN_PATHS = ("/link/", "/password/reset/", "/invitation/", "/calendar/feed/")
# The token is URL-safe base64; anything up to the next separator is masked, whatever it holds.
TOKEN_IN_PATH = re.compile("(" + "|".join(map(re.escape, TOKEN_PATHS)) + r")[^/?#\s\"']+")
MASK = "***"
# Where servers write request paths: gunicorn (access and error logs), waitress, Werkzeug's
# development server. The app's own logger is added by `keep_tokens_out_of_logs`.
SERVER_LOGGERS = ("gunicorn.access", "gunicorn.error", "waitress", "werkzeug")


def mask_tokens(text: str) -> str:
    """`text` with every link's token (`TOKEN_PATHS`) replaced by `***`."""
    return TOKEN_IN_PATH.sub(rf"\g<1>{MASK}", text)


class TokenMask(logging.Filter):
    """Rewrites a record whose message or traceback holds a link's token; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_tokens(record.exc_text)
        return True


def keep_tokens_out_of_logs(app: Flask) -> None:
    """Mask link tokens in the app's log and in every server's we run it under (once per logger)."""
    for logger in (app.logger, *(logging.getLogger(name) for name in SERVER_LOGGERS)):
        if not any(isinstance(existing, TokenMask) for existing in logger.filters):
            logger.addFilter(TokenMask())

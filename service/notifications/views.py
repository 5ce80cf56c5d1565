"""A development page listing the emails of the embedded mailbox (MAILLAGE_SMTP_URL unset).

Registered by the app only when MAILLAGE_ENV=development, and refusing to
answer otherwise too: in production emails go to a real server, never to a page.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import render_template
from flask import request
from flask_login import current_user
from werkzeug.wrappers import Response

from service.config import settings
from service.notifications.mailbox import list_mailbox
from service.notifications.mailbox import read_email

blueprint = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")


LOOPBACK = ("127.0.0.1", "::1")
# Headers a proxy adds: a request that went through one may come from anywhere.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@blueprint.before_request
def development_only() -> None:
    """Every signed link is in these emails: only a signed-in person at this computer reads them."""
    if settings().env != "development":
        abort(404)
    if request.remote_addr not in LOOPBACK or any(header in request.headers for header in FORWARDED):
        abort(404)
    if not current_user.is_authenticated:
        abort(404)


@blueprint.get("/")
def index() -> str:
    folder = settings().mailbox_folder()
    page = list_mailbox(folder, request.args.get("page", 1, type=int))
    return render_template("notifications/mailbox.html", listing=page, entries=page.entries, folder=folder)


@blueprint.get("/<name>")
def show(name: str) -> str:
    message = read_email(settings().mailbox_folder(), name)
    if message is None:
        abort(404)
    text = message.get_body(("plain",))
    return render_template(
        "notifications/mailbox_email.html",
        name=name,
        message=message,
        text=text.get_content() if text is not None else "",
        has_html=message.get_body(("html",)) is not None,
    )


@blueprint.get("/<name>/html")
def show_html(name: str) -> Response:
    """The HTML version as the email client would get it, sandboxed: no script, no form, nothing fetched."""
    message = read_email(settings().mailbox_folder(), name)
    part = message.get_body(("html",)) if message is not None else None
    if part is None:
        abort(404)
    response = Response(part.get_content(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

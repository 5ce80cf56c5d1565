"""The `/api/v1` blueprint: bearer keys, JSON in and out, problem+json errors, a rate limit per key.

Views here parse with a pydantic model, call one domain operation or query
with the key's actor, and answer with a pydantic model. CSRF does not apply:
a key travels in a header a browser never adds by itself, never in a cookie.

A request without an active key is refused (401), audited when it presented
one, and counted against its address: past `API_FAILED_KEY_LIMIT` the address
is refused (429) before any key it sends is looked at, so keys cannot be
guessed at the speed of the server. A key refused further on (403, 404) is
audited by `service.audit.views.audit_refusals`, as a person would be.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any
from typing import NoReturn
from typing import TypeVar

from flask import Blueprint
from flask import Flask
from flask import Request
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask.sessions import SessionMixin
from limits import parse
from pydantic import BaseModel
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import TooManyRequests
from werkzeug.exceptions import Unauthorized
from werkzeug.exceptions import UnsupportedMediaType

from service import extensions
from service.api import allowance
from service.api import problems
from service.api.keys import actor_for
from service.api.keys import key_of
from service.audit.operations import audit
from service.referrals.actors import Actor
from service.web import quota
from service.web.clock import request_clock
from service.web.database import db
from service.web.inputs import outside_rows

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
# Endpoints anyone may read: the document and its rendered reference.
PUBLIC = frozenset({"api.openapi", "api.reference"})
REFERENCE = PREFIX + "/reference"

# Requests without an active key one address may make (`API_FAILED_KEY_LIMIT` in the app config).
DEFAULT_FAILED_KEY_LIMIT = "10 per minute"
# Addresses held back in this process at most: the oldest hold goes first past this many.
MAX_HELD = 10_000

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
Model = TypeVar("Model", bound=BaseModel)

# Address -> time.monotonic() until which its requests are refused unread. Kept in the process:
# the count itself is shared (Redis), but asking Redis on every request would slow every client.
# Each process learns of a hold at its own first failure past the shared count.
_held_until: dict[str, float] = {}
_holding = threading.Lock()


@blueprint.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC:
        return
    if _held_until:  # empty unless someone went past the limit: nothing to pay on the way in
        _refuse_if_held()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    actor = actor_for(db(), bearer) if bearer else None
    if actor is None:
        _refuse_key(bearer)
    # Per key, not per address: many clients may share one. By its id, so no token sits in Redis.
    allowance.spend(str(actor.api_key_id))
    g.api_actor = actor
    if outside_rows((request.view_args or {}).values()):
        raise NotFound()  # no row has such an id; the database would refuse to compare it
    # A larger body is a 413 before it is read: a referral in JSON is a few kilobytes.
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]


def _refuse_if_held() -> None:
    address = request.remote_addr or ""
    until = _held_until.get(address)
    left = until - time.monotonic() if until is not None else 0.0
    if left > 0:
        raise TooManyRequests(retry_after=math.ceil(left))
    # An ended hold goes, so that once none is left requests no longer look.
    _held_until.pop(address, None)


def _refuse_key(token: str) -> NoReturn:
    """No active key: counted against the address, audited when the request presented credentials
    (`token`: the bearer token, if that is what it presented), 401.

    Past the address's limit the answer is 429, unaudited: a flood of guesses writes no more
    than the limit's worth of audit entries.
    """
    address = request.remote_addr or ""
    rate = current_app.config.get("API_FAILED_KEY_LIMIT", DEFAULT_FAILED_KEY_LIMIT)
    if not quota.within(rate, "api-key-failed", address):
        seconds = parse(rate).get_expiry()
        _hold(address, seconds)
        raise TooManyRequests(retry_after=seconds)
    if request.headers.get("Authorization", "").strip():
        _audit_refused_key(token)
    raise Unauthorized()


def _hold(address: str, seconds: float) -> None:
    now = time.monotonic()
    with _holding:
        # Every hold lasts as long, so the first in the dict ends first: drop the ended ones.
        while _held_until and (len(_held_until) >= MAX_HELD or next(iter(_held_until.values())) <= now):
            del _held_until[next(iter(_held_until))]
        _held_until.pop(address, None)
        _held_until[address] = now + seconds


def _audit_refused_key(token: str) -> None:
    """Audited for the key's organization, naming the key, when it is a revoked key of one, as a
    failed sign-in is for her account; a key no one has belongs to no organization. Never the token."""
    session = db()
    try:
        key = key_of(session, token) if token else None
        if key is None:
            refused = Actor(user_id=None, organization_id=None, role="anonymous")
        else:
            refused = Actor(
                user_id=None, organization_id=key.organization_id, role=key.role, api_key_id=key.id
            )
        audit(session, "access.refused", refused, request_clock()())
        session.commit()
    except SQLAlchemyError as error:
        session.rollback()
        log.warning("refused API key not audited: %s", type(error).__name__)


def actor() -> Actor:
    """The organization (with the key's role) the current request acts for."""
    return g.api_actor


def body(model: type[Model]) -> Model:
    """The JSON body read into `model`: 415 if it is not JSON, 413 if too large, 400 if it is not
    JSON that can be read (nested too deep among others), 422 (problem+json) if it does not fit."""
    if not request.is_json:
        raise UnsupportedMediaType()
    # Parsed by pydantic (jiter), which stops at a depth of a few hundred: Python's json module
    # recursed until RecursionError on 100,000 nested brackets.
    try:
        return model.model_validate_json(request.get_data(cache=True))
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise BadRequest() from None
        raise


def query(model: type[Model]) -> Model:
    """The query string read into `model`; a name given twice keeps its first value."""
    return model.model_validate({name: request.args.get(name) for name in request.args})


def answer(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(model.model_dump_json(), status, mimetype="application/json")
    response.headers["Content-Language"] = problems.language()
    response.headers["Vary"] = "Accept-Language, Authorization"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Once, not per app: the extensions are shared by every app this process makes (tests make many).
extensions.csrf.exempt(blueprint)


@extensions.limiter.request_filter
def _counted_by_key() -> bool:
    """Flask-Limiter leaves the API alone: `authenticate` counts each key's allowance itself.

    A filter rather than `exempt(blueprint)`: Flask-Limiter asks its filters first, and an
    exempt blueprint still cost every API call the search for the limits that apply.
    """
    return request.blueprint == blueprint.name


@blueprint.errorhandler(Exception)
def any_error(error: Exception) -> Response:
    return problems.from_error(error)


def _in_api() -> bool:
    return _is_api_path(request.path)


def _is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class PageSessions(SecureCookieSessionInterface):
    """The signed-cookie session, for pages. A call to the API acts by its key alone: it gets a
    null session, so a cookie it carries is neither read nor written back, and neither costs time.

    The reference is a page (it shows who is signed in), so it keeps hers.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if _is_api_path(request.path) and request.path != REFERENCE:
            return self.make_null_session(app)
        return super().open_session(app, request)


def register(app: Flask) -> None:
    """Mount the API and its key pages on `app`."""
    from service.api import directory  # noqa: F401 - registers its routes
    from service.api import messages  # noqa: F401
    from service.api import openapi  # noqa: F401
    from service.api import protocols  # noqa: F401
    from service.api import referrals  # noqa: F401
    from service.api.pages import blueprint as key_pages
    from service.web import errors as pages

    app.register_blueprint(blueprint)
    app.register_blueprint(key_pages)
    app.session_interface = PageSessions()

    # An address under /api/v1 that matches no route (or not with this method) never reaches the
    # blueprint's handlers: answer those in problem+json too, and leave pages their error pages.
    def unmatched(error: HTTPException) -> Any:
        if _in_api():
            return problems.from_error(error)
        return pages.error_page(error.code or 500)

    app.register_error_handler(NotFound, unmatched)
    app.register_error_handler(MethodNotAllowed, unmatched)

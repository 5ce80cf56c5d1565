"""The `/api/v1` blueprint: bearer keys, JSON in and out, problem+json errors, a rate limit per key.

Views here parse with a pydantic model, call one domain operation or query
with the key's actor, and answer with a pydantic model. CSRF does not apply:
a key travels in a header a browser never adds by itself, never in a cookie.
"""

from __future__ import annotations

import hashlib
from typing import Any
from typing import TypeVar

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import g
from flask import request
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import Unauthorized
from werkzeug.exceptions import UnsupportedMediaType

from service import extensions
from service.api import allowance
from service.api import problems
from service.api.keys import actor_for
from service.api.schemas import MAX_ID
from service.referrals.actors import Actor
from service.web.database import db

PREFIX = "/api/v1"
# Endpoints anyone may read: the document and its rendered reference.
PUBLIC = frozenset({"api.openapi", "api.reference"})

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
Model = TypeVar("Model", bound=BaseModel)


@blueprint.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC:
        return
    if any(isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        raise NotFound()  # no row has such an id; the database would refuse to compare it
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    actor = actor_for(db(), token.strip()) if scheme.lower() == "bearer" else None
    if actor is None:
        raise Unauthorized()
    # Per key, not per address: many clients may share one. A hash, so no token sits in Redis.
    allowance.spend(hashlib.sha256(token.encode("utf-8")).hexdigest()[:32])
    g.api_actor = actor


def actor() -> Actor:
    """The organization (with the key's role) the current request acts for."""
    return g.api_actor


def body(model: type[Model]) -> Model:
    """The JSON body read into `model`: 415 if it is not JSON, 422 (problem+json) if it does not fit."""
    if not request.is_json:
        raise UnsupportedMediaType()
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest()
    return model.model_validate(data)


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
# Each key's allowance is counted by `authenticate` (see `service.api.allowance`).
extensions.limiter.exempt(blueprint)


@blueprint.errorhandler(Exception)
def any_error(error: Exception) -> Response:
    return problems.from_error(error)


def _in_api() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def register(app: Flask) -> None:
    """Mount the API and its key pages on `app`."""
    from service.api import directory  # noqa: F401 - registers its routes
    from service.api import openapi  # noqa: F401
    from service.api import protocols  # noqa: F401
    from service.api import referrals  # noqa: F401
    from service.api.pages import blueprint as key_pages
    from service.web import errors as pages

    app.register_blueprint(blueprint)
    app.register_blueprint(key_pages)

    # An address under /api/v1 that matches no route (or not with this method) never reaches the
    # blueprint's handlers: answer those in problem+json too, and leave pages their error pages.
    def unmatched(error: HTTPException) -> Any:
        if _in_api():
            return problems.from_error(error)
        return pages.error_page(error.code or 500)

    app.register_error_handler(NotFound, unmatched)
    app.register_error_handler(MethodNotAllowed, unmatched)

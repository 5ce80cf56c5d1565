"""Every error of the API as `application/problem+json` (RFC 9457), mapped here and nowhere else.

Each domain error has a stable `type` (an anchor of the reference page, where
it is explained) and a `title` in the client's language (`Accept-Language`,
French by default). Never a stack trace, an exception's text, or a value the
client sent: a value may be her name.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import request
from flask_babel import force_locale
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from service.api.intake import InvalidField
from service.directory.errors import DirectoryNotFound
from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ParameterError
from service.errors import ProtocolNotFound
from service.errors import ReferralError
from service.errors import ReferralNotFound
from service.errors import UnknownTrigger
from service.web.errors import DATABASE_AWAY_RETRY_SECONDS
from service.web.errors import database_away

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Kind:
    slug: str
    status: int
    title: Any  # a lazy string, said in the client's language when the answer is made


# Domain errors, most specific first: the first class an error is an instance of wins.
DOMAIN: tuple[tuple[type[Exception], Kind], ...] = (
    (ReferralNotFound, Kind("referral-not-found", 404, _l("Referral not found"))),
    (DirectoryNotFound, Kind("not-found", 404, _l("Not found"))),
    (ProtocolNotFound, Kind("protocol-not-found", 404, _l("Protocol not found"))),
    (ConcurrentUpdate, Kind("concurrent-update", 409, _l("This changed in the meantime"))),
    (ConsentRequired, Kind("consent-required", 409, _l("No valid consent is recorded."))),
    (InvalidTransition, Kind("invalid-transition", 409, _l("This action is not possible in this state"))),
    (UnknownTrigger, Kind("unknown-trigger", 422, _l("The protocol has no such action"))),
    (GuardFailed, Kind("guard-failed", 422, _l("A condition of this action is not met"))),
    (NotAllowed, Kind("not-allowed", 403, _l("You may not do this"))),
    (ParameterError, Kind("invalid-parameter", 422, _l("A protocol parameter is not valid"))),
    (ReferralError, Kind("referral-refused", 409, _l("This action was refused"))),
    (ValidationError, Kind("validation-error", 422, _l("Some fields are not valid"))),
    (InvalidField, Kind("validation-error", 422, _l("Some fields are not valid"))),
)

HTTP: dict[int, Kind] = {
    400: Kind("bad-request", 400, _l("This request could not be understood")),
    401: Kind("unauthorized", 401, _l("A valid API key is needed")),
    403: Kind("forbidden", 403, _l("You may not do this")),
    404: Kind("not-found", 404, _l("Not found")),
    405: Kind("method-not-allowed", 405, _l("This action is not possible here")),
    406: Kind("not-acceptable", 406, _l("This API answers in JSON only")),
    413: Kind("too-large", 413, _l("The request is too large")),
    415: Kind("unsupported-media-type", 415, _l("Send the body as application/json")),
    422: Kind("validation-error", 422, _l("Some fields are not valid")),
    429: Kind("too-many-requests", 429, _l("Too many attempts")),
    500: Kind("server-error", 500, _l("Something went wrong on our side")),
    503: Kind("unavailable", 503, _l("Maillage is briefly unavailable")),
}

# Said once per kind in the reference page.
DETAILS: dict[str, Any] = {
    "concurrent-update": _l(
        "Someone acted on this referral since you read it. Its current state is in `current`."
    ),
    "guard-failed": _l("The member `guard` names the condition: a reason, a comment, an organization, ..."),
    "unauthorized": _l("Send `Authorization: Bearer <key>` with an active key of your organization."),
    "unavailable": _l("The database could not be reached. Send the request again after `Retry-After`."),
}


def language() -> str:
    """The client's language by `Accept-Language`; French when it asks for neither."""
    return request.accept_languages.best_match(LANGUAGES) or "fr"


def type_uri(slug: str) -> str:
    return f"/api/v1/reference#problem-{slug}"


def kind_of(error: Exception) -> Kind:
    if database_away(error):
        return HTTP[503]
    if isinstance(error, HTTPException):
        return HTTP.get(error.code or 500, HTTP[500])
    for cls, kind in DOMAIN:
        if isinstance(error, cls):
            return kind
    return HTTP[500]


def every_kind() -> list[Kind]:
    """Each kind once, for the reference page."""
    kinds = {kind.slug: kind for _cls, kind in DOMAIN} | {kind.slug: kind for kind in HTTP.values()}
    return sorted(kinds.values(), key=lambda k: (k.status, k.slug))


def problem(kind: Kind, *, headers: dict[str, str] | None = None, **members: Any) -> Response:
    """The problem+json answer of `kind`, its title in the client's language."""
    with force_locale(language()):
        body = {"type": type_uri(kind.slug), "title": str(kind.title), "status": kind.status}
    body.update({name: value for name, value in members.items() if value is not None})
    response = Response(json.dumps(body, ensure_ascii=False, default=str), kind.status)
    response.mimetype = MEDIA_TYPE
    response.headers["Content-Language"] = language()
    response.headers["Vary"] = "Accept-Language, Authorization"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    """Where and what, without the value sent (pydantic's `input`): it may be personal."""
    with force_locale(language()):
        return [
            {
                "location": [str(part) if not isinstance(part, int) else part for part in e["loc"]],
                "message": e["msg"],
            }
            for e in error.errors(include_input=False, include_url=False)
        ]


def from_error(error: Exception, **members: Any) -> Response:
    """The answer to a domain error, an HTTP error, or anything unexpected (a 500 with a reference code)."""
    kind = kind_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, ValidationError):
        members.setdefault("errors", field_errors(error))
    elif isinstance(error, InvalidField):
        with force_locale(language()):
            members.setdefault("errors", [{"location": error.location, "message": str(error.message)}])
    elif isinstance(error, GuardFailed) and not isinstance(error, ConsentRequired):
        members.setdefault("guard", error.guard)
    elif isinstance(error, HTTPException):
        given = dict(error.get_headers())
        for name in ("Allow", "Retry-After"):
            if given.get(name):
                headers[name] = given[name]
        if kind.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="maillage"'
    if kind.status == 503:
        headers["Retry-After"] = str(DATABASE_AWAY_RETRY_SECONDS)
    if kind.status >= 500:
        code = secrets.token_hex(4).upper()
        # The type and the place, never the message: a message may quote submitted data.
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        log.error("api error 500, reference %s: %s at %s", code, type(error).__name__, where)
        with force_locale(language()):
            members["detail"] = gettext("Reference: %(code)s", code=code)
    return problem(kind, headers=headers, **members)

"""The OpenAPI 3.1 document, generated from the routes and the pydantic models they declare.

Each API view says what it reads and answers with `@documented(...)`; the
document walks the app's URL map and asks pydantic for the JSON Schemas
(`models_json_schema`), so it cannot drift from the code. The reference page
is the same document rendered on the server (no script, no CDN).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TypeVar

from flask import Flask
from flask import Response
from flask import current_app
from flask import render_template
from flask_babel import gettext as _
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from service.api import problems
from service.api.blueprint import PREFIX
from service.api.blueprint import blueprint
from service.api.schemas import MAX_ID
from service.api.schemas import Problem

View = TypeVar("View", bound=Callable[..., Any])
_CACHE = "maillage.openapi"
_PATH_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass(frozen=True)
class Doc:
    summary: str
    tag: str
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    description: str = ""
    public: bool = False
    etag: bool = False  # the answer carries an ETag (the referral's version)
    if_match: bool = False  # the request may carry If-Match
    location: bool = False  # a 201's Location header
    minimal: bool = False  # `Prefer: return=minimal` answers 204 with the ETag, no body
    extra: dict[str, Any] = field(default_factory=dict)


def documented(
    summary: str, *, tag: str, response: type[BaseModel], **options: Any
) -> Callable[[View], View]:
    """Declare what a view reads and answers, for the document."""

    def mark(view: View) -> View:
        view.api_doc = Doc(summary=summary, tag=tag, response=response, **options)  # type: ignore[attr-defined]
        return view

    return mark


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`'s API, built once per app."""
    if _CACHE not in app.extensions:
        app.extensions[_CACHE] = _build(app)
    return app.extensions[_CACHE]


def _operations(app: Flask) -> list[tuple[str, str, list[tuple[str, str]], Doc]]:
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        doc = getattr(view, "api_doc", None)
        if doc is None or not rule.rule.startswith(PREFIX):
            continue
        path = _PATH_ARGUMENT.sub(lambda m: "{" + m[2] + "}", rule.rule)
        arguments = [(m[2], m[1] or "string") for m in _PATH_ARGUMENT.finditer(rule.rule)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), arguments, doc))
    return sorted(found)


def _build(app: Flask) -> dict[str, Any]:
    operations = _operations(app)
    wanted: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    for *_where, doc in operations:
        wanted.append((doc.response, "serialization"))
        if doc.body is not None:
            wanted.append((doc.body, "validation"))
    wanted = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(wanted, ref_template="#/components/schemas/{model}")
    problem_ref = refs[(Problem, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for path, method, arguments, doc in operations:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}
                if converter == "int"
                else {"type": "string", "maxLength": 64},
            }
            for name, converter in arguments
        ]
        if doc.query is not None:
            parameters += _query_parameters(doc.query)
        if doc.if_match:
            parameters.append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": "The ETag read; a stale one answers 409 with the current referral.",
                    "schema": {"type": "string", "pattern": '^"[0-9]{1,9}"$'},
                }
            )
        if doc.minimal:
            parameters.append(
                {
                    "name": "Prefer",
                    "in": "header",
                    "required": False,
                    "description": "`return=minimal`: answer 204 with the new ETag and no body (RFC 7240).",
                    "schema": {"type": "string", "enum": ["return=minimal", "return=representation"]},
                }
            )
        success: dict[str, Any] = {
            "description": _status_text(doc.status),
            "content": {"application/json": {"schema": refs[(doc.response, "serialization")]}},
        }
        headers = {}
        if doc.etag:
            headers["ETag"] = {"description": "The referral's version.", "schema": {"type": "string"}}
        if doc.location:
            headers["Location"] = {"description": "The new referral's address.", "schema": {"type": "string"}}
        if headers:
            success["headers"] = headers
        operation: dict[str, Any] = {
            "operationId": f"{method}_{path.removeprefix(PREFIX + '/')}".replace("/", "_")
            .replace("{", "")
            .replace("}", "")
            .replace(".", "_")
            .replace("-", "_"),
            "summary": doc.summary,
            "tags": [doc.tag],
            "parameters": parameters,
            "responses": {
                str(doc.status): success,
                "default": {
                    "description": "An error, as RFC 9457 problem details.",
                    "content": {problems.MEDIA_TYPE: {"schema": problem_ref}},
                },
            },
        }
        if doc.minimal:
            operation["responses"]["204"] = {
                "description": "Done (with `Prefer: return=minimal`).",
                "headers": {"ETag": headers["ETag"]} if doc.etag else {},
            }
        if doc.description:
            operation["description"] = doc.description
        if doc.public:
            operation["security"] = []
        if doc.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(doc.body, "validation")]}},
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Maillage API",
            "version": "1",
            "description": (
                "Referrals between community organizations of Laval, their protocols and the directory. "
                "An organization sees only the referrals it sent or received; a referral it may not see "
                "answers 404, as one that does not exist. Authenticate with `Authorization: Bearer <key>`, "
                "a key its coordinator makes on the API keys page. Errors are RFC 9457 problem details "
                "whose `title` follows `Accept-Language` (fr, en)."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of your organization, made by its coordinator.",
                }
            },
        },
        "security": [{"apiKey": []}],
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = []
    for name, spec in schema["properties"].items():
        spec = dict(spec)
        # A query string cannot say null: an absent parameter is the null.
        options = [s for s in spec.pop("anyOf", []) if s.get("type") != "null"]
        if len(options) == 1:
            spec.update(options[0])
        elif options:
            spec["anyOf"] = options
        if spec.get("default") is None:
            spec.pop("default", None)
        spec.pop("title", None)
        description = spec.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": spec}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _status_text(status: int) -> str:
    return {200: "OK", 201: "Created"}.get(status, str(status))


# Serving ----------------------------------------------------------------------------


class DocumentOut(BaseModel):
    """The OpenAPI document itself."""

    openapi: str


@blueprint.route("/openapi.json")
@documented("This document", tag="reference", response=DocumentOut, public=True)
def openapi() -> Response:
    text = json.dumps(document(current_app), ensure_ascii=False, indent=1)
    return Response(text, mimetype="application/json")


@blueprint.route("/reference")
def reference() -> str:
    """The document as a page people read, with the problem types the API answers."""
    spec = document(current_app)
    schemas = spec["components"]["schemas"]
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op["summary"],
            "description": op.get("description", ""),
            "public": op.get("security") == [],
            "parameters": [
                {
                    "name": p["name"],
                    "where": p["in"],
                    "required": p["required"],
                    "type": type_text(p["schema"]),
                    "description": p.get("description", ""),
                }
                for p in op["parameters"]
            ],
            "body": type_text(op["requestBody"]["content"]["application/json"]["schema"])
            if "requestBody" in op
            else None,
            "responses": [
                (status, type_text(next(iter(r.get("content", {}).values()), {}).get("schema", {})))
                for status, r in op["responses"].items()
            ],
            "anchor": op["operationId"],
        }
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]
    models = [
        {
            "name": name,
            "description": schema.get("description", ""),
            "fields": [
                {
                    "name": field_name,
                    "type": type_text(field_schema),
                    "required": field_name in schema.get("required", []),
                    "description": field_schema.get("description", ""),
                }
                for field_name, field_schema in schema.get("properties", {}).items()
            ],
            "examples": [json.dumps(e, ensure_ascii=False, indent=2) for e in schema.get("examples", [])],
        }
        for name, schema in sorted(schemas.items())
    ]
    kinds = [
        {
            "anchor": f"problem-{k.slug}",
            "type": problems.type_uri(k.slug),
            "status": k.status,
            "title": str(k.title),
            "detail": str(problems.DETAILS[k.slug]) if k.slug in problems.DETAILS else "",
        }
        for k in problems.every_kind()
    ]
    return render_template(
        "api/reference.html",
        title=_("Maillage API reference"),
        info=spec["info"],
        operations=operations,
        models=models,
        kinds=kinds,
    )


def type_text(schema: dict[str, Any]) -> str:
    """A schema said in a few words: `string`, `array of ReferralOut`, `integer | null`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_text(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_text(schema.get('items', {}))}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)

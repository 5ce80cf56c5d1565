"""Protocol pages: every protocol and version in words and as a diagram, and an agreement's protocol.

The diagram is the SVG `maillage protocols diagram --format svg` draws
(`workflows.diagram.svg`): our own drawing, its text escaped, no script and
no style attribute, so it is put inline in the page (the CSP allows no other
origin) and also served alone as image/svg+xml. The page lists the states
and transitions beside it: the same picture in words, for screen readers.

Protocols are the region's common rules, so any signed-in person reads them;
an agreement's page follows its partnership page (any signed-in person, an
unknown partnership or version is 404).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import render_template
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from service.directory import queries as directory_queries
from service.directory.errors import DirectoryNotFound
from service.directory.models import Partnership
from service.directory.models import ReferralAgreement
from service.protocol_pages.descriptions import describe
from service.protocols import protocol_library
from service.web.database import db
from service.web.errors import error_page
from service.web.templating import current_locale
from workflows.diagram import svg
from workflows.errors import ParameterError
from workflows.errors import ProtocolNotFound
from workflows.protocol import Protocol

blueprint = Blueprint("protocol_pages", __name__)


@blueprint.errorhandler(DirectoryNotFound)
@blueprint.errorhandler(ProtocolNotFound)
def not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404)


@blueprint.get("/protocols")
@login_required
def index() -> str:
    """Every protocol, its newest version first, with links to each version."""
    library = protocol_library()
    language = current_locale()
    names = sorted({protocol.name for protocol in library})
    entries = [(describe(library.get(name), language), library.versions(name)) for name in names]
    return render_template("protocols/index.html", entries=entries)


@blueprint.get("/protocols/<name>/v<int:version>")
@login_required
def show(name: str, version: int) -> str:
    protocol = protocol_library().get(name, version)
    language = current_locale()
    return render_template(
        "protocols/protocol.html",
        protocol=protocol,
        description=describe(protocol, language),
        diagram=_diagram(protocol, language),
        versions=protocol_library().versions(name),
        agreement=None,
        partnership=None,
    )


@blueprint.get("/protocols/<name>/v<int:version>.svg")
@login_required
def diagram(name: str, version: int) -> Response:
    """The diagram alone, to open or save."""
    protocol = protocol_library().get(name, version)
    return Response(svg(protocol, current_locale()), mimetype="image/svg+xml")


@blueprint.get("/directory/partnerships/<int:partnership_id>/agreements/<int:version>")
@login_required
def agreement(partnership_id: int, version: int) -> str:
    """The protocol an agreement chose, with the delays it agreed in place of the defaults."""
    partnership, found, protocol, parameters = _agreed(partnership_id, version)
    language = current_locale()
    return render_template(
        "protocols/protocol.html",
        protocol=protocol,
        description=describe(protocol, language, parameters),
        diagram=_diagram(protocol, language, parameters),
        versions=protocol_library().versions(protocol.name),
        agreement=found,
        partnership=partnership,
        urgent=_urgent(found.urgent_protocol_name),
    )


@blueprint.get("/directory/partnerships/<int:partnership_id>/agreements/<int:version>.svg")
@login_required
def agreement_diagram(partnership_id: int, version: int) -> Response:
    """The agreement's diagram alone: its protocol drawn with the agreed delays."""
    _partnership, _found, protocol, parameters = _agreed(partnership_id, version)
    return Response(svg(protocol, current_locale(), parameters), mimetype="image/svg+xml")


def _agreed(
    partnership_id: int, version: int
) -> tuple[Partnership, ReferralAgreement, Protocol, dict[str, str]]:
    """The partnership, the agreement's version, its protocol and its parameters complete; 404 if unknown."""
    session = db()
    partnership = directory_queries.get_partnership(session, partnership_id)
    found = session.scalar(
        select(ReferralAgreement).where(
            ReferralAgreement.partnership_id == partnership.id, ReferralAgreement.version == version
        )
    )
    if found is None:
        abort(404)
    protocol = protocol_library().get(found.protocol_name)
    try:
        parameters = protocol.resolve_parameters(found.parameters or {})
    except ParameterError:
        # Values a newer version of the protocol no longer allows: shown as they were agreed.
        parameters = dict(found.parameters or {})
    return partnership, found, protocol, parameters


def _urgent(name: str) -> Protocol | None:
    try:
        return protocol_library().get(name)
    except ProtocolNotFound:
        return None


def _diagram(protocol: Protocol, language: str, parameters: dict[str, str] | None = None) -> Markup:
    # Our own drawing with every text escaped by `workflows.diagram`: safe to put in the page as is.
    return Markup(svg(protocol, language, parameters))  # noqa: S704

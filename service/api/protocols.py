"""`/api/v1/protocols`: the loaded protocols, one version's states and actions, and its diagram."""

from __future__ import annotations

from flask import Response

from service.api import problems
from service.api.blueprint import answer
from service.api.blueprint import blueprint
from service.api.blueprint import query
from service.api.openapi import documented
from service.api.schemas import DiagramOut
from service.api.schemas import ProtocolList
from service.api.schemas import ProtocolOut
from service.api.schemas import ProtocolSummary
from service.api.schemas import StateOut
from service.api.schemas import TransitionOut
from service.api.schemas import VersionQuery
from service.protocols import protocol_library
from workflows.diagram import mermaid
from workflows.protocol import Protocol

TAG = "protocols"


def _protocol(name: str) -> Protocol:
    return protocol_library().get(name, query(VersionQuery).version)


@blueprint.get("/protocols")
@documented("The protocols, each in its newest version", tag=TAG, response=ProtocolList)
def list_protocols() -> Response:
    library, language = protocol_library(), problems.language()
    items = [
        ProtocolSummary(
            name=protocol.name,
            version=protocol.version,
            versions=library.versions(protocol.name),
            title=protocol.spec.title.in_language(language),
        )
        for protocol in sorted(library.latest(), key=lambda p: p.name)
    ]
    return answer(ProtocolList(items=items))


@blueprint.get("/protocols/<name>")
@documented("One protocol version: its states and actions", tag=TAG, query=VersionQuery, response=ProtocolOut)
def get_protocol(name: str) -> Response:
    protocol, language = _protocol(name), problems.language()
    return answer(
        ProtocolOut(
            name=protocol.name,
            version=protocol.version,
            title=protocol.spec.title.in_language(language),
            initial=protocol.initial,
            states=[
                StateOut(
                    code=code,
                    title=state.title.in_language(language),
                    terminal=state.terminal,
                    waits_on=state.waits_on,
                )
                for code, state in protocol.states.items()
            ],
            transitions=[
                TransitionOut(
                    trigger=t.trigger,
                    title=t.title.in_language(language),
                    sources=list(t.sources),
                    dest=t.dest,
                    parties=sorted(t.parties),
                    reasons=sorted(protocol.reasons.get(t.reason, {})) if t.reason else [],
                    comment=t.comment,
                )
                for t in protocol.transitions
            ],
        )
    )


@blueprint.get("/protocols/<name>/diagram")
@documented(
    "One protocol version as a Mermaid state diagram", tag=TAG, query=VersionQuery, response=DiagramOut
)
def diagram(name: str) -> Response:
    protocol, language = _protocol(name), problems.language()
    return answer(DiagramOut(format="mermaid", language=language, text=mermaid(protocol, language)))

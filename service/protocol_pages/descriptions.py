"""A protocol in words, for its page: what each state waits for, its deadlines, who may act and why.

Built from the protocol file in the reader's language, with an agreement's
parameter values in place of the defaults when the page shows an agreement.
The list of states and transitions is also the textual equivalent of the
diagram for screen readers.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service.directory.wording import bounds_words
from service.directory.wording import duration_words
from workflows.protocol import Protocol

PARTY_LABELS = {
    "sender": _l("the sending organization"),
    "receiver": _l("the receiving organization"),
    "sender_coordinator": _l("the sending organization's coordinator"),
    "receiver_coordinator": _l("the receiving organization's coordinator"),
    "system": _l("Maillage, on its own"),
    "requester": _l("the organization asking to join"),
    "regional_admin": _l("the regional admin"),
    "asking": _l("the organization that asks"),
    "answering": _l("the organization asked"),
}
STEP_KINDS = {"reminder": _l("Reminder"), "escalation": _l("Escalation")}
COMMENT_RULES = {"required": _l("Comment required")}


def party_words(parties: Iterable[str]) -> str:
    """Who may act, in a fixed order, e.g. "the sending organization, Maillage, on its own"."""
    order = {party: n for n, party in enumerate(PARTY_LABELS)}
    chosen = sorted(set(parties), key=lambda party: (order.get(party, len(order)), party))
    return ", ".join(str(PARTY_LABELS.get(party, party)) for party in chosen)


@dataclass(frozen=True)
class Step:
    """One step of a deadline: a reminder or an escalation after a delay, and who is told."""

    kind: str
    after: str
    parameter: str | None  # the title of the parameter an agreement may adjust, if it is one
    notified: str


@dataclass(frozen=True)
class StateLine:
    code: str
    title: str
    initial: bool
    terminal: bool
    waits_on: str
    deadline: str | None
    steps: list[Step]
    exits: list[str]  # the transitions that leave it, as "Accept → Accepted"


@dataclass(frozen=True)
class TransitionLine:
    trigger: str
    title: str
    sources: list[str]
    dest: str
    parties: str
    reasons: list[str]
    comment: str


@dataclass(frozen=True)
class ParameterLine:
    name: str
    title: str
    value: str
    default: str
    bounds: str
    changed: bool  # the agreement sets another value than the default


@dataclass(frozen=True)
class Description:
    name: str
    version: int
    title: str
    summary: str
    states: list[StateLine]
    transitions: list[TransitionLine]
    parameters: list[ParameterLine]


def describe(protocol: Protocol, language: str, parameters: Mapping[str, str] | None = None) -> Description:
    """`protocol` in words in `language`; delays from `parameters` (an agreement's) where given."""
    spec = protocol.spec
    titles = {name: state.title.in_language(language) for name, state in protocol.states.items()}
    states = []
    for name, state in protocol.states.items():
        steps = []
        if state.deadline:
            for step in state.deadline.steps:
                adjustable = spec.parameters.get(step.after)
                steps.append(
                    Step(
                        kind=str(STEP_KINDS.get(step.kind, step.kind)),
                        after=duration_words(str(protocol.duration(step.after, parameters))),
                        parameter=adjustable.title.in_language(language) if adjustable else None,
                        notified=party_words({n.to for n in step.notify}),
                    )
                )
        exits = [
            _("%(action)s → %(state)s", action=t.title.in_language(language), state=titles[t.dest])
            for t in protocol.transitions
            if name in t.sources
        ]
        states.append(
            StateLine(
                code=name,
                title=titles[name],
                initial=name == protocol.initial,
                terminal=state.terminal,
                waits_on=party_words({state.waits_on}) if state.waits_on else "",
                deadline=state.deadline.title.in_language(language) if state.deadline else None,
                steps=steps,
                exits=exits,
            )
        )
    transitions = [
        TransitionLine(
            trigger=t.trigger,
            title=t.title.in_language(language),
            sources=[titles[source] for source in t.sources],
            dest=titles[t.dest],
            parties=party_words(t.parties),
            reasons=[
                reason.en if language == "en" else reason.fr for reason in protocol.reasons[t.reason].values()
            ]
            if t.reason
            else [],
            comment=str(COMMENT_RULES.get(t.comment, "")),
        )
        for t in protocol.transitions
    ]
    chosen = parameters or {}
    parameter_lines = [
        ParameterLine(
            name=name,
            title=p.title.in_language(language),
            value=duration_words(chosen.get(name, p.default)),
            default=duration_words(p.default),
            bounds=bounds_words(p.min, p.max),
            changed=name in chosen and chosen[name] != p.default,
        )
        for name, p in spec.parameters.items()
    ]
    return Description(
        name=protocol.name,
        version=protocol.version,
        title=spec.title.in_language(language),
        summary=spec.description.in_language(language),
        states=states,
        transitions=transitions,
        parameters=parameter_lines,
    )

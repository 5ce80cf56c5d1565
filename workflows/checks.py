"""Whether a well-shaped protocol makes sense: its states, parties, guards,
templates and deadlines fit together and every referral can reach an end.

Each check yields (field path, problem) pairs; the loader adds file and line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from collections.abc import Iterator

from workflows.durations import Duration
from workflows.guards import GUARDS
from workflows.guards import PARTIES_OF
from workflows.guards import recipients_of
from workflows.schema import FHIR_FINAL_TASK_STATUSES
from workflows.schema import Notify
from workflows.schema import ProtocolFile

Finding = tuple[str, str]


def sources(source: str | list[str]) -> list[str]:
    return [source] if isinstance(source, str) else list(source)


def check_protocol(protocol: ProtocolFile, templates: Collection[str]) -> list[Finding]:
    """Every problem found in `protocol`, in file order."""
    return [
        *_check_states(protocol),
        *_check_parameters(protocol),
        *_check_transitions(protocol, templates),
        *_check_deadlines(protocol, templates),
        *_check_graph(protocol),
        *_check_fhir(protocol),
    ]


def _one_of(kind: str, name: str, known: Collection[str]) -> str:
    return f"unknown {kind} {name!r}; expected one of: {', '.join(sorted(known))}"


def _check_states(protocol: ProtocolFile) -> Iterator[Finding]:
    if protocol.initial not in protocol.states:
        yield "initial", _one_of("state", protocol.initial, protocol.states)
    elif protocol.states[protocol.initial].terminal:
        yield "initial", "the initial state cannot be terminal"
    if not any(state.terminal for state in protocol.states.values()):
        yield "states", "no terminal state: mark at least one state 'terminal: true'"
    parties = PARTIES_OF[protocol.subject]
    for name, state in protocol.states.items():
        if state.waits_on is not None and state.waits_on not in parties:
            yield f"states.{name}.waits_on", _one_of("role", state.waits_on, parties)
        if state.terminal and state.deadline is not None:
            yield f"states.{name}.deadline", "a terminal state cannot have a deadline"


def _check_parameters(protocol: ProtocolFile) -> Iterator[Finding]:
    for name, spec in protocol.parameters.items():
        low, default, high = (Duration.parse(v) for v in (spec.min, spec.default, spec.max))
        if len({low.unit, default.unit, high.unit}) > 1:
            yield f"parameters.{name}", "min, default and max must use the same unit"
        elif not low <= default <= high:
            yield f"parameters.{name}", f"needs min <= default <= max, got {low}, {default}, {high}"


def _check_notify(
    path: str, notify: list[Notify], templates: Collection[str], subject: str
) -> Iterator[Finding]:
    recipients = recipients_of(subject)
    for i, item in enumerate(notify):
        if item.to not in recipients:
            yield f"{path}[{i}].to", _one_of("role", item.to, recipients)
        if item.template not in templates:
            yield f"{path}[{i}].template", f"unknown notification template {item.template!r}"


def _check_transitions(protocol: ProtocolFile, templates: Collection[str]) -> Iterator[Finding]:
    seen: dict[tuple[str, str], list[frozenset[str]]] = defaultdict(list)
    for i, transition in enumerate(protocol.transitions):
        path = f"transitions[{i}]"
        if transition.trigger == "state":
            # `transitions` refuses a trigger named like the model's state attribute.
            yield f"{path}.trigger", "'state' is reserved for the referral's state; choose another name"
        for source in sources(transition.source):
            if source not in protocol.states:
                yield f"{path}.from", _one_of("state", source, protocol.states)
            elif protocol.states[source].terminal:
                yield f"{path}.from", f"{source!r} is terminal: nothing may leave it"
            guards = frozenset(transition.guards)
            if guards in seen[(transition.trigger, source)]:
                yield (
                    f"{path}.trigger",
                    f"{transition.trigger!r} from {source!r} is defined twice with the same "
                    "guards: give each a different guard or a different name",
                )
            seen[(transition.trigger, source)].append(guards)
        if transition.dest not in protocol.states:
            yield f"{path}.to", _one_of("state", transition.dest, protocol.states)
        for party in transition.by:
            if party not in PARTIES_OF[protocol.subject]:
                yield f"{path}.by", _one_of("role", party, PARTIES_OF[protocol.subject])
        for guard in transition.guards:
            if guard not in GUARDS:
                yield f"{path}.guards", _one_of("guard", guard, GUARDS)
        if transition.reason is not None and transition.reason not in protocol.reasons:
            yield f"{path}.reason", _one_of("reason list", transition.reason, protocol.reasons)
        yield from _check_notify(f"{path}.notify", transition.notify, templates, protocol.subject)


def _check_deadlines(protocol: ProtocolFile, templates: Collection[str]) -> Iterator[Finding]:
    for name, state in protocol.states.items():
        if state.deadline is None:
            continue
        previous: Duration | None = None
        for i, step in enumerate(state.deadline.steps):
            path = f"states.{name}.deadline.steps[{i}]"
            yield from _check_notify(f"{path}.notify", step.notify, templates, protocol.subject)
            if step.after in protocol.parameters:
                after = Duration.parse(protocol.parameters[step.after].default)
            else:
                try:
                    after = Duration.parse(step.after)
                except ValueError as error:
                    yield f"{path}.after", f"{error}, or the name of a parameter"
                    continue
            if previous is not None and previous.unit != after.unit:
                yield f"{path}.after", "all steps of one deadline must use the same unit"
            elif previous is not None and after <= previous:
                yield f"{path}.after", f"must come after the previous step ({previous})"
            previous = after


def _check_graph(protocol: ProtocolFile) -> Iterator[Finding]:
    if protocol.initial not in protocol.states:
        return  # already reported; every state would also read as unreachable
    exits: dict[str, set[str]] = defaultdict(set)
    for transition in protocol.transitions:
        for source in sources(transition.source):
            exits[source].add(transition.dest)
    reached = {protocol.initial}
    frontier = [protocol.initial]
    while frontier:
        for dest in exits[frontier.pop()] - reached:
            reached.add(dest)
            frontier.append(dest)
    for name, state in protocol.states.items():
        if name not in reached:
            yield f"states.{name}", f"unreachable from the initial state {protocol.initial!r}"
        elif not state.terminal and not exits[name]:
            yield f"states.{name}", "not terminal and no transition leaves it: referrals would be stuck"


def _check_fhir(protocol: ProtocolFile) -> Iterator[Finding]:
    if protocol.fhir is None:
        return
    mapped = protocol.fhir.task_status
    for name, state in protocol.states.items():
        status = mapped.get(name)
        if status is None:
            yield "fhir.task_status", f"state {name!r} has no FHIR Task status: map every state"
        elif state.terminal and status not in FHIR_FINAL_TASK_STATUSES:
            final = ", ".join(sorted(FHIR_FINAL_TASK_STATUSES))
            yield f"fhir.task_status.{name}", f"{name!r} is terminal: map it to a final status ({final})"
        elif not state.terminal and status in FHIR_FINAL_TASK_STATUSES:
            yield f"fhir.task_status.{name}", f"{name!r} is not terminal: {status!r} would end the task"
    for name in mapped:
        if name not in protocol.states:
            yield f"fhir.task_status.{name}", _one_of("state", name, protocol.states)

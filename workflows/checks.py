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
from workflows.schema import REQUEST_KINDS
from workflows.schema import FieldSpec
from workflows.schema import Notify
from workflows.schema import ProtocolFile

Finding = tuple[str, str]

# The kinds of value a partnership request's field may hold.
FIELD_TYPES = frozenset({"text", "longtext", "date", "datetime", "choice", "number"})
DATE_TYPES = frozenset({"date", "datetime"})
# Kinds of value that only a person has: a request between organizations never collects them.
PERSONAL_TYPES = frozenset(
    {"person", "name", "email", "phone", "address", "birth_date", "health_card", "file", "photo", "consent"}
)
# Words of a field's name that say it would hold a woman's personal data (in English or French).
PERSONAL_NAME_WORDS = frozenset(
    {
        "name", "nom", "prenom", "firstname", "lastname", "surname",
        "birth", "birthdate", "birthday", "naissance", "dob", "age",
        "health", "sante", "ramq", "nam", "insurance", "assurance", "sin", "nas",
        "phone", "telephone", "cell", "email", "courriel", "mail",
        "address", "adresse", "postal", "street",
        "woman", "women", "femme", "femmes", "person", "personne", "client", "cliente", "beneficiary",
        "victim", "victime", "diagnosis", "diagnostic", "medical", "medication", "child", "children",
        "enfant", "enfants", "dossier",
    }
)  # fmt: skip
# Phrases of a field's label that ask for the same, whatever its name.
PERSONAL_LABEL_PHRASES = (
    "date of birth",
    "birth date",
    "date de naissance",
    "health card",
    "health insurance",
    "assurance maladie",
    "social insurance",
    "assurance sociale",
    "her name",
    "woman's name",
    "nom de la femme",
    "son nom",
    "her address",
    "son adresse",
    "her phone",
    "son téléphone",
)
# The transition every partnership request starts with, from the initial state, by `asking`.
ASKING_TRIGGER = "ask"


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
        *_check_request(protocol),
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
        anchor = state.deadline.steps[0].from_field
        for i, step in enumerate(state.deadline.steps):
            path = f"states.{name}.deadline.steps[{i}]"
            yield from _check_notify(f"{path}.notify", step.notify, templates, protocol.subject)
            if step.from_field is not None:
                spec = protocol.fields.get(step.from_field)
                if spec is None or spec.type not in DATE_TYPES:
                    dates = [n for n, f in protocol.fields.items() if f.type in DATE_TYPES]
                    yield f"{path}.from", _one_of("date field", step.from_field, dates)
            if step.from_field != anchor:
                yield f"{path}.from", "all steps of one deadline must count from the same date"
            if step.after in protocol.parameters:
                after = Duration.parse(protocol.parameters[step.after].default)
            else:
                try:
                    after = (
                        Duration.parse(step.after)
                        if step.from_field is None
                        else Duration.parse_offset(step.after)
                    )
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


def _check_request(protocol: ProtocolFile) -> Iterator[Finding]:
    """A partnership request's kind and fields; no other subject has them."""
    if protocol.subject != "partnership_request":
        if protocol.kind is not None:
            yield "kind", "only a protocol of subject 'partnership_request' has a kind"
        if protocol.fields:
            yield "fields", "only a protocol of subject 'partnership_request' has fields"
        return
    if protocol.kind is None:
        yield "subject", "a 'partnership_request' protocol needs a 'kind' (" + ", ".join(REQUEST_KINDS) + ")"
    if not any(
        t.trigger == ASKING_TRIGGER and protocol.initial in sources(t.source) and "asking" in t.by
        for t in protocol.transitions
    ):
        yield "transitions", f"needs a transition {ASKING_TRIGGER!r} from {protocol.initial!r} by 'asking'"
    triggers = {t.trigger for t in protocol.transitions}
    for name, field in protocol.fields.items():
        path = f"fields.{name}"
        yield from _personal_data(path, name, field)
        if field.type not in FIELD_TYPES and field.type not in PERSONAL_TYPES:
            yield (
                f"{path}.type",
                f"unknown field type {field.type!r}; expected one of: {', '.join(sorted(FIELD_TYPES))}",
            )
        if field.type == "choice" and not field.choices:
            yield f"{path}.choices", "a choice field needs its choices"
        elif field.type != "choice" and field.choices:
            yield f"{path}.choices", "only a choice field has choices"
        for i, trigger in enumerate(field.at):
            if trigger not in triggers:
                yield f"{path}.at[{i}]", _one_of("trigger", trigger, triggers)


def _personal_data(path: str, name: str, field: FieldSpec) -> Iterator[Finding]:
    """Refuse a field that would collect a woman's personal data: a request carries none."""
    why = "a request between organizations carries no personal data of any woman"
    if field.type in PERSONAL_TYPES:
        yield f"{path}.type", f"type {field.type!r} collects personal data: {why}"
        return
    words = [w for w in name.split("_") if w in PERSONAL_NAME_WORDS]
    if words:
        yield path, f"the name {name!r} ({words[0]!r}) says it would collect personal data: {why}"
        return
    for text in (field.label.fr, field.label.en):
        plain = text.lower().replace("\u2019", "'")
        phrase = next((p for p in PERSONAL_LABEL_PHRASES if p in plain), None)
        if phrase is not None:
            yield f"{path}.label", f"the label asks for personal data ({phrase!r}): {why}"
            return

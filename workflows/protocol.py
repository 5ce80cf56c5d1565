"""A protocol compiled for use: one shared `transitions` machine per version.

The machine is built once, with no model attached; every referral is driven
through it with `machine.events[trigger].trigger(referral, ...)`, so memory
does not grow with the number of referrals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from functools import lru_cache
from itertools import pairwise
from typing import Any

from transitions import EventData
from transitions import Machine

from workflows.checks import sources
from workflows.durations import TIME_ZONE
from workflows.durations import Duration
from workflows.errors import ConsentRequired
from workflows.errors import FieldProblem
from workflows.errors import GuardFailed
from workflows.errors import InvalidTransition
from workflows.errors import NotAllowed
from workflows.errors import ParameterError
from workflows.errors import UnknownTrigger
from workflows.guards import GUARDS
from workflows.guards import Subject
from workflows.schema import DeadlineStep
from workflows.schema import FieldSpec
from workflows.schema import ProtocolFile
from workflows.schema import Reason
from workflows.schema import StateSpec
from workflows.schema import Text


@dataclass(frozen=True)
class Notification:
    """A message the protocol asks for: which template, to which party."""

    template: str
    to: str


@dataclass(frozen=True)
class Transition:
    trigger: str
    title: Text  # the action, as a button: "Envoyer"
    done: Text  # the action done, as the history tells it: "Envoyé"
    sources: tuple[str, ...]
    dest: str
    parties: frozenset[str]
    guards: tuple[str, ...]
    reason: str | None
    comment: str
    notifications: tuple[Notification, ...]


@dataclass(frozen=True)
class Outcome:
    """What firing a trigger did, for the caller to store in one transaction."""

    transition: Transition
    source: str
    dest: str
    notifications: tuple[Notification, ...]
    due_at: datetime | None


parse_duration = lru_cache(maxsize=256)(Duration.parse)
parse_offset = lru_cache(maxsize=256)(Duration.parse_offset)
# A field pair that is a span: its end may not come before its start.
FIELD_PAIRS = (("starts_at", "ends_at"),)
# Where a day without a time stands when a deadline counts from it: 9 in the morning in Montréal.
DAY_STARTS = time(9, 0)
MAX_TEXT = 200
MAX_LONGTEXT = 10_000


def clean_value(trigger: str, name: str, spec: FieldSpec, raw: Any) -> Any:
    """One field's value in stored form, None for no value; `FieldProblem` when it is not one."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raw = str(raw)
    text = raw.strip()
    if not text:
        return None
    kind = spec.type
    if kind in ("text", "longtext"):
        if len(text) > (MAX_TEXT if kind == "text" else MAX_LONGTEXT):
            raise FieldProblem(trigger, name, "too_long")
        return text
    if kind == "date":
        try:
            if len(text) != len("2026-01-31"):
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldProblem(trigger, name, "bad_date") from None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FieldProblem(trigger, name, "bad_datetime") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=TIME_ZONE)
        return moment.astimezone(UTC).isoformat()
    if kind == "choice":
        if text not in spec.choices:
            raise FieldProblem(trigger, name, "bad_choice")
        return text
    if kind == "number":
        if not text.isdigit() or len(text) > 9:
            raise FieldProblem(trigger, name, "bad_number")
        return int(text)
    raise FieldProblem(trigger, name, "unknown_field")


def field_moment(spec: FieldSpec, value: Any) -> datetime | None:
    """The moment a stored date or datetime value stands for, None without one."""
    if value in (None, ""):
        return None
    if spec.type == "datetime":
        moment = datetime.fromisoformat(str(value))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=TIME_ZONE)
    if spec.type == "date":
        return datetime.combine(date.fromisoformat(str(value)), DAY_STARTS, TIME_ZONE)
    return None


class Protocol:
    """One version of one protocol, ready to drive referrals."""

    def __init__(self, spec: ProtocolFile, file: str = "") -> None:
        self.spec = spec
        self.file = file
        self.name = spec.name
        self.version = spec.version
        self.subject = spec.subject
        self.kind = spec.kind
        self.fields: Mapping[str, FieldSpec] = spec.fields
        self.initial = spec.initial
        self.states: Mapping[str, StateSpec] = spec.states
        self.reasons: Mapping[str, Mapping[str, Reason]] = spec.reasons
        self.transitions = tuple(
            Transition(
                trigger=t.trigger,
                title=t.title,
                done=t.done or (spec.states[t.dest].title if t.dest in spec.states else t.title),
                sources=tuple(sources(t.source)),
                dest=t.dest,
                parties=frozenset(t.by),
                guards=tuple(t.guards),
                reason=t.reason,
                comment=t.comment,
                notifications=tuple(Notification(n.template, n.to) for n in t.notify),
            )
            for t in spec.transitions
        )
        candidates: dict[str, dict[str, list[Transition]]] = defaultdict(dict)
        for transition in self.transitions:
            for source in transition.sources:
                candidates[transition.trigger].setdefault(source, []).append(transition)
        # trigger -> source state -> transitions to try, in file order
        self._candidates = dict(candidates)
        self.machine = self._compile()

    def _compile(self) -> Machine:
        machine = Machine(
            model=None,
            states=list(self.states),
            initial=None,
            auto_transitions=False,
            send_event=True,
        )
        for transition in self.transitions:
            conditions = [_party_may(transition.parties)] + [_guard(name) for name in transition.guards]
            machine.add_transition(
                transition.trigger,
                list(transition.sources),
                transition.dest,
                conditions=conditions,
                after=[_remember(transition)],
            )
        return machine

    def __repr__(self) -> str:
        return f"<Protocol {self.name} v{self.version}>"

    def is_terminal(self, state: str) -> bool:
        return self.states[state].terminal

    def available(self, state: str, parties: frozenset[str]) -> list[Transition]:
        """The transitions these parties may fire from `state`, in file order."""
        return [t for t in self.transitions if state in t.sources and t.parties & parties]

    def fire(
        self,
        referral: Subject,
        trigger: str,
        *,
        parties: frozenset[str],
        now: datetime,
        reason: str | None = None,
        comment: str | None = None,
        parameters: Mapping[str, str] | None = None,
        **inputs: Any,
    ) -> Outcome:
        """Move `referral` by `trigger` or raise a `ReferralError` and leave it as it was."""
        by_source = self._candidates.get(trigger)
        if by_source is None:
            raise UnknownTrigger(trigger)
        source = referral.state
        candidates = by_source.get(source)
        if candidates is None:
            raise InvalidTransition(trigger, source)
        permitted = [t for t in candidates if t.parties & parties]
        if not permitted:
            raise NotAllowed(trigger, parties)
        self._check_inputs(permitted[0], reason, comment)
        fired: list[Transition] = []
        moved = self.machine.events[trigger].trigger(
            referral, parties=parties, now=now, fired=fired, **inputs
        )
        if not moved:
            raise self._guard_failure(referral, permitted, now, inputs)
        transition = fired[0]
        return Outcome(
            transition=transition,
            source=source,
            dest=transition.dest,
            notifications=transition.notifications,
            due_at=self.due_at(transition.dest, now, 0, parameters),
        )

    def _check_inputs(self, transition: Transition, reason: str | None, comment: str | None) -> None:
        if transition.reason is not None:
            codes = self.reasons[transition.reason]
            if reason not in codes:
                raise GuardFailed(transition.trigger, "reason_given")
            if codes[reason].comment_required and not (comment and comment.strip()):
                raise GuardFailed(transition.trigger, "comment_given")
        if transition.comment == "required" and not (comment and comment.strip()):
            raise GuardFailed(transition.trigger, "comment_given")

    def _guard_failure(
        self, referral: Subject, permitted: list[Transition], now: datetime, inputs: Mapping[str, Any]
    ) -> GuardFailed:
        context = {**inputs, "now": now}
        for transition in permitted:
            for name in transition.guards:
                if not GUARDS[name](referral, context):
                    error = ConsentRequired if name == "consent_recorded" else GuardFailed
                    return error(transition.trigger, name)
        raise AssertionError("the machine refused a transition whose guards all pass")

    # Deadlines -------------------------------------------------------------

    def deadline_step(self, state: str, step: int) -> DeadlineStep | None:
        deadline = self.states[state].deadline
        if deadline is None or step >= len(deadline.steps):
            return None
        return deadline.steps[step]

    def due_at(
        self,
        state: str,
        entered_at: datetime,
        step: int,
        parameters: Mapping[str, str] | None,
        fields: Mapping[str, Any] | None = None,
    ) -> datetime | None:
        """When step `step` of `state`'s deadline falls due, or None when there is no such step.

        A step counted `from` a date field starts from that field's value in `fields` (a request's);
        without a value there, the deadline has no such step, nor any after it.
        """
        deadline_step = self.deadline_step(state, step)
        if deadline_step is None:
            return None
        start = entered_at
        if deadline_step.from_field is not None:
            anchor = field_moment(
                self.fields[deadline_step.from_field], (fields or {}).get(deadline_step.from_field)
            )
            if anchor is None:
                return None
            start = anchor
        return self.duration(deadline_step.after, parameters).after(start)

    def duration(self, after: str, parameters: Mapping[str, str] | None) -> Duration:
        spec = self.spec.parameters.get(after)
        if spec is None:
            return parse_offset(after)
        return parse_duration((parameters or {}).get(after, spec.default))

    # Fields of a partnership request --------------------------------------

    def fields_for(self, trigger: str) -> list[tuple[str, FieldSpec]]:
        """The fields the form of `trigger` asks for, in file order."""
        return [(name, spec) for name, spec in self.fields.items() if trigger in spec.at]

    def clean_fields(
        self, trigger: str, values: Mapping[str, Any] | None, stored: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The values `trigger` records, checked and in stored form; `FieldProblem` for the first bad one.

        Only the fields asked at `trigger` may be given; an empty value is no value. A required field
        must have a value, given now or stored before. Dates are kept as `YYYY-MM-DD`, moments as ISO
        8601 in UTC (a moment without a time zone is Montréal's), numbers as integers.
        """
        given = dict(values or {})
        asked = dict(self.fields_for(trigger))
        for name in given:
            if name not in asked:
                raise FieldProblem(trigger, name, "unknown_field")
        cleaned: dict[str, Any] = {}
        for name, spec in asked.items():
            raw = given.get(name)
            value = clean_value(trigger, name, spec, raw)
            if value is None:
                if spec.required and (stored or {}).get(name) in (None, ""):
                    raise FieldProblem(trigger, name, "missing")
                continue
            cleaned[name] = value
        merged = {**(stored or {}), **cleaned}
        for start, end in FIELD_PAIRS:
            if start in merged and end in merged and end in self.fields and start in self.fields:
                first = field_moment(self.fields[start], merged[start])
                last = field_moment(self.fields[end], merged[end])
                if first is not None and last is not None and last < first:
                    raise FieldProblem(trigger, end if end in cleaned else start, "order")
        return cleaned

    def resolve_parameters(self, values: Mapping[str, str]) -> dict[str, str]:
        """Check an agreement's parameter values; return them complete with defaults."""
        resolved: dict[str, str] = {}
        for name, value in values.items():
            spec = self.spec.parameters.get(name)
            if spec is None:
                known = ", ".join(sorted(self.spec.parameters)) or "none"
                raise ParameterError(name, f"this protocol has no such parameter (it has: {known})")
            try:
                duration = Duration.parse(value)
            except ValueError as error:
                raise ParameterError(name, str(error)) from None
            low, high = Duration.parse(spec.min), Duration.parse(spec.max)
            if duration.unit != low.unit or not low <= duration <= high:
                raise ParameterError(name, f"must be between {low} and {high}, got {duration}")
            resolved[name] = str(duration)
        for name, spec in self.spec.parameters.items():
            resolved.setdefault(name, spec.default)
        self._check_step_order(resolved, chosen=values)
        return resolved

    def _check_step_order(self, parameters: Mapping[str, str], chosen: Mapping[str, str]) -> None:
        for name, state in self.states.items():
            steps = state.deadline.steps if state.deadline else []
            for before, after in pairwise(steps):
                early, late = self.duration(before.after, parameters), self.duration(after.after, parameters)
                if late > early:
                    continue
                # Blame a parameter the agreement set, rather than one left at its default.
                named = [s.after for s in (after, before) if s.after in self.spec.parameters]
                blamed = next((n for n in named if n in chosen), named[0] if named else after.after)
                order = f"the {after.kind} ({late}) must come after the {before.kind} ({early})"
                raise ParameterError(blamed, f"in state {name!r} {order}")


def _party_may(parties: frozenset[str]) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        return bool(parties & event.kwargs["parties"])

    return condition


def _guard(name: str) -> Callable[[EventData], bool]:
    guard = GUARDS[name]

    def condition(event: EventData) -> bool:
        return guard(event.model, event.kwargs)

    return condition


def _remember(transition: Transition) -> Callable[[EventData], None]:
    """Tell `fire` which of several same-named transitions the machine took."""

    def callback(event: EventData) -> None:
        event.kwargs["fired"].append(transition)

    return callback

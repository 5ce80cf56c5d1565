"""Random valid protocols of every subject, and every shipped protocol, driven by random actions, never
lose track of what they drive (a referral, a request to join, a request between organizations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from workflows.checks import check_protocol
from workflows.durations import TIME_ZONE
from workflows.errors import GuardFailed
from workflows.errors import InvalidTransition
from workflows.errors import NotAllowed
from workflows.errors import ReferralError
from workflows.errors import UnknownTrigger
from workflows.guards import GUARDS
from workflows.guards import PARTIES_OF
from workflows.guards import SUBJECTS
from workflows.guards import recipients_of
from workflows.loader import PROTOCOLS_FOLDER
from workflows.loader import load_file
from workflows.loader import parse
from workflows.protocol import Notification
from workflows.protocol import Outcome
from workflows.protocol import Protocol
from workflows.schema import ProtocolFile

TEMPLATES = frozenset({"note"})
TITLE = {"fr": "Titre", "en": "Title"}
# A small pool, so the same trigger often leaves several states, with and without guards.
TRIGGER_POOL = ["advance", "finish", "drop", "loop"]
# Late evening in Montréal, hours before the clocks spring forward: deadlines in hours
# are elapsed time, so they are counted in UTC.
NOW = datetime(2026, 3, 7, 23, 0, tzinfo=TIME_ZONE)
REASONS = {
    "why": {
        "plain": {"fr": "Simple", "en": "Plain"},
        "other": {"fr": "Autre", "en": "Other", "comment_required": True},
    }
}


# Generating valid protocols ---------------------------------------------------


@st.composite
def protocol_data(draw: st.DrawFn, subject: str = "referral") -> dict[str, Any]:
    """A valid protocol of `subject` as the dict a YAML file would hold.

    A chain runs from the initial state through every open state to a terminal
    one, and every other terminal state has a way in: every state is reachable
    and every open state has a way out, whatever extra edges are added. A request
    between organizations also has its kind, and starts with `ask`, by `asking`.
    """
    parties = sorted(PARTIES_OF[subject])
    recipients = sorted(recipients_of(subject))
    open_states = [f"open_{i}" for i in range(draw(st.integers(1, 5)))]
    end_states = [f"end_{i}" for i in range(draw(st.integers(1, 3)))]
    edges = [([here], there) for here, there in pairwise([*open_states, end_states[0]])]
    edges += [([draw(st.sampled_from(open_states))], end) for end in end_states[1:]]
    edges += draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(open_states), min_size=1, max_size=3, unique=True),
                st.sampled_from(open_states + end_states),
            ),
            max_size=6,
        )
    )
    edges = draw(st.permutations(edges))

    rules: dict[str, dict[str, Any]] = {}  # reason and comment rules, one per trigger name
    taken: set[tuple[str, str, frozenset[str]]] = set()
    transitions = []
    for i, (from_states, dest) in enumerate(edges):
        trigger = draw(st.sampled_from(TRIGGER_POOL))
        guards = draw(st.lists(st.sampled_from(sorted(GUARDS)), max_size=2, unique=True))
        keys = {(trigger, source, frozenset(guards)) for source in from_states}
        if keys & taken:
            trigger = f"move_{i}"
            keys = {(trigger, source, frozenset(guards)) for source in from_states}
        taken |= keys
        if trigger not in rules:
            rules[trigger] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "reason": st.just("why"),
                        "comment": st.sampled_from(["none", "optional", "required"]),
                    },
                )
            )
        transitions.append(
            {
                "trigger": trigger,
                "title": TITLE,
                "from": from_states[0] if len(from_states) == 1 else from_states,
                "to": dest,
                "by": draw(st.lists(st.sampled_from(parties), min_size=1, max_size=3, unique=True)),
                "guards": guards,
                "notify": [
                    {"to": to, "template": "note"}
                    for to in draw(st.lists(st.sampled_from(recipients), max_size=2, unique=True))
                ],
                **rules[trigger],
            }
        )

    states: dict[str, Any] = {}
    for name in open_states:
        states[name] = {"title": TITLE}
        if draw(st.booleans()):
            first, gap = draw(st.integers(1, 12)), draw(st.integers(1, 12))
            states[name]["deadline"] = {
                "title": TITLE,
                "steps": [
                    {
                        "after": f"{first} hours",
                        "kind": "reminder",
                        "notify": [{"to": recipients[0], "template": "note"}],
                    },
                    {
                        "after": f"{first + gap} hours",
                        "kind": "escalation",
                        "notify": [{"to": recipients[-1], "template": "note"}],
                    },
                ],
            }
    for name in end_states:
        states[name] = {"title": TITLE, "terminal": True}
    extra: dict[str, Any] = {}
    if subject != "referral":
        extra["subject"] = subject
    if subject == "partnership_request":
        extra["kind"] = "loan"
        first_step = ([*open_states, end_states[0]])[1]
        transitions.insert(
            0,
            {
                "trigger": "ask",
                "title": TITLE,
                "from": open_states[0],
                "to": first_step,
                "by": ["asking"],
                "guards": [],
                "notify": [],
            },
        )

    return {
        "name": "random",
        "version": 1,
        **extra,
        "title": TITLE,
        "description": TITLE,
        "initial": open_states[0],
        "reasons": REASONS,
        "states": states,
        "transitions": transitions,
    }


@dataclass(frozen=True)
class Action:
    trigger: str
    parties: frozenset[str]
    consent: bool
    reason: str | None
    comment: str | None
    target_organization: str | None


def sources_of(transition: dict[str, Any]) -> list[str]:
    return [transition["from"]] if isinstance(transition["from"], str) else transition["from"]


def action(data: dict[str, Any], state: str) -> st.SearchStrategy[Action]:
    """Some action on a referral in `state`, most often one the protocol has from there."""
    leaving = [t for t in data["transitions"] if state in sources_of(t)]
    anywhere = sorted({t["trigger"] for t in data["transitions"]})
    # nothing() drops the first choice of `|` when no transition leaves this state
    trigger = st.sampled_from(sorted({t["trigger"] for t in leaving})) if leaving else st.nothing()
    parties = st.sampled_from([frozenset(t["by"]) for t in leaving]) if leaving else st.nothing()
    codes = sorted({code for codes in data.get("reasons", {}).values() for code in codes})
    return st.builds(
        Action,
        trigger=trigger | st.sampled_from([*anywhere, "vanish"]),
        parties=parties | st.frozensets(st.sampled_from(sorted(PARTIES_OF[data.get("subject", "referral")]))),
        consent=st.booleans(),
        reason=st.sampled_from([*codes, None, "bogus"]),
        comment=st.sampled_from(["Appel fait", None, "", "  "]),
        target_organization=st.sampled_from(["org-7", None]),
    )


class LoggedReferral:
    """A referral in memory that keeps its event log of (source, dest) moves."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.consent = False
        self.log: list[tuple[str, str]] = []

    def has_valid_consent(self, now: datetime) -> bool:
        return self.consent


# What should happen, stated plainly -------------------------------------------


def expected_move(data: dict[str, Any], state: str, attempt: Action) -> dict[str, Any] | type[ReferralError]:
    """The transition the action should take, or the kind of refusal it should meet.

    The first transition, in file order, from this state that these parties may
    fire and whose guards pass; its reason and comment rules must be met.
    """
    named = [t for t in data["transitions"] if t["trigger"] == attempt.trigger]
    if not named:
        return UnknownTrigger
    here = [t for t in named if state in sources_of(t)]
    if not here:
        return InvalidTransition
    permitted = [t for t in here if attempt.parties & set(t["by"])]
    if not permitted:
        return NotAllowed
    rules = permitted[0]
    commented = bool(attempt.comment and attempt.comment.strip())
    if "reason" in rules:
        codes = data["reasons"][rules["reason"]]
        if attempt.reason not in codes:
            return GuardFailed
        if codes[attempt.reason].get("comment_required") and not commented:
            return GuardFailed
    if rules.get("comment") == "required" and not commented:
        return GuardFailed
    passing = {
        "consent_recorded": attempt.consent,
        "target_organization_given": attempt.target_organization is not None,
    }
    for transition in permitted:
        if all(passing[guard] for guard in transition.get("guards", [])):
            return transition
    return GuardFailed


def fire(protocol: Protocol, referral: LoggedReferral, attempt: Action) -> Outcome:
    referral.consent = attempt.consent
    return protocol.fire(
        referral,
        attempt.trigger,
        parties=attempt.parties,
        now=NOW,
        reason=attempt.reason,
        comment=attempt.comment,
        target_organization=attempt.target_organization,
    )


# The properties --------------------------------------------------------------


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=100, deadline=None)
@given(choices=st.data())
def test_generated_protocols_pass_the_checks_and_load_from_yaml(subject: str, choices: st.DataObject):
    data = choices.draw(protocol_data(subject), label="protocol")
    spec = ProtocolFile.model_validate(data)

    assert check_protocol(spec, TEMPLATES) == []
    protocol = parse(yaml.safe_dump(data, allow_unicode=True), "random.v1.yaml", TEMPLATES)
    assert set(protocol.states) == set(data["states"])
    assert len(protocol.transitions) == len(data["transitions"])


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=150, deadline=None)
@given(choices=st.data())
def test_random_actions_keep_the_referral_consistent(subject: str, choices: st.DataObject):
    data = choices.draw(protocol_data(subject), label="protocol")
    protocol = Protocol(ProtocolFile.model_validate(data))
    referral = LoggedReferral(protocol.initial)

    for _ in range(choices.draw(st.integers(1, 40), label="number of actions")):
        before = referral.state
        attempt = choices.draw(action(data, before))
        expected = expected_move(data, before, attempt)
        if isinstance(expected, dict):
            outcome = fire(protocol, referral, attempt)
            assert not protocol.is_terminal(before), "a terminal state was left"
            assert (outcome.source, outcome.dest, referral.state) == (before, expected["to"], expected["to"])
            assert outcome.notifications == tuple(
                Notification(n["template"], n["to"]) for n in expected["notify"]
            )
            deadline = data["states"][outcome.dest].get("deadline")
            first_step = int(deadline["steps"][0]["after"].split()[0]) if deadline else None
            assert outcome.due_at == (NOW.astimezone(UTC) + timedelta(hours=first_step) if deadline else None)
            referral.log.append((outcome.source, outcome.dest))
        else:
            with pytest.raises(expected):
                fire(protocol, referral, attempt)
            assert referral.state == before
        assert referral.state in protocol.states

    replayed = protocol.initial
    for source, dest in referral.log:
        assert source == replayed
        replayed = dest
    assert replayed == referral.state


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=100, deadline=None)
@given(choices=st.data())
def test_once_terminal_a_referral_never_moves_again(subject: str, choices: st.DataObject):
    data = choices.draw(protocol_data(subject), label="protocol")
    protocol = Protocol(ProtocolFile.model_validate(data))
    ends = [name for name, state in data["states"].items() if state.get("terminal")]
    end = choices.draw(st.sampled_from(ends), label="terminal state")
    referral = LoggedReferral(end)

    for _ in range(choices.draw(st.integers(1, 10), label="number of actions")):
        with pytest.raises((UnknownTrigger, InvalidTransition)):
            fire(protocol, referral, choices.draw(action(data, end)))
        assert referral.state == end


# Every shipped protocol, whatever its subject ---------------------------------------------------

SHIPPED = sorted(PROTOCOLS_FOLDER.glob("*.yaml"))


def shipped_data(path: Any) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
@settings(max_examples=60, deadline=None)
@given(choices=st.data())
def test_random_actions_keep_every_shipped_protocol_consistent(path: Any, choices: st.DataObject):
    """The same property over the shipped files: referrals, requests to join, requests between
    organizations. Every move is the one the file says, every refusal leaves the state, the log
    replays to the state, a deadline is due when the file says, and an end is an end."""
    data = shipped_data(path)
    protocol = load_file(path)
    subject = LoggedReferral(protocol.initial)

    for _ in range(choices.draw(st.integers(1, 30), label="number of actions")):
        before = subject.state
        attempt = choices.draw(action(data, before))
        expected = expected_move(data, before, attempt)
        if isinstance(expected, dict):
            outcome = fire(protocol, subject, attempt)
            assert not protocol.is_terminal(before), "a terminal state was left"
            assert (outcome.source, outcome.dest, subject.state) == (before, expected["to"], expected["to"])
            assert outcome.notifications == tuple(
                Notification(n["template"], n["to"]) for n in expected.get("notify", [])
            )
            assert outcome.due_at == protocol.due_at(outcome.dest, NOW, 0, None)
            if protocol.is_terminal(outcome.dest):
                assert outcome.due_at is None
            subject.log.append((outcome.source, outcome.dest))
        else:
            with pytest.raises(expected):
                fire(protocol, subject, attempt)
            assert subject.state == before
        assert subject.state in protocol.states

    replayed = protocol.initial
    for source, dest in subject.log:
        assert source == replayed
        replayed = dest
    assert replayed == subject.state


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_protocol_can_reach_an_end_from_every_state(path: Any):
    """No state of a shipped protocol is a trap: some sequence of actions leads from it to an end."""
    protocol = load_file(path)
    ends = {name for name, state in protocol.states.items() if state.terminal}
    reaching = set(ends)
    changed = True
    while changed:
        changed = False
        for transition in protocol.transitions:
            if transition.dest in reaching:
                for source in transition.sources:
                    if source not in reaching:
                        reaching.add(source)
                        changed = True
    assert reaching == set(protocol.states)

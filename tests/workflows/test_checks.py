"""A wrong protocol file is refused at load time, naming the file, the field and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.errors import Problem
from workflows.errors import ProtocolError
from workflows.loader import PROTOCOLS_FOLDER
from workflows.loader import check_files
from workflows.loader import load_file
from workflows.loader import load_library
from workflows.loader import parse

FILE = "tiny.v1.yaml"
TEMPLATES = frozenset({"referral_sent", "deadline_reminder", "deadline_escalation"})
ROLES = "receiver, receiver_coordinator, sender, sender_coordinator, system"
RECIPIENTS = "receiver, receiver_coordinator, sender, sender_coordinator"
STATES = "closed, draft, sent"
DURATION_HINT = (
    "write a whole number and a unit, e.g. '2 business days', '4 hours', '30 days' or '90 minutes'"
)

# The smallest protocol worth the name: each test below breaks one thing in it.
VALID = """\
name: tiny
version: 1
title: {fr: Petit, en: Tiny}
description: {fr: Un protocole minimal, en: A minimal protocol}
initial: draft
parameters:
  receipt_deadline:
    title: {fr: Délai de réception, en: Receipt deadline}
    default: 2 business days
    min: 1 business day
    max: 5 business days
reasons:
  decline:
    no_capacity: {fr: Aucune place, en: No capacity}
states:
  draft:
    title: {fr: Brouillon, en: Draft}
    waits_on: sender
  sent:
    title: {fr: Envoyé, en: Sent}
    waits_on: receiver
    deadline:
      title: {fr: Accuser réception, en: Acknowledge receipt}
      steps:
        - after: receipt_deadline
          kind: reminder
          notify: [{to: receiver, template: deadline_reminder}]
        - after: 4 business days
          kind: escalation
          notify: [{to: receiver_coordinator, template: deadline_escalation}]
  closed:
    title: {fr: Fermé, en: Closed}
    terminal: true
transitions:
  - trigger: send
    title: {fr: Envoyer, en: Send}
    from: draft
    to: sent
    by: [sender]
    guards: [consent_recorded]
    notify: [{to: receiver, template: referral_sent}]
  - trigger: close
    title: {fr: Fermer, en: Close}
    from: sent
    to: closed
    by: [receiver]
"""

ON_HOLD = "  on_hold:\n    title: {fr: En attente, en: On hold}\n"

ANOTHER_CLOSE = """\
  - trigger: close
    title: {fr: Fermer quand même, en: Close anyway}
    from: sent
    to: closed
    by: [sender]
"""


def broken(old: str, new: str, text: str = VALID) -> str:
    """`text` with its one occurrence of `old` replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def with_transition(transition: str) -> str:
    return VALID + transition


def line_of(text: str, fragment: str) -> int:
    """The line number (from 1) of the only line of `text` containing `fragment`."""
    lines = [number for number, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]


def problems_in(text: str) -> list[Problem]:
    with pytest.raises(ProtocolError) as refused:
        parse(text, FILE, TEMPLATES)
    return refused.value.problems


# The shipped protocols -------------------------------------------------------


def test_every_shipped_protocol_loads():
    files = sorted(PROTOCOLS_FOLDER.glob("*.yaml"))

    library = load_library()

    assert len(list(library)) == len(files)
    assert {(p.name, p.version) for p in library} >= {("accompanied", 1), ("standard", 1), ("urgent", 1)}


@pytest.mark.parametrize("path", sorted(PROTOCOLS_FOLDER.glob("*.yaml")), ids=lambda path: path.name)
def test_shipped_protocol_file_has_no_problem(path: Path):
    assert check_files([path]) == []


def test_the_minimal_protocol_is_valid():
    protocol = parse(VALID, FILE, TEMPLATES)

    assert (protocol.name, protocol.version, protocol.initial) == ("tiny", 1, "draft")
    assert protocol.file == FILE


def test_every_shipped_transition_says_in_words_what_it_did():
    for protocol in load_library():
        for transition in protocol.spec.transitions:
            assert transition.done is not None, (protocol.name, transition.trigger)
    send = next(t for t in load_library().get("standard").transitions if t.trigger == "send")
    assert (send.title.fr, send.done.fr, send.done.en) == ("Envoyer", "Envoyé", "Sent")


def test_a_transition_done_label_is_checked_and_defaults_to_the_state_it_reaches():
    given = broken(
        "    title: {fr: Envoyer, en: Send}\n",
        "    title: {fr: Envoyer, en: Send}\n    done: {fr: Parti, en: Gone}\n",
    )
    [send, close] = parse(given, FILE, TEMPLATES).transitions
    assert (send.done.fr, send.done.en) == ("Parti", "Gone")
    assert (close.done.fr, close.done.en) == ("Fermé", "Closed")  # the state reached

    empty = broken(
        "    title: {fr: Envoyer, en: Send}\n",
        "    title: {fr: Envoyer, en: Send}\n    done: {fr: '', en: Gone}\n",
    )
    [problem] = problems_in(empty)
    assert problem.path == "transitions[0].done.fr"


# Broken YAML and unknown keys ------------------------------------------------


def test_yaml_syntax_error_names_the_line():
    text = broken("initial: draft\n", "initial: draft\n\tcolour: red\n")

    assert problems_in(text) == [
        Problem(
            FILE,
            "",
            "not valid YAML: found character '\\t' that cannot start any token",
            line_of(text, "colour"),
        )
    ]


def test_a_file_that_is_not_a_mapping_is_refused():
    assert problems_in("- draft\n- sent\n") == [
        Problem(FILE, "", "must be a mapping of fields (name, version, states, ...)")
    ]


def test_unknown_top_level_key():
    text = broken("initial: draft\n", "initial: draft\ncolour: red\n")

    assert problems_in(text) == [Problem(FILE, "colour", "unknown key", line_of(text, "colour"))]


def test_unknown_key_inside_a_state():
    text = broken("    waits_on: sender\n", "    waits_on: sender\n    colour: red\n")

    assert problems_in(text) == [Problem(FILE, "states.draft.colour", "unknown key", line_of(text, "colour"))]


def test_missing_required_key():
    text = broken("    by: [receiver]\n", "")

    assert problems_in(text) == [
        Problem(FILE, "transitions[1].by", "required but missing", line_of(text, "trigger: close"))
    ]


def test_key_defined_twice():
    text = broken(
        "    title: {fr: Brouillon, en: Draft}\n",
        "    title: {fr: Brouillon, en: Draft}\n    title: {fr: Ébauche, en: Sketch}\n",
    )

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.draft.title",
            "defined twice; the second would silently replace the first",
            line_of(text, "Sketch"),
        )
    ]


# States and the graph --------------------------------------------------------


def test_transition_to_a_state_that_does_not_exist():
    text = broken("    to: closed\n", "    to: finished\n")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[1].to",
            f"unknown state 'finished'; expected one of: {STATES}",
            line_of(text, "to: finished"),
        ),
        Problem(
            FILE,
            "states.closed",
            "unreachable from the initial state 'draft'",
            line_of(text, "  closed:"),
        ),
    ]


def test_transition_from_a_state_that_does_not_exist():
    text = broken("    from: sent\n", "    from: nowhere\n")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[1].from",
            f"unknown state 'nowhere'; expected one of: {STATES}",
            line_of(text, "from: nowhere"),
        ),
        Problem(
            FILE,
            "states.sent",
            "not terminal and no transition leaves it: referrals would be stuck",
            line_of(text, "  sent:"),
        ),
        Problem(
            FILE,
            "states.closed",
            "unreachable from the initial state 'draft'",
            line_of(text, "  closed:"),
        ),
    ]


def test_one_of_several_sources_does_not_exist():
    text = broken("    from: sent\n", "    from: [sent, nowhere]\n")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[1].from",
            f"unknown state 'nowhere'; expected one of: {STATES}",
            line_of(text, "from: [sent, nowhere]"),
        )
    ]


def test_state_unreachable_from_initial():
    text = with_transition(
        "  - trigger: resume\n"
        "    title: {fr: Reprendre, en: Resume}\n"
        "    from: on_hold\n"
        "    to: closed\n"
        "    by: [sender]\n"
    )
    text = broken("  closed:\n", ON_HOLD + "  closed:\n", text)

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.on_hold",
            "unreachable from the initial state 'draft'",
            line_of(text, "  on_hold:"),
        )
    ]


def test_no_terminal_state():
    text = broken("    terminal: true\n", "")

    assert problems_in(text) == [
        Problem(
            FILE,
            "states",
            "no terminal state: mark at least one state 'terminal: true'",
            line_of(text, "states:"),
        ),
        Problem(
            FILE,
            "states.closed",
            "not terminal and no transition leaves it: referrals would be stuck",
            line_of(text, "  closed:"),
        ),
    ]


def test_state_with_no_way_out():
    text = with_transition(
        "  - trigger: hold\n"
        "    title: {fr: Mettre en attente, en: Put on hold}\n"
        "    from: sent\n"
        "    to: on_hold\n"
        "    by: [receiver]\n"
    )
    text = broken("  closed:\n", ON_HOLD + "  closed:\n", text)

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.on_hold",
            "not terminal and no transition leaves it: referrals would be stuck",
            line_of(text, "  on_hold:"),
        )
    ]


def test_initial_state_cannot_be_terminal():
    text = broken("initial: draft\n", "initial: closed\n")

    found = problems_in(text)

    assert found[0] == Problem(
        FILE, "initial", "the initial state cannot be terminal", line_of(text, "initial: closed")
    )


def test_terminal_state_with_a_deadline():
    text = broken(
        "    terminal: true\n",
        "    terminal: true\n"
        "    deadline:\n"
        "      title: {fr: Archiver, en: Archive}\n"
        "      steps:\n"
        "        - after: 30 days\n"
        "          kind: reminder\n"
        "          notify: [{to: sender, template: deadline_reminder}]\n",
    )

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.closed.deadline",
            "a terminal state cannot have a deadline",
            line_of(text, "Archiver") - 1,  # the `deadline:` key, just above its title
        )
    ]


def test_transition_leaving_a_terminal_state():
    text = with_transition(
        "  - trigger: reopen\n"
        "    title: {fr: Rouvrir, en: Reopen}\n"
        "    from: closed\n"
        "    to: sent\n"
        "    by: [sender]\n"
    )

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[2].from",
            "'closed' is terminal: nothing may leave it",
            line_of(text, "from: closed"),
        )
    ]


def test_state_names_follow_the_naming_rule():
    """`transitions` reads '*' and '=' as wildcards, so such a state name is refused."""
    text = broken("  closed:\n", '  "=":\n').replace("to: closed", 'to: "="')

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.=",
            "use lowercase letters, digits and underscores, starting with a letter",
            line_of(text, '"=":'),
        )
    ]


# Transitions -----------------------------------------------------------------


def test_duplicate_trigger_from_the_same_state_with_the_same_guards():
    text = with_transition(ANOTHER_CLOSE)

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[2].trigger",
            "'close' from 'sent' is defined twice with the same guards: "
            "give each a different guard or a different name",
            line_of(text, "Close anyway") - 1,  # the second `trigger: close`
        )
    ]


def test_same_trigger_from_the_same_state_with_different_guards_is_accepted():
    text = with_transition(ANOTHER_CLOSE + "    guards: [target_organization_given]\n")

    protocol = parse(text, FILE, TEMPLATES)

    closes = [t for t in protocol.transitions if t.trigger == "close"]
    assert [t.guards for t in closes] == [(), ("target_organization_given",)]


def test_trigger_named_state_is_refused():
    """`transitions` keeps the name 'state' for the referral's attribute."""
    text = broken("trigger: close", "trigger: state")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[1].trigger",
            "'state' is reserved for the referral's state; choose another name",
            line_of(text, "trigger: state"),
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "    by: [receiver]\n",
            "    by: [partner]\n",
            "transitions[1].by",
            f"unknown role 'partner'; expected one of: {ROLES}",
        ),
        (
            "{to: receiver_coordinator, template",
            "{to: coordinator, template",
            "states.sent.deadline.steps[1].notify[0].to",
            f"unknown role 'coordinator'; expected one of: {RECIPIENTS}",
        ),
        (
            "{to: receiver, template: referral_sent}",
            "{to: system, template: referral_sent}",
            "transitions[0].notify[0].to",
            f"unknown role 'system'; expected one of: {RECIPIENTS}",
        ),
        (
            "    waits_on: receiver\n",
            "    waits_on: partner\n",
            "states.sent.waits_on",
            f"unknown role 'partner'; expected one of: {ROLES}",
        ),
    ],
    ids=["by", "notify.to", "system cannot be notified", "waits_on"],
)
def test_unknown_role(old: str, new: str, path: str, message: str):
    text = broken(old, new)

    assert problems_in(text) == [Problem(FILE, path, message, line_of(text, new.strip()))]


def test_unknown_guard():
    text = broken("guards: [consent_recorded]", "guards: [consent_signed]")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[0].guards",
            "unknown guard 'consent_signed'; expected one of: consent_recorded, target_organization_given",
            line_of(text, "consent_signed"),
        )
    ]


def test_unknown_reason_list():
    text = broken("    by: [receiver]\n", "    by: [receiver]\n    reason: refusal\n")

    assert problems_in(text) == [
        Problem(
            FILE,
            "transitions[1].reason",
            "unknown reason list 'refusal'; expected one of: decline",
            line_of(text, "reason: refusal"),
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("template: referral_sent", "template: referral_shouted", "transitions[0].notify[0].template"),
        (
            "template: deadline_escalation",
            "template: deadline_shouted",
            "states.sent.deadline.steps[1].notify[0].template",
        ),
    ],
    ids=["transition", "deadline step"],
)
def test_unknown_notification_template(old: str, new: str, path: str):
    text = broken(old, new)
    template = new.removeprefix("template: ")

    assert problems_in(text) == [
        Problem(FILE, path, f"unknown notification template {template!r}", line_of(text, template))
    ]


# Durations, parameters and deadlines ----------------------------------------


@pytest.mark.parametrize("after", ["4 fortnights", "soon", "receipt_dedline"])
def test_bad_duration_in_a_deadline_step(after: str):
    text = broken("after: 4 business days", f"after: {after}")

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.sent.deadline.steps[1].after",
            f"{after!r} is not a duration; {DURATION_HINT}, or the name of a parameter",
            line_of(text, f"after: {after}"),
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "default: 2 business days",
            "default: 2 fortnights",
            "default",
            f"'2 fortnights' is not a duration; {DURATION_HINT}",
        ),
        ("min: 1 business day", "min: 0 business days", "min", "'0 business days' must be longer than zero"),
        ("max: 5 business days", "max: 5", "max", "Input should be a valid string"),
    ],
    ids=["unknown unit", "zero", "a bare number"],
)
def test_bad_duration_in_a_parameter(old: str, new: str, field: str, message: str):
    text = broken(old, new)

    assert problems_in(text) == [
        Problem(FILE, f"parameters.receipt_deadline.{field}", message, line_of(text, new))
    ]


def test_parameter_bounds_out_of_order():
    text = broken("max: 5 business days", "max: 1 business day")

    assert problems_in(text) == [
        Problem(
            FILE,
            "parameters.receipt_deadline",
            "needs min <= default <= max, got 1 business day, 2 business days, 1 business day",
            line_of(text, "  receipt_deadline:"),
        )
    ]


def test_parameter_bounds_in_different_units():
    text = broken("min: 1 business day", "min: 1 day")

    assert problems_in(text) == [
        Problem(
            FILE,
            "parameters.receipt_deadline",
            "min, default and max must use the same unit",
            line_of(text, "  receipt_deadline:"),
        )
    ]


@pytest.mark.parametrize(
    ("after", "previous"), [("2 business days", "2 business days"), ("1 business day", "2 business days")]
)
def test_steps_of_a_deadline_must_increase(after: str, previous: str):
    """The escalation comes after the reminder, here the parameter's default of 2 business days."""
    text = broken("after: 4 business days", f"after: {after}")

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.sent.deadline.steps[1].after",
            f"must come after the previous step ({previous})",
            line_of(text, f"after: {after}"),
        )
    ]


def test_steps_of_a_deadline_share_one_unit():
    text = broken("after: 4 business days", "after: 4 hours")

    assert problems_in(text) == [
        Problem(
            FILE,
            "states.sent.deadline.steps[1].after",
            "all steps of one deadline must use the same unit",
            line_of(text, "after: 4 hours"),
        )
    ]


# Files -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    path = tmp_path / "absent.v1.yaml"

    with pytest.raises(ProtocolError) as refused:
        load_file(path, TEMPLATES)

    assert refused.value.problems == [Problem(str(path), "", "no such file")]


def test_folder_given_as_a_file(tmp_path: Path):
    with pytest.raises(ProtocolError) as refused:
        load_file(tmp_path, TEMPLATES)

    assert refused.value.problems == [
        Problem(str(tmp_path), "", "is a folder; name the protocol files inside it")
    ]


def test_problems_name_the_file_they_come_from(tmp_path: Path):
    path = tmp_path / "tiny.v1.yaml"
    path.write_text(broken("    to: closed\n", "    to: finished\n"), encoding="utf-8")

    found = check_files([path], TEMPLATES)

    assert {problem.file for problem in found} == {str(path)}
    assert [problem.path for problem in found] == ["transitions[1].to", "states.closed"]


def test_two_files_with_the_same_name_and_version(tmp_path: Path):
    first, second = tmp_path / "tiny.v1.yaml", tmp_path / "tiny-copy.v1.yaml"
    first.write_text(VALID, encoding="utf-8")
    second.write_text(VALID, encoding="utf-8")

    assert check_files([first, second], TEMPLATES) == [
        Problem(str(second), "version", f"tiny version 1 is also in {first}")
    ]
    with pytest.raises(ProtocolError):
        load_library(tmp_path, TEMPLATES)


def test_two_versions_of_one_protocol_live_side_by_side(tmp_path: Path):
    (tmp_path / "tiny.v1.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "tiny.v2.yaml").write_text(broken("version: 1", "version: 2"), encoding="utf-8")

    library = load_library(tmp_path, TEMPLATES)

    assert library.versions("tiny") == [1, 2]
    assert library.get("tiny").version == 2


# Messages --------------------------------------------------------------------


def test_problem_reads_file_line_path_message():
    problem = Problem("tiny.v1.yaml", "states.sent.waits_on", "unknown role 'partner'", 21)

    assert str(problem) == "tiny.v1.yaml:21: states.sent.waits_on: unknown role 'partner'"


def test_problem_without_line_or_path_leaves_them_out():
    assert str(Problem("tiny.v1.yaml", "version", "defined twice")) == "tiny.v1.yaml: version: defined twice"
    assert str(Problem("tiny.v1.yaml", "", "no such file")) == "tiny.v1.yaml: no such file"


def test_protocol_error_lists_one_problem_a_line():
    text = broken("    by: [receiver]\n", "    by: [partner]\n")
    text = broken("    waits_on: sender\n", "    waits_on: partner\n", text)

    with pytest.raises(ProtocolError) as refused:
        parse(text, FILE, TEMPLATES)

    assert str(refused.value).splitlines() == [
        f"{FILE}:{line_of(text, 'waits_on: partner')}: states.draft.waits_on: "
        f"unknown role 'partner'; expected one of: {ROLES}",
        f"{FILE}:{line_of(text, 'by: [partner]')}: transitions[1].by: "
        f"unknown role 'partner'; expected one of: {ROLES}",
    ]


def test_a_from_that_is_neither_a_name_nor_a_list_is_reported_once():
    text = broken("    from: draft\n", "    from: {state: draft}\n")

    assert problems_in(text) == [
        Problem(FILE, "transitions[0].from", "must be a name or a list of names", line_of(text, "from: {"))
    ]


def test_an_unknown_initial_state_is_reported_alone():
    text = broken("initial: draft\n", "initial: drafty\n")

    [problem] = problems_in(text)
    assert problem.path == "initial"
    assert problem.message.startswith("unknown state 'drafty'")

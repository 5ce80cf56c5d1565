"""Requests between partner organizations (subject `partnership_request`): a kind, declared fields that
never collect a woman's personal data, and deadlines that may count from one of their dates."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from tests.workflows.test_checks import DURATION_HINT
from tests.workflows.test_checks import FILE
from workflows.durations import Duration
from workflows.errors import FieldProblem
from workflows.errors import ProtocolError
from workflows.loader import load_library
from workflows.loader import parse
from workflows.schema import REQUEST_KINDS

TEMPLATES = frozenset({"note"})

LOAN = """\
name: lend
version: 1
subject: partnership_request
kind: loan
title: {fr: Prêt, en: Loan}
description: {fr: Un prêt, en: A loan}
initial: new
fields:
  what:
    type: text
    label: {fr: Quoi, en: What}
    required: true
    at: [ask]
  starts_at:
    type: datetime
    label: {fr: Début, en: Start}
    required: true
    at: [ask]
  ends_at:
    type: datetime
    label: {fr: Fin, en: End}
    at: [ask]
  back_on:
    type: date
    label: {fr: Retour, en: Back}
    at: [ask]
  size:
    type: choice
    label: {fr: Taille, en: Size}
    at: [ask]
    choices:
      small: {fr: Petite, en: Small}
states:
  new:
    title: {fr: Nouvelle, en: New}
    waits_on: asking
  accepted:
    title: {fr: Accepté, en: Accepted}
    waits_on: answering
    deadline:
      title: {fr: Préparer, en: Prepare}
      steps:
        - after: -2 days
          from: starts_at
          kind: reminder
          notify: [{to: answering, template: note}]
        - after: 1 day
          from: starts_at
          kind: escalation
          notify: [{to: asking, template: note}]
  returned:
    title: {fr: Rendu, en: Returned}
    terminal: true
transitions:
  - trigger: ask
    title: {fr: Demander, en: Ask}
    from: new
    to: accepted
    by: [asking]
  - trigger: give_back
    title: {fr: Rendre, en: Give back}
    from: accepted
    to: returned
    by: [asking, answering]
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ProtocolError) as refused:
        parse(text, FILE, TEMPLATES)
    return [(p.path, p.message) for p in refused.value.problems]


def test_a_request_protocol_names_its_kind_and_fields():
    protocol = parse(LOAN, FILE, TEMPLATES)
    assert (protocol.subject, protocol.kind) == ("partnership_request", "loan")
    assert [name for name, _spec in protocol.fields_for("ask")] == [
        "what",
        "starts_at",
        "ends_at",
        "back_on",
        "size",
    ]
    assert protocol.fields_for("give_back") == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("woman_name", "text"),
        ("her_phone", "text"),
        ("date_of_birth", "date"),
        ("health_card", "text"),
        ("client_address", "longtext"),
        ("nom_de_la_femme", "text"),
        ("courriel", "text"),
        ("ramq", "text"),
    ],
)
def test_a_field_named_for_personal_data_is_refused(name: str, kind: str):
    text = LOAN.replace(
        "  size:\n", f"  {name}:\n    type: {kind}\n    label: {{fr: X, en: X}}\n    at: [ask]\n  size:\n"
    )
    [(path, message)] = problems(text)
    assert path == f"fields.{name}"
    assert "personal data" in message
    assert "carries no personal data of any woman" in message


@pytest.mark.parametrize("kind", ["person", "email", "phone", "address", "birth_date", "health_card"])
def test_a_field_of_a_personal_type_is_refused(kind: str):
    text = LOAN.replace(
        "  size:\n", f"  contact:\n    type: {kind}\n    label: {{fr: X, en: X}}\n    at: [ask]\n  size:\n"
    )
    [(path, message)] = problems(text)
    assert path == "fields.contact.type"
    assert message.startswith(f"type {kind!r} collects personal data")


@pytest.mark.parametrize("label", ["Date de naissance", "Numéro d'assurance maladie", "Her name"])
def test_a_label_asking_for_personal_data_is_refused(label: str):
    text = LOAN.replace("label: {fr: Quoi, en: What}", f'label: {{fr: "{label}", en: "{label}"}}')
    [(path, message)] = problems(text)
    assert path == "fields.what.label"
    assert "personal data" in message


def test_shipped_request_protocols_pass_and_cover_every_kind():
    kinds = {p.kind for p in load_library() if p.subject == "partnership_request"}
    assert kinds == {"loan", "activity", "presentation", "session", "mobilization"}


def test_the_kind_goes_with_the_subject():
    assert (
        "subject",
        "a 'partnership_request' protocol needs a 'kind' (" + ", ".join(REQUEST_KINDS) + ")",
    ) in problems(LOAN.replace("kind: loan\n", ""))
    assert [p for p, _ in problems(LOAN.replace("kind: loan\n", "kind: picnic\n"))] == ["kind"]
    referral = LOAN.replace("subject: partnership_request\n", "")
    found = problems(referral)
    assert ("kind", "only a protocol of subject 'partnership_request' has a kind") in found
    assert ("fields", "only a protocol of subject 'partnership_request' has fields") in found


def test_a_request_starts_with_ask_by_asking():
    text = LOAN.replace("  - trigger: ask\n", "  - trigger: request\n")
    assert ("transitions", "needs a transition 'ask' from 'new' by 'asking'") in problems(text)


def test_fields_are_asked_at_triggers_that_exist_and_choices_go_with_choice_fields():
    assert ("fields.what.at[0]", "unknown trigger 'asq'; expected one of: ask, give_back") in problems(
        LOAN.replace(
            "    required: true\n    at: [ask]\n  starts_at", "    required: true\n    at: [asq]\n  starts_at"
        )
    )
    assert ("fields.size.choices", "a choice field needs its choices") in problems(
        LOAN.replace("    choices:\n      small: {fr: Petite, en: Small}\n", "")
    )
    assert (
        "fields.size.type",
        "unknown field type 'colour'; expected one of: choice, date, datetime, longtext, number, text",
    ) in problems(LOAN.replace("    type: choice\n", "    type: colour\n"))


def test_a_deadline_counts_from_a_date_field_only():
    assert [
        p
        for p, _ in problems(
            LOAN.replace("from: starts_at\n          kind: reminder", "from: what\n          kind: reminder")
        )
    ] == [
        "states.accepted.deadline.steps[0].from",
        "states.accepted.deadline.steps[1].from",
    ]
    # Counting backwards needs a date to count from.
    text = LOAN.replace("        - after: -2 days\n          from: starts_at\n", "        - after: -2 days\n")
    found = problems(text)
    assert (
        "states.accepted.deadline.steps[0].after",
        f"'-2 days' is not a duration; {DURATION_HINT}, or the name of a parameter",
    ) in found


def test_the_steps_of_one_deadline_count_from_one_date_in_order():
    mixed = LOAN.replace(
        "        - after: 1 day\n          from: starts_at\n",
        "        - after: 1 day\n          from: ends_at\n",
    )
    assert (
        "states.accepted.deadline.steps[1].from",
        "all steps of one deadline must count from the same date",
    ) in problems(mixed)
    backwards = LOAN.replace("after: 1 day\n", "after: -3 days\n")
    assert (
        "states.accepted.deadline.steps[1].after",
        "must come after the previous step (-2 days)",
    ) in problems(backwards)


def test_a_deadline_from_a_date_falls_before_or_after_it():
    protocol = parse(LOAN, FILE, TEMPLATES)
    fields = protocol.clean_fields("ask", {"what": "Salle", "starts_at": "2026-12-07T18:00"})
    assert fields["starts_at"] == "2026-12-07T23:00:00+00:00"
    entered = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert protocol.due_at("accepted", entered, 0, None, fields) == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert protocol.due_at("accepted", entered, 1, None, fields) == datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    # No date, no deadline.
    assert protocol.due_at("accepted", entered, 0, None, {}) is None


def test_counting_back_business_days_skips_weekends_and_holidays():
    # Tuesday 2 December 2025 minus 2 business days: Friday 28 November.
    start = datetime(2025, 12, 2, 14, 0, tzinfo=UTC)
    assert Duration.parse_offset("-2 business days").after(start) == datetime(2025, 11, 28, 14, 0, tzinfo=UTC)
    # Thursday 25 June 2026, after the Fête nationale (Wednesday 24): 1 business day back is Tuesday 23.
    assert Duration.parse_offset("-1 business day").after(
        datetime(2026, 6, 25, 14, 0, tzinfo=UTC)
    ) == datetime(2026, 6, 23, 14, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not a duration"):
        Duration.parse("-2 days")


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"starts_at": "2026-12-07T18:00"}, "what", "missing"),
        ({"what": "x", "starts_at": "07/12/2026"}, "starts_at", "bad_datetime"),
        ({"what": "x", "starts_at": "2026-12-07T18:00", "back_on": "2026-13-01"}, "back_on", "bad_date"),
        ({"what": "x", "starts_at": "2026-12-07T18:00", "size": "huge"}, "size", "bad_choice"),
        ({"what": "x", "starts_at": "2026-12-07T18:00", "ends_at": "2026-12-07T17:00"}, "ends_at", "order"),
        ({"what": "x", "starts_at": "2026-12-07T18:00", "notes": "x"}, "notes", "unknown_field"),
        ({"what": "x" * 201, "starts_at": "2026-12-07T18:00"}, "what", "too_long"),
    ],
)
def test_bad_values_are_refused_with_the_field_and_why(values, field, code):
    protocol = parse(LOAN, FILE, TEMPLATES)
    with pytest.raises(FieldProblem) as refused:
        protocol.clean_fields("ask", values)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_required_value_given_before_need_not_be_given_again():
    protocol = parse(LOAN, FILE, TEMPLATES)
    stored = {"what": "Salle", "starts_at": "2026-12-07T23:00:00+00:00"}
    assert protocol.clean_fields("ask", {"what": " "}, stored) == {}
    assert protocol.clean_fields("ask", {"back_on": "2026-12-09", "size": "small"}, stored) == {
        "back_on": "2026-12-09",
        "size": "small",
    }

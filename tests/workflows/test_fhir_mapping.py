"""A protocol's FHIR table maps every state to a valid FHIR R4 Task.status, or the file is refused."""

from __future__ import annotations

from test_checks import FILE
from test_checks import TEMPLATES
from test_checks import VALID
from test_checks import line_of
from test_checks import problems_in

from workflows.errors import Problem
from workflows.loader import parse
from workflows.schema import FHIR_FINAL_TASK_STATUSES
from workflows.schema import FHIR_TASK_STATUSES

MAPPED = VALID + "fhir:\n  task_status:\n    draft: draft\n    sent: requested\n    closed: completed\n"


def test_the_fhir_table_is_optional_and_read_when_given():
    assert parse(VALID, FILE, TEMPLATES).spec.fhir is None

    mapping = parse(MAPPED, FILE, TEMPLATES).spec.fhir

    assert mapping.task_status == {"draft": "draft", "sent": "requested", "closed": "completed"}


def test_every_shipped_protocol_maps_every_state_to_a_valid_task_status(library):
    for protocol in library:
        table = protocol.spec.fhir.task_status
        assert set(table) == set(protocol.states), protocol
        for state, status in table.items():
            assert status in FHIR_TASK_STATUSES
            assert (status in FHIR_FINAL_TASK_STATUSES) == protocol.is_terminal(state), (protocol, state)


def test_a_state_left_out_of_the_table_is_refused():
    text = MAPPED.replace("    sent: requested\n", "")

    assert problems_in(text) == [
        Problem(
            FILE,
            "fhir.task_status",
            "state 'sent' has no FHIR Task status: map every state",
            line_of(text, "task_status:"),
        )
    ]


def test_a_code_that_is_not_a_fhir_task_status_is_refused():
    text = MAPPED.replace("sent: requested", "sent: pending")

    [problem] = problems_in(text)

    assert (problem.path, problem.line) == ("fhir.task_status.sent", line_of(text, "sent: pending"))
    assert "'requested'" in problem.message


def test_a_terminal_state_must_map_to_a_final_status_and_an_open_one_must_not():
    text = MAPPED.replace("sent: requested", "sent: completed").replace(
        "closed: completed", "closed: in-progress"
    )

    assert [(p.path, p.message) for p in problems_in(text)] == [
        ("fhir.task_status.sent", "'sent' is not terminal: 'completed' would end the task"),
        (
            "fhir.task_status.closed",
            "'closed' is terminal: map it to a final status "
            "(cancelled, completed, entered-in-error, failed, rejected)",
        ),
    ]


def test_a_state_the_protocol_does_not_have_is_refused():
    text = MAPPED + "    archived: completed\n"

    [problem] = problems_in(text)

    assert problem.path == "fhir.task_status.archived"
    assert problem.message == "unknown state 'archived'; expected one of: closed, draft, sent"

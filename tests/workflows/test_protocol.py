"""Firing a protocol's triggers on a referral: what moves, what is refused, what falls due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from workflows.durations import TIME_ZONE
from workflows.errors import ConsentRequired
from workflows.errors import GuardFailed
from workflows.errors import InvalidTransition
from workflows.errors import NotAllowed
from workflows.errors import ParameterError
from workflows.errors import ReferralError
from workflows.errors import UnknownTrigger
from workflows.protocol import Notification

SENDER = frozenset({"sender"})
RECEIVER = frozenset({"receiver"})
SENDER_COORDINATOR = frozenset({"sender_coordinator"})
# Friday 8 May 2026, mid-afternoon in Montréal; the Monday after is an ordinary business day.
FRIDAY = datetime(2026, 5, 8, 15, 0, tzinfo=TIME_ZONE)

STANDARD_DEFAULTS = {
    "receipt_deadline": "2 business days",
    "receipt_escalation": "4 business days",
    "decision_deadline": "5 business days",
    "first_contact_deadline": "10 business days",
    "follow_up_delay": "30 days",
}

# (trigger, parties, extra arguments to fire, state after)
STANDARD_HAPPY_PATH: list[tuple[str, frozenset[str], dict[str, Any], str]] = [
    ("send", SENDER, {}, "sent"),
    ("acknowledge", RECEIVER, {}, "received"),
    ("accept", RECEIVER, {}, "accepted"),
    ("record_first_contact", RECEIVER, {}, "in_progress"),
    ("record_follow_up", SENDER, {}, "followed_up"),
    ("close", SENDER, {"reason": "service_received"}, "closed"),
]
ACCOMPANIED_HAPPY_PATH: list[tuple[str, frozenset[str], dict[str, Any], str]] = [
    ("send", SENDER, {}, "sent"),
    ("acknowledge", RECEIVER, {}, "received"),
    ("plan_meeting", SENDER, {"comment": "Mardi 10 h au local du centre"}, "meeting_planned"),
    ("reschedule_meeting", RECEIVER, {"comment": "Plutôt jeudi 14 h"}, "meeting_planned"),
    ("record_meeting", RECEIVER, {}, "meeting_held"),
    ("accept", RECEIVER, {}, "accepted"),
    ("record_first_contact", RECEIVER, {}, "in_progress"),
    ("record_follow_up", SENDER, {}, "followed_up"),
    ("close", SENDER, {"reason": "partly_received"}, "closed"),
]


class BareReferral:
    """A referral that holds nothing but its state (consent is always valid)."""

    def __init__(self) -> None:
        self.state = "draft"

    def has_valid_consent(self, now: datetime) -> bool:
        return True


def walk(protocol, referral, path) -> list[str]:
    """Fire each step of `path` on `referral`; the states it went through."""
    visited = []
    for trigger, parties, extra, expected in path:
        before = referral.state
        outcome = protocol.fire(referral, trigger, parties=parties, now=FRIDAY, **extra)
        assert (outcome.source, outcome.dest) == (before, expected)
        visited.append(referral.state)
    return visited


# The happy paths -------------------------------------------------------------


@pytest.mark.parametrize("name", ["standard", "urgent"])
def test_happy_path_from_draft_to_closed(library, new_referral, name: str):
    protocol = library.get(name)
    referral = new_referral()

    visited = walk(protocol, referral, STANDARD_HAPPY_PATH)

    assert visited == ["sent", "received", "accepted", "in_progress", "followed_up", "closed"]
    assert protocol.is_terminal(referral.state)


def test_accompanied_happy_path_goes_through_the_joint_meeting(accompanied, new_referral):
    referral = new_referral()

    visited = walk(accompanied, referral, ACCOMPANIED_HAPPY_PATH)

    assert visited == [
        "sent",
        "received",
        "meeting_planned",
        "meeting_planned",
        "meeting_held",
        "accepted",
        "in_progress",
        "followed_up",
        "closed",
    ]


def test_the_receiver_redirects_to_another_organization(standard, new_referral):
    referral = new_referral("received")

    outcome = standard.fire(
        referral, "redirect", parties=RECEIVER, now=FRIDAY, reason="better_fit", target_organization="org-42"
    )

    assert referral.state == outcome.dest == "redirected"
    assert outcome.notifications == (Notification("referral_redirected", "sender"),)


def test_a_coordinator_of_the_sending_organization_may_cancel(standard, new_referral):
    referral = new_referral("accepted")

    standard.fire(referral, "cancel", parties=SENDER_COORDINATOR, now=FRIDAY, reason="consent_withdrawn")

    assert referral.state == "cancelled"


def test_a_person_standing_for_several_parties_may_do_what_any_of_them_may(standard, new_referral):
    referral = new_referral()

    standard.fire(referral, "send", parties=SENDER | SENDER_COORDINATOR, now=FRIDAY)

    assert referral.state == "sent"


# Refusals leave the referral as it was ----------------------------------------


def test_unknown_trigger(standard, new_referral):
    referral = new_referral()

    with pytest.raises(UnknownTrigger, match="the protocol has no action named 'teleport'") as refused:
        standard.fire(referral, "teleport", parties=SENDER, now=FRIDAY)

    assert refused.value.trigger == "teleport"
    assert referral.state == "draft"


def test_trigger_not_possible_from_the_current_state(standard, new_referral):
    referral = new_referral()

    with pytest.raises(
        InvalidTransition, match="'accept' is not possible while the referral is 'draft'"
    ) as refused:
        standard.fire(referral, "accept", parties=RECEIVER, now=FRIDAY)

    assert (refused.value.trigger, refused.value.state) == ("accept", "draft")
    assert referral.state == "draft"


def test_trigger_from_a_terminal_state(standard, new_referral):
    referral = new_referral("closed")

    with pytest.raises(InvalidTransition):
        standard.fire(referral, "cancel", parties=SENDER, now=FRIDAY, reason="sent_in_error")

    assert referral.state == "closed"


def test_party_not_allowed(standard, new_referral):
    referral = new_referral()

    with pytest.raises(NotAllowed, match="'send' may not be done by receiver") as refused:
        standard.fire(referral, "send", parties=RECEIVER, now=FRIDAY)

    assert refused.value.parties == RECEIVER
    assert referral.state == "draft"


def test_nobody_is_not_allowed(standard, new_referral):
    referral = new_referral()

    with pytest.raises(NotAllowed, match="may not be done by nobody"):
        standard.fire(referral, "send", parties=frozenset(), now=FRIDAY)

    assert referral.state == "draft"


def test_sending_without_consent(standard, new_referral):
    referral = new_referral(consent=False)

    with pytest.raises(ConsentRequired, match="'send' needs 'consent_recorded'") as refused:
        standard.fire(referral, "send", parties=SENDER, now=FRIDAY)

    assert isinstance(refused.value, GuardFailed)
    assert refused.value.guard == "consent_recorded"
    assert referral.state == "draft"


@pytest.mark.parametrize("reason", [None, "bored"])
def test_declining_needs_a_reason_from_the_list(standard, new_referral, reason: str | None):
    referral = new_referral("received")

    with pytest.raises(GuardFailed, match="'decline' needs 'reason_given'") as refused:
        standard.fire(referral, "decline", parties=RECEIVER, now=FRIDAY, reason=reason)

    assert refused.value.guard == "reason_given"
    assert not isinstance(refused.value, ConsentRequired)
    assert referral.state == "received"


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_reason_other_needs_a_comment(standard, new_referral, comment: str | None):
    referral = new_referral("received")

    with pytest.raises(GuardFailed) as refused:
        standard.fire(referral, "decline", parties=RECEIVER, now=FRIDAY, reason="other", comment=comment)

    assert refused.value.guard == "comment_given"
    assert referral.state == "received"


def test_reason_other_with_a_comment_is_accepted(standard, new_referral):
    referral = new_referral("received")

    standard.fire(
        referral, "decline", parties=RECEIVER, now=FRIDAY, reason="other", comment="Liste d'attente"
    )

    assert referral.state == "declined"


def test_planning_a_meeting_needs_a_comment(accompanied, new_referral):
    referral = new_referral("received")

    with pytest.raises(GuardFailed) as refused:
        accompanied.fire(referral, "plan_meeting", parties=RECEIVER, now=FRIDAY)

    assert (refused.value.trigger, refused.value.guard) == ("plan_meeting", "comment_given")
    assert referral.state == "received"


def test_redirecting_needs_the_target_organization(standard, new_referral):
    referral = new_referral("received")

    with pytest.raises(GuardFailed) as refused:
        standard.fire(referral, "redirect", parties=RECEIVER, now=FRIDAY, reason="better_fit")

    assert refused.value.guard == "target_organization_given"
    assert referral.state == "received"


def test_every_refusal_is_a_referral_error(standard, new_referral):
    referral = new_referral(consent=False)
    attempts = [("teleport", SENDER), ("accept", RECEIVER), ("send", RECEIVER), ("send", SENDER)]

    for trigger, parties in attempts:
        with pytest.raises(ReferralError):
            standard.fire(referral, trigger, parties=parties, now=FRIDAY)

    assert referral.state == "draft"


# Outcome: notifications and the next deadline --------------------------------


def test_sending_notifies_the_receiver_and_is_due_two_business_days_later(standard, new_referral):
    """Sent on Friday afternoon: receipt due on Tuesday at the same time."""
    outcome = standard.fire(new_referral(), "send", parties=SENDER, now=FRIDAY)

    assert outcome.notifications == (Notification("referral_sent", "receiver"),)
    assert outcome.due_at == datetime(2026, 5, 12, 15, 0, tzinfo=TIME_ZONE)
    assert outcome.transition.trigger == "send"


def test_urgent_sending_is_due_four_hours_later(urgent, new_referral):
    outcome = urgent.fire(new_referral(), "send", parties=SENDER, now=FRIDAY)

    assert outcome.due_at == datetime(2026, 5, 8, 19, 0, tzinfo=TIME_ZONE)


def test_reaching_a_terminal_state_has_no_deadline(standard, new_referral):
    outcome = standard.fire(
        new_referral("received"), "decline", parties=RECEIVER, now=FRIDAY, reason="no_capacity"
    )

    assert outcome.dest == "declined"
    assert outcome.due_at is None
    assert outcome.notifications == (Notification("referral_declined", "sender"),)


def test_a_transition_without_notifications(standard, new_referral):
    outcome = standard.fire(new_referral("in_progress"), "record_follow_up", parties=SENDER, now=FRIDAY)

    assert outcome.notifications == ()
    assert outcome.due_at == datetime(
        2026, 5, 25, 15, 0, tzinfo=TIME_ZONE
    )  # 10 business days, over the Patriotes' Monday


def test_the_joint_meeting_notifies_both_sides(accompanied, new_referral):
    outcome = accompanied.fire(
        new_referral("received"), "plan_meeting", parties=SENDER, now=FRIDAY, comment="Mardi 10 h"
    )

    assert outcome.notifications == (
        Notification("meeting_planned", "sender"),
        Notification("meeting_planned", "receiver"),
    )


def test_agreement_parameters_change_the_deadline(standard, new_referral):
    parameters = standard.resolve_parameters({"receipt_deadline": "1 business day"})

    outcome = standard.fire(new_referral(), "send", parties=SENDER, now=FRIDAY, parameters=parameters)

    assert outcome.due_at == datetime(2026, 5, 11, 15, 0, tzinfo=TIME_ZONE)


def test_later_steps_of_a_deadline(standard):
    reminder = standard.due_at("sent", FRIDAY, 0, None)
    escalation = standard.due_at("sent", FRIDAY, 1, {"receipt_escalation": "6 business days"})

    assert reminder == datetime(2026, 5, 12, 15, 0, tzinfo=TIME_ZONE)
    assert escalation == datetime(2026, 5, 19, 15, 0, tzinfo=TIME_ZONE)  # over the Patriotes' Monday
    assert standard.due_at("sent", FRIDAY, 2, None) is None
    assert standard.due_at("closed", FRIDAY, 0, None) is None


# What a party may do ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "parties", "triggers"),
    [
        ("draft", SENDER, ["send", "discard"]),
        ("draft", RECEIVER, []),
        ("received", RECEIVER, ["accept", "decline", "redirect"]),
        ("received", SENDER, ["cancel"]),
        ("received", SENDER_COORDINATOR, ["cancel"]),
        ("in_progress", SENDER, ["record_follow_up", "close", "cancel"]),
        ("closed", SENDER | RECEIVER, []),
        ("sent", frozenset({"system"}), []),
    ],
)
def test_available_lists_what_these_parties_may_do_in_file_order(
    standard, state: str, parties: frozenset[str], triggers: list[str]
):
    assert [t.trigger for t in standard.available(state, parties)] == triggers


# Agreement parameters --------------------------------------------------------


def test_resolve_parameters_fills_in_the_defaults(standard):
    assert standard.resolve_parameters({}) == STANDARD_DEFAULTS


def test_resolve_parameters_keeps_values_within_bounds_in_plain_form(standard):
    resolved = standard.resolve_parameters(
        {"receipt_deadline": "3 Business Days", "follow_up_delay": "44 days"}
    )

    assert resolved == {
        **STANDARD_DEFAULTS,
        "receipt_deadline": "3 business days",
        "follow_up_delay": "44 days",
    }


def test_resolve_parameters_accepts_the_bounds_themselves(standard):
    resolved = standard.resolve_parameters(
        {"decision_deadline": "1 business day", "follow_up_delay": "7 days"}
    )

    assert (resolved["decision_deadline"], resolved["follow_up_delay"]) == ("1 business day", "7 days")


def test_resolve_parameters_refuses_an_unknown_name(standard):
    with pytest.raises(ParameterError) as refused:
        standard.resolve_parameters({"answer_deadline": "2 business days"})

    assert refused.value.parameter == "answer_deadline"
    assert str(refused.value) == (
        "answer_deadline: this protocol has no such parameter (it has: decision_deadline, "
        "first_contact_deadline, follow_up_delay, receipt_deadline, receipt_escalation)"
    )


def test_resolve_parameters_refuses_a_malformed_value(standard):
    with pytest.raises(ParameterError, match=r"^receipt_deadline: 'soon' is not a duration") as refused:
        standard.resolve_parameters({"receipt_deadline": "soon"})

    assert refused.value.parameter == "receipt_deadline"


@pytest.mark.parametrize(
    ("value", "written"),
    [("6 business days", "6 business days"), ("2 hours", "2 hours"), ("5 days", "5 days")],
    ids=["too long", "other unit", "calendar days for business days"],
)
def test_resolve_parameters_refuses_values_out_of_bounds(standard, value: str, written: str):
    with pytest.raises(ParameterError) as refused:
        standard.resolve_parameters({"receipt_deadline": value})

    assert str(refused.value) == (
        f"receipt_deadline: must be between 1 business day and 5 business days, got {written}"
    )


def test_resolve_parameters_refuses_an_escalation_before_the_reminder(standard):
    with pytest.raises(ParameterError) as refused:
        standard.resolve_parameters(
            {"receipt_deadline": "3 business days", "receipt_escalation": "2 business days"}
        )

    assert refused.value.parameter == "receipt_escalation"
    assert str(refused.value) == (
        "receipt_escalation: in state 'sent' the escalation (2 business days) "
        "must come after the reminder (3 business days)"
    )


def test_resolve_parameters_refuses_an_escalation_at_the_reminder(urgent):
    with pytest.raises(ParameterError, match=r"escalation \(2 hours\) must come after the reminder"):
        urgent.resolve_parameters({"receipt_deadline": "2 hours", "receipt_escalation": "2 hours"})


def test_resolve_parameters_blames_the_parameter_the_agreement_set(standard):
    with pytest.raises(ParameterError) as refused:
        standard.resolve_parameters({"receipt_deadline": "5 business days"})
    assert refused.value.parameter == "receipt_deadline"
    assert "the escalation (4 business days) must come after the reminder (5 business days)" in str(
        refused.value
    )


# One machine for all referrals -----------------------------------------------


def test_one_machine_drives_every_referral_without_holding_them(standard):
    """A thousand referrals go from draft to closed; the machine keeps none of them."""
    machine = standard.machine
    class_attributes = set(dir(BareReferral))
    referrals = [BareReferral() for _ in range(1000)]

    for referral in referrals:
        walk(standard, referral, STANDARD_HAPPY_PATH)

    assert standard.machine is machine
    assert machine.models == []
    assert {referral.state for referral in referrals} == {"closed"}
    assert all(vars(referral) == {"state": "closed"} for referral in referrals)
    assert set(dir(BareReferral)) == class_attributes

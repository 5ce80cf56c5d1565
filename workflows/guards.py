"""The fixed list of guards a protocol file may name, and the parties it knows.

A protocol file names guards by these keys only: nothing in a file can make
the engine import or call code of its choosing.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from typing import Protocol

# Who may fire a transition. A person may stand for several parties at once
# (a coordinator of the sending organization is `sender` and `sender_coordinator`).
PARTIES = frozenset({"sender", "receiver", "sender_coordinator", "receiver_coordinator", "system"})
# Who may be notified: every party but the system itself.
RECIPIENTS = PARTIES - {"system"}

# What a protocol drives (its `subject`), and the parties of each. A referral moves between two
# organizations; a request to join the network between an organization not yet in it (`requester`,
# who has no account) and the regional admin; a request between two partner organizations (a loan,
# an activity, a mobilization...) between the organization `asking` and the one `answering`.
SUBJECTS = ("referral", "join_request", "partnership_request")
PARTIES_OF: dict[str, frozenset[str]] = {
    "referral": PARTIES,
    "join_request": frozenset({"requester", "regional_admin", "system"}),
    "partnership_request": frozenset({"asking", "answering", "system"}),
}


def recipients_of(subject: str) -> frozenset[str]:
    """Who a protocol of this subject may notify: its parties but the system itself."""
    return PARTIES_OF[subject] - {"system"}


class Subject(Protocol):
    """What the engine needs of a referral."""

    state: str

    def has_valid_consent(self, now: datetime) -> bool: ...


Guard = Callable[[Subject, Mapping[str, Any]], bool]


def _consent_recorded(referral: Subject, inputs: Mapping[str, Any]) -> bool:
    return referral.has_valid_consent(inputs["now"])


def _target_organization_given(referral: Subject, inputs: Mapping[str, Any]) -> bool:
    return inputs.get("target_organization") is not None


GUARDS: dict[str, Guard] = {
    "consent_recorded": _consent_recorded,
    "target_organization_given": _target_organization_given,
}

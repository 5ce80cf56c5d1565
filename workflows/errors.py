"""Errors raised by the protocol engine.

`ProtocolError` is about a protocol file; `ReferralError` and its children are
about one attempt to move one referral, and carry what a person needs to know
to try again (the state, the trigger, the missing guard).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a protocol file, located as precisely as we can."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ProtocolError(Exception):
    """A protocol file (or a set of them) cannot be used."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProtocolNotFound(LookupError):
    """No loaded protocol has this name (and version)."""

    def __init__(self, name: str, version: int | None = None) -> None:
        self.name = name
        self.version = version
        what = f"{name} version {version}" if version is not None else name
        super().__init__(f"no protocol named {what}; 'maillage protocols list' shows the loaded ones")


class ParameterError(ValueError):
    """An agreement's parameter value is unknown, malformed or out of the protocol's bounds."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class ReferralError(Exception):
    """An action on a referral was refused; nothing was changed."""


class UnknownTrigger(ReferralError):
    def __init__(self, trigger: str) -> None:
        self.trigger = trigger
        super().__init__(f"the protocol has no action named {trigger!r}")


class InvalidTransition(ReferralError):
    """The trigger exists but not from the referral's current state."""

    def __init__(self, trigger: str, state: str) -> None:
        self.trigger = trigger
        self.state = state
        super().__init__(f"{trigger!r} is not possible while the referral is {state!r}")


class NotAllowed(ReferralError):
    """The actor's party may not fire this trigger."""

    def __init__(self, trigger: str, parties: frozenset[str]) -> None:
        self.trigger = trigger
        self.parties = parties
        who = ", ".join(sorted(parties)) or "nobody"
        super().__init__(f"{trigger!r} may not be done by {who}")


class GuardFailed(ReferralError):
    """A condition the transition needs is not met (e.g. no valid consent)."""

    def __init__(self, trigger: str, guard: str) -> None:
        self.trigger = trigger
        self.guard = guard
        super().__init__(f"{trigger!r} needs {guard!r}")


class ConsentRequired(GuardFailed):
    """The referral has no valid consent for this step."""


class FieldProblem(ReferralError):
    """A value a partnership request's transition records is missing or not of its kind.

    `code`: missing, bad_date, bad_datetime, bad_choice, bad_number, too_long, unknown_field, or
    order (an end before its start); `field` names the field, for the page to show it beside it.
    """

    def __init__(self, trigger: str, field: str, code: str) -> None:
        self.trigger = trigger
        self.field = field
        self.code = code
        super().__init__(f"{trigger!r}: field {field!r}: {code}")

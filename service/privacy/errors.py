"""Why a privacy change was refused. Nothing was changed when one is raised."""

from __future__ import annotations


class PrivacyError(Exception):
    """An act on the incident register or on a retention period was refused."""


class IncidentNotFound(PrivacyError, LookupError):
    """No incident with this id in the person's organization (the same answer as none at all, on purpose)."""

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id
        super().__init__(f"no incident {incident_id}")


class IncidentRefused(PrivacyError):
    """The incident's details break a rule; `rule` names it and `field` the field to fix.

    Rules: `in_the_future`, `ends_before_start`, `learned_before_start`,
    `commission_notice_missing`, `people_notice_missing`, `notice_before_start`.
    """

    def __init__(self, rule: str, field: str) -> None:
        self.rule = rule
        self.field = field
        super().__init__(f"{field}: {rule}")


class RetentionRefused(PrivacyError):
    """A retention period outside 1 month … the regional maximum (`rule`: `too_long` or `too_short`)."""

    def __init__(self, rule: str, maximum: int) -> None:
        self.rule = rule
        self.maximum = maximum
        super().__init__(f"retention period {rule}; the regional maximum is {maximum} months")


class PrivacyNotAllowed(PrivacyError):
    """This person's role or organization does not allow this; the privacy pages answer 403."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"{action!r} is not allowed to this person")

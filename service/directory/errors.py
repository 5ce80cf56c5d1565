"""Why a change to the directory was refused. Nothing was changed when one is raised."""

from __future__ import annotations

from service.errors import NotAllowed


class DirectoryError(Exception):
    """A directory change was refused; the session was rolled back."""


class DirectoryNotFound(DirectoryError, LookupError):
    """No organization, service, partnership or agreement with this id."""

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key}")


class RuleBroken(DirectoryError):
    """A rule of the directory forbids this change; `rule` names it for the page to explain.

    Rules: `same_organization`, `already_partners`, `name_taken`, `not_a_side`,
    `partnership_inactive`, `own_proposal`, `already_confirmed`, `not_newest`,
    `changed_meanwhile`.
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(rule)


class DirectoryNotAllowed(NotAllowed):
    """This person's role or organization does not allow this change (a 403, as for referrals)."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.trigger = action
        self.parties = frozenset()
        Exception.__init__(self, f"{action!r} is not allowed to this person")

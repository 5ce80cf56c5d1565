"""Why a change to the address book was refused. Nothing was changed when one is raised."""

from __future__ import annotations

from service.errors import NotAllowed


class AddressBookError(Exception):
    """An address book change was refused; the session was rolled back."""


class EntryNotFound(AddressBookError, LookupError):
    """No entry with this id in the reader's book: another organization's entries do not exist for her."""

    def __init__(self, key: object) -> None:
        self.key = key
        super().__init__(f"no address book entry {key}")


class EntryRefused(AddressBookError):
    """A rule of the book forbids this change; `rule` names it for the page to explain.

    Rules: `name_needed`, `unknown_organization`, `not_a_side`, `changed_meanwhile`.
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(rule)


class BookNotAllowed(NotAllowed):
    """Her role does not let her change her organization's book (a 403): coordinators keep it."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.trigger = action
        self.parties = frozenset()
        Exception.__init__(self, f"{action!r} is not allowed to this person")

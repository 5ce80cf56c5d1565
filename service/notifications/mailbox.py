"""The embedded mailbox: the emails the worker wrote as `.eml` files when no SMTP server is set."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

# The names `worker.sending.Mailbox` gives its files; anything else is not ours to show.
FILE_NAME = re.compile(r"^\d+-[0-9a-f]{12}\.eml$")


@dataclass(frozen=True)
class MailboxEntry:
    name: str
    to: str
    subject: str
    date: datetime | None


@dataclass(frozen=True)
class MailboxPage:
    """One page of the mailbox, newest first, and how many pages there are."""

    entries: list[MailboxEntry]
    page: int  # from 1, always one that exists (the first when the mailbox is empty)
    pages: int


PAGE_SIZE = 20


def list_mailbox(folder: Path, page: int = 1, size: int = PAGE_SIZE) -> MailboxPage:
    """The `page`-th `size` emails, newest first (a page out of range gives the nearest one).

    Only the files of this page are read: the names alone (a time in nanoseconds first) give the order.
    """
    names = sorted(
        (p.name for p in folder.iterdir() if FILE_NAME.match(p.name)) if folder.is_dir() else (),
        key=lambda name: (int(name.split("-", 1)[0]), name),
        reverse=True,
    )
    pages = max(1, -(-len(names) // size))
    page = min(max(page, 1), pages)
    entries = []
    for name in names[(page - 1) * size : page * size]:
        message = read_email(folder, name)
        if message is not None:
            entries.append(
                MailboxEntry(name, str(message["To"] or ""), str(message["Subject"] or ""), _date(message))
            )
    return MailboxPage(entries, page, pages)


def read_email(folder: Path, name: str) -> EmailMessage | None:
    """One email of the mailbox, or None for a name that is not one of its files."""
    if not FILE_NAME.match(name):
        return None
    path = folder / name
    if not path.is_file():
        return None
    with path.open("rb") as file:
        return email.message_from_binary_file(file, policy=email.policy.default)  # type: ignore[return-value]


def _date(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        return None

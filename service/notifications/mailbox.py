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


def list_mailbox(folder: Path, limit: int = 200) -> list[MailboxEntry]:
    """The newest emails first, at most `limit`."""
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if FILE_NAME.match(p.name)), reverse=True)[:limit]
    entries = []
    for name in names:
        message = read_email(folder, name)
        if message is not None:
            entries.append(
                MailboxEntry(name, str(message["To"] or ""), str(message["Subject"] or ""), _date(message))
            )
    return entries


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

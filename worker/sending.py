"""Sending outbox messages: where emails go (an SMTP server, or the embedded mailbox), and one batch.

A batch shares one SMTP connection. Each message gets its own short
transaction: locked and checked still pending, sent, marked sent, committed.
A message the server refuses is put back with a backoff; a connection that
breaks ends the batch, and the messages not yet sent come back to the relay
when their lease ends.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import smtplib
import ssl
import time
from collections.abc import Callable
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from service.clock import Clock
from service.clock import utcnow
from service.config import Settings
from service.notifications.emails import Email
from service.notifications.emails import Undeliverable
from service.notifications.emails import compose
from service.notifications.emails import envelope_address
from service.notifications.outbox import lock_pending
from service.notifications.outbox import mark_refused
from service.notifications.outbox import mark_sent
from service.notifications.outbox import mark_undeliverable
from workflows.loader import ProtocolLibrary

log = logging.getLogger(__name__)

# The server said no to this message (a recipient, the sender, the content):
# counted against the message, which is retried later and given up after a bound.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Postbox(Protocol):
    """Somewhere emails are handed to."""

    def send(self, message: EmailMessage, to: str) -> None: ...

    def close(self) -> None: ...


class Mailbox:
    """The embedded default: each email becomes an `.eml` file in a folder (the development mailbox)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage, to: str) -> None:
        name = hashlib.sha256(f"{message['Message-ID']}\n{to}".encode()).hexdigest()[:12]
        path = self.folder / f"{time.time_ns()}-{name}.eml"
        partial = path.with_suffix(".partial")
        partial.write_bytes(bytes(message))
        # Atomic, so the mailbox page never lists half an email.
        os.replace(partial, path)

    def close(self) -> None:
        pass


class SmtpPostbox:
    """One SMTP connection, opened at once, for a whole batch."""

    def __init__(self, url: str, mail_from: str, *, timeout: float = 30) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                "MAILLAGE_SMTP_URL must look like smtp://host:25, smtp+starttls://user:password@host:587 "
                "or smtps://user:password@host:465"
            )
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.envelope_from = envelope_address(mail_from)
        if parts.scheme == "smtps":
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            self.smtp = smtplib.SMTP(parts.hostname, port, timeout=timeout)
            if parts.scheme == "smtp+starttls":
                self.smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            self.smtp.login(unquote(parts.username), unquote(parts.password or ""))

    def send(self, message: EmailMessage, to: str) -> None:
        self.smtp.send_message(message, from_addr=self.envelope_from, to_addrs=[to])

    def close(self) -> None:
        with suppress(smtplib.SMTPException, OSError):
            self.smtp.quit()


def open_postbox(config: Settings) -> Postbox:
    """The SMTP server of `MAILLAGE_SMTP_URL`, or the embedded mailbox when it is not set."""
    if config.smtp_url:
        return SmtpPostbox(config.smtp_url, config.mail_from)
    return Mailbox(config.mailbox_folder())


@dataclass
class Delivery:
    """What a batch did, by count (logged; never what the messages said)."""

    sent: int = 0
    refused: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: bool = False


def deliver(
    ids: Iterable[int],
    *,
    sessions: sessionmaker[Session],
    protocols: ProtocolLibrary,
    config: Settings,
    postbox: Callable[[], Postbox] | None = None,
    clock: Clock = utcnow,
    jitter: Callable[[], float] = random.random,
) -> Delivery:
    """Send the outbox messages `ids` that are still pending, each at most once per lock.

    Exactly-once is not possible with SMTP: if the process dies after the server
    has taken an email and before our commit, the message is still pending and
    is sent again later. The copy has the same Message-ID (see
    `service.notifications.emails.message_id`), which lets mail systems collapse it.

    A message goes to one or more addresses. Refused for all of them, it is
    retried with a backoff, up to `MAX_ATTEMPTS`; refused for some only, it is
    marked sent with the refusals in `last_error`, so that the people who got it
    do not get it again.
    """
    opener = postbox or (lambda: open_postbox(config))
    done = Delivery()
    connection: Postbox | None = None
    try:
        for message_id in ids:
            with sessions() as session:
                outcome = _deliver_one(
                    session, message_id, protocols, config, clock, jitter, opener, connection
                )
                connection = outcome.connection
                if outcome.result == "interrupted":
                    done.interrupted = True
                    break
                setattr(done, outcome.result, getattr(done, outcome.result) + 1)
    finally:
        if connection is not None:
            connection.close()
    log.info(
        "outbox batch: %d sent, %d refused, %d failed, %d skipped%s",
        done.sent,
        done.refused,
        done.failed,
        done.skipped,
        ", interrupted by a lost connection" if done.interrupted else "",
    )
    return done


@dataclass
class _Outcome:
    result: str
    connection: Postbox | None


def _deliver_one(
    session: Session,
    message_id: int,
    protocols: ProtocolLibrary,
    config: Settings,
    clock: Clock,
    jitter: Callable[[], float],
    opener: Callable[[], Postbox],
    connection: Postbox | None,
) -> _Outcome:
    # Locked first, then locked again to send: the signed links the emails carry are
    # committed in between, before the emails leave (see `add_link`).
    message = lock_pending(session, message_id)
    if message is None:
        return _Outcome("skipped", connection)
    try:
        emails = compose(session, protocols, message, base_url=config.base_url, now=clock())
    except SQLAlchemyError:
        raise  # the database is not there: the whole batch comes back with the lease
    except Exception as error:
        # Nobody to send it to: no retry can help. Anything else (a template that does
        # not render, a bug) is retried like a refusal, so it too ends after a bound.
        session.rollback()
        code = error.code if isinstance(error, Undeliverable) else type(error).__name__
        locked = lock_pending(session, message_id)
        if locked is None:
            return _Outcome("skipped", connection)
        if isinstance(error, Undeliverable):
            mark_undeliverable(locked, code)
        else:
            mark_refused(locked, code, clock(), jitter=jitter)
        session.commit()
        log.warning("outbox message %d could not be composed: %s", message_id, code)
        return _Outcome("failed" if locked.status == "failed" else "refused", connection)
    session.commit()
    message = lock_pending(session, message_id)
    if message is None:
        return _Outcome("skipped", connection)
    try:
        if connection is None:
            connection = opener()
        refused = _send_all(connection, emails, config.mail_from)
    except REFUSALS as error:
        mark_refused(message, _refusal_code(error), clock(), jitter=jitter)
        session.commit()
        log.warning(
            "outbox message %d refused (%s), attempt %d", message_id, message.last_error, message.attempts
        )
        return _Outcome("failed" if message.status == "failed" else "refused", connection)
    except (smtplib.SMTPException, OSError) as error:
        session.rollback()
        log.warning("mail server connection lost at outbox message %d: %s", message_id, type(error).__name__)
        if connection is not None:
            connection.close()
        return _Outcome("interrupted", None)
    mark_sent(message, clock())
    if refused:
        # Some of its recipients have it: sending again would give them copies, so the
        # addresses refused are recorded for a coordinator to see, not retried.
        message.last_error = f"refused for {len(refused)} of {len(emails)}: {', '.join(sorted(set(refused)))}"
        log.warning("outbox message %d sent, %s", message_id, message.last_error)
    session.commit()
    return _Outcome("sent", connection)


def _send_all(connection: Postbox, emails: list[Email], mail_from: str) -> list[str]:
    """Send each email; returns the refusal codes of the refused ones, or raises if all were refused."""
    refused: list[str] = []
    for email in emails:
        try:
            connection.send(email.as_message(mail_from), email.to)
        except REFUSALS as error:
            refused.append(_refusal_code(error))
            if len(refused) == len(emails):
                raise
    return refused


def _refusal_code(error: smtplib.SMTPException) -> str:
    """The exception's class and SMTP code: what went wrong, never what the message said."""
    code = getattr(error, "smtp_code", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code = ",".join(sorted({str(reply[0]) for reply in error.recipients.values()}))
    return f"{type(error).__name__}:{code}" if code else type(error).__name__

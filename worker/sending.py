"""Sending outbox messages: where emails go (an SMTP server, or the embedded mailbox), and one batch.

A batch is read and composed in one transaction (its messages locked and
checked still pending, the signed links they carry committed), then sent over
one SMTP connection, each message in a short transaction of its own: marked
sent, handed to the server, committed. A message the server refuses is put
back with a backoff; a connection that breaks ends the batch, and the messages
not yet sent come back to the relay when their lease ends.
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
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from service.clock import Clock
from service.clock import utcnow
from service.config import Settings
from service.health.metrics import EMAILS_FAILED
from service.health.metrics import EMAILS_SENT
from service.logs import acting_for
from service.notifications.emails import Email
from service.notifications.emails import Staff
from service.notifications.emails import Undeliverable
from service.notifications.emails import compose
from service.notifications.emails import envelope_address
from service.notifications.emails import preload
from service.notifications.outbox import lock_pending
from service.notifications.outbox import lock_pending_batch
from service.notifications.outbox import mark_refused
from service.notifications.outbox import mark_undeliverable
from service.notifications.outbox import note_partial_refusal
from service.notifications.outbox import take_for_sending
from workflows.loader import ProtocolLibrary

log = logging.getLogger(__name__)

# The server said no to this message (a recipient, the sender, the content):
# counted against the message, which is retried later and given up after a bound.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Postbox(Protocol):
    """Somewhere emails are handed to."""

    def send(self, message: bytes, to: str) -> None: ...

    def close(self) -> None: ...


class Mailbox:
    """The embedded default: each email becomes an `.eml` file in a folder (the development mailbox)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: bytes, to: str) -> None:
        name = hashlib.sha256(to.encode() + message).hexdigest()[:12]
        path = self.folder / f"{time.time_ns()}-{name}.eml"
        partial = path.with_suffix(".partial")
        partial.write_bytes(message)
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
        self.smtp.ehlo_or_helo_if_needed()

    def send(self, message: bytes, to: str) -> None:
        """Hand one message for `to` to the server; raises smtplib's exceptions as `sendmail` does.

        smtplib's `sendmail` does it (MAIL, RCPT, DATA, each waiting for its reply):
        a client of our own that pipelined the commands (RFC 2920) saved two round
        trips a message, which no organization's hundreds of emails a day would notice.
        """
        self.smtp.sendmail(self.envelope_from, [to], message)

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
    clock: Clock = utcnow,
    jitter: Callable[[], float] = random.random,
) -> Delivery:
    """Send the outbox messages `ids` that are still pending, each at most once per lock.

    Exactly-once is not possible with SMTP: if the process dies after the server
    has taken an email and before our commit, the message is still pending and
    is sent again later. The copy has the same Message-ID (see
    `service.notifications.emails.message_id`), which lets mail systems collapse it.
    Committing after each message keeps that to at most one copy per crash.

    A message goes to one or more addresses. Refused for all of them, it is
    retried with a backoff, up to `MAX_ATTEMPTS`; refused for some only, it is
    marked sent with the refusals in `last_error`, so that the people who got it
    do not get it again.
    """
    done = Delivery()
    wanted = list(ids)
    with sessions() as session:
        ready = _compose_batch(session, wanted, protocols, config, clock, jitter, done)
        engine = session.get_bind()
    done.skipped += len(wanted) - len(ready) - done.refused - done.failed
    postbox: Postbox | None = None
    try:
        # A plain connection, not a session: a statement and a commit per email, nothing to track.
        with engine.connect() as connection:
            for message_id, request_id, emails in ready:
                # Its lines carry the id of the request that queued it (`service.logs`).
                with acting_for(request_id):
                    result, postbox = _send_one(
                        connection, sessions, message_id, emails, config, clock, jitter, postbox
                    )
                if result == "interrupted":
                    done.interrupted = True
                    break
                setattr(done, result, getattr(done, result) + 1)
    finally:
        if postbox is not None:
            postbox.close()
    log.info(
        "outbox batch: %d sent, %d refused, %d failed, %d skipped%s",
        done.sent,
        done.refused,
        done.failed,
        done.skipped,
        ", interrupted by a lost connection" if done.interrupted else "",
    )
    return done


def _compose_batch(
    session: Session,
    ids: list[int],
    protocols: ProtocolLibrary,
    config: Settings,
    clock: Clock,
    jitter: Callable[[], float],
    done: Delivery,
) -> list[tuple[int, str | None, list[Email]]]:
    """Lock the batch's pending messages and compose their emails, in one transaction; commits.

    The commit stores the signed links the emails carry before any email leaves
    (see `add_link`), and the messages found silenced or impossible to compose.
    """
    messages = lock_pending_batch(session, ids, now=clock())
    loaded = preload(session, messages)
    staff = Staff(session)
    ready = []
    for message in messages:
        try:
            emails = compose(session, protocols, message, base_url=config.base_url, now=clock(), staff=staff)
        except (SQLAlchemyError, SoftTimeLimitExceeded):
            # The database is not there, or the task's time is up: the whole batch comes back with the lease.
            raise
        except Exception as error:
            # Nobody to send it to: no retry can help. Anything else (a template that does
            # not render, a bug) is retried like a refusal, so it too ends after a bound.
            EMAILS_FAILED.labels("unsendable").inc()
            if isinstance(error, Undeliverable):
                mark_undeliverable(message, error.code)
            else:
                mark_refused(message, type(error).__name__, clock(), jitter=jitter)
            if message.status == "failed":
                done.failed += 1
            else:
                done.refused += 1
            log.warning(
                "outbox message %d could not be composed: %s",
                message.id,
                message.last_error,
                extra={"request_id": message.request_id},
            )
            continue
        ready.append((message.id, message.request_id, emails))
    session.commit()
    del loaded  # held until here, so that compose found them in the session
    return ready


def _send_one(
    connection: Connection,
    sessions: sessionmaker[Session],
    message_id: int,
    emails: list[Email],
    config: Settings,
    clock: Clock,
    jitter: Callable[[], float],
    postbox: Postbox | None,
) -> tuple[str, Postbox | None]:
    """Send one composed message if it is still pending; returns what happened and the postbox."""
    if not take_for_sending(connection, message_id, clock()):
        connection.rollback()
        return "skipped", postbox
    try:
        if postbox is None:
            postbox = open_postbox(config)
        refused = _send_all(postbox, emails, config.mail_from, clock)
    except REFUSALS as error:
        connection.rollback()
        with sessions(bind=connection) as session:
            return _refused(session, message_id, _refusal_code(error), clock, jitter), postbox
    except (smtplib.SMTPException, OSError) as error:
        EMAILS_FAILED.labels("connection").inc()
        connection.rollback()
        log.warning("mail server connection lost at outbox message %d: %s", message_id, type(error).__name__)
        if postbox is not None:
            postbox.close()
        return "interrupted", None
    if refused:
        # Some of its recipients have it: sending again would give them copies, so the
        # addresses refused are recorded for a coordinator to see, not retried.
        error = f"refused for {len(refused)} of {len(emails)}: {', '.join(sorted(set(refused)))}"
        note_partial_refusal(connection, message_id, error)
        log.warning("outbox message %d sent, %s", message_id, error)
    connection.commit()
    log.info("outbox message %d sent", message_id)
    return "sent", postbox


def _refused(session: Session, message_id: int, code: str, clock: Clock, jitter: Callable[[], float]) -> str:
    """Put back a message every recipient refused, with a backoff, or give it up; commits."""
    message = lock_pending(session, message_id)
    if message is None:
        return "skipped"
    mark_refused(message, code, clock(), jitter=jitter)
    session.commit()
    log.warning("outbox message %d refused (%s), attempt %d", message_id, code, message.attempts)
    return "failed" if message.status == "failed" else "refused"


def _send_all(postbox: Postbox, emails: list[Email], mail_from: str, clock: Clock = utcnow) -> list[str]:
    """Send each email, dated by `clock`; returns the refusal codes of the refused ones, or raises
    if all were refused."""
    refused: list[str] = []
    for email in emails:
        try:
            postbox.send(email.as_bytes(mail_from, date=clock()), email.to)
        except REFUSALS as error:
            EMAILS_FAILED.labels("refused").inc()
            refused.append(_refusal_code(error))
            if len(refused) == len(emails):
                raise
        else:
            EMAILS_SENT.inc()
    return refused


def _refusal_code(error: smtplib.SMTPException) -> str:
    """The exception's class and SMTP code: what went wrong, never what the message said."""
    code = getattr(error, "smtp_code", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code = ",".join(sorted({str(reply[0]) for reply in error.recipients.values()}))
    return f"{type(error).__name__}:{code}" if code else type(error).__name__

"""A forgotten password: asking for a link by email, and setting a new password through it.

Asking says nothing of the accounts: whatever the email, the request does the same work (the
account looked up, the request audited, one commit) and gets the same answer. Only an active
account with a password gets an email; its one-time link (`service.accounts.one_time_links`) is
made when the email is composed, so the raw token exists in the email alone. The link works once,
for `LIFETIME`, and only for the newest email.

Opening the link changes nothing (mail scanners open links): `reset_password`, the form's POST,
uses it up, in the same transaction as the new password, the end of every session of hers, the
audit entry and the notice email.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts import one_time_links
from service.accounts.models import User
from service.accounts.one_time_links import Purpose
from service.accounts.operations import actor_of
from service.accounts.operations import end_all_sessions
from service.accounts.passwords import hash_password
from service.accounts.passwords import password_weakness
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.notifications.models import OutboxMessage
from service.notifications.outbox import CANCELLED
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor

LIFETIME = timedelta(hours=1)
# Where the emailed link leads; the token follows (masked in logs: `service.links.redaction`).
RESET_PATH = "/password/reset/"
# Where the notice of a changed password points her: signing in, or asking again if it was not her.
FORGOT_PATH = "/password/forgot"
UNUSABLE = "unusable"


def request_reset(session: Session, email: str, *, clock: Clock = utcnow) -> None:
    """She asked for a link to set a new password: an email is queued when `email` names an active
    account with a password, nothing tells whether it does. Audited either way (against the
    account when the email names one). Commits."""
    account = _account_named(session, email)
    now = clock()
    audit(session, "password_reset.requested", _actor(account), now)
    if account is not None and account.active and account.has_password:
        _queue(
            session,
            account.id,
            account.organization_id,
            "password_reset",
            now,
            one_time_link=Purpose.PASSWORD_RESET.value,
            path=RESET_PATH,
            hours=int(LIFETIME.total_seconds() // 3600),
        )
    else:
        # The same work, so the answer takes as long: an outbox row, cancelled from the start,
        # naming nobody, handed to the worker too (whose send task finds nothing pending in it).
        # Without it an unknown email was answered in a quarter of the time on PostgreSQL
        # (1.1 ms against 4.7 ms), and without a broker's round trip after the commit.
        decoy = OutboxMessage(
            dedupe_key=f"password_reset:nobody:{secrets.token_hex(8)}",
            template="password_reset",
            status=CANCELLED,
            last_error="no_account",
            created_at=now,
            available_at=now,
        )
        session.add(decoy)
        session.flush()
        note_queued(session, [decoy.id])
    session.commit()


def account_of_link(session: Session, token: str, *, clock: Clock = utcnow) -> User | None:
    """The active account a reset link opens, or None (unknown, tampered, expired, used, revoked).
    Changes nothing: what opening the link may do."""
    link = one_time_links.find(session, token, Purpose.PASSWORD_RESET, clock=clock)
    if link is None:
        return None
    user = session.get(User, link.user_id)
    return user if user is not None and user.active else None


def reset_password(session: Session, token: str, new: str, *, clock: Clock = utcnow) -> User | str:
    """Her new password, through the link: the account, signed out everywhere. Otherwise why not,
    nothing changed and the link still as it was: "too_short" or "too_common" (she may try again
    with the same link), or "unusable". Commits.

    Of two submissions at once, one sets the password; the other finds the link used.
    """
    user = account_of_link(session, token, clock=clock)
    if user is None:
        return UNUSABLE
    weakness = password_weakness(new, personal=(user.email, user.name))
    if weakness is not None:
        return weakness
    # Hashed before the link's row is taken: argon2 takes a while, the row lock should not.
    password_hash = hash_password(new)
    if one_time_links.consume(session, token, Purpose.PASSWORD_RESET, clock=clock) != user.id:
        session.rollback()
        return UNUSABLE
    now = clock()
    user.password_hash = password_hash
    # Whoever knew the old password, or holds a stolen cookie, is signed out (OWASP ASVS 3.3.3).
    end_all_sessions(session, user.id, clock)
    audit(session, "password.reset", actor_of(user), now)
    _queue(session, user.id, user.organization_id, "password_reset_done", now, path=FORGOT_PATH)
    session.commit()
    return user


def _account_named(session: Session, email: str) -> Row[Any] | None:
    """What asking needs of the account `email` names, as a plain row: making an ORM object of it
    cost her email's answer 35 µs more than an unknown one's (bench/password_reset.py)."""
    return session.execute(
        select(
            User.id,
            User.organization_id,
            User.role,
            User.active,
            User.password_hash.is_not(None).label("has_password"),
        ).where(func.lower(User.email) == email.strip().lower())
    ).first()


def _actor(account: Row[Any] | None) -> Actor:
    """Whom the request is audited as: the account the email names, else "anonymous"."""
    if account is None:
        return Actor(user_id=None, organization_id=None, role="anonymous")
    return Actor(user_id=account.id, organization_id=account.organization_id, role=account.role)


def _queue(
    session: Session, user_id: int, organization_id: int, template: str, now: datetime, **payload: Any
) -> None:
    """An email to her own address (an active account's), composed by the worker in her language;
    handed to the worker once the caller commits."""
    message = OutboxMessage(
        # A random part: each request is its own message, however many she makes.
        dedupe_key=f"{template}:{user_id}:{secrets.token_hex(8)}",
        template=template,
        recipient_party="user",
        recipient_organization_id=organization_id,
        payload={"user_id": user_id, **payload},
        created_at=now,
        available_at=now,
    )
    session.add(message)
    session.flush()
    # Sent as soon as the transaction commits, not at the relay's next pass: she is waiting for it.
    note_queued(session, [message.id])

"""One-time links to an account: a password reset, an invitation. Issue one, find it, consume it once.

A link is a random token of 256 bits (`secrets.token_urlsafe(32)`) emailed to one account for one
purpose. Only its SHA-256 is stored: a copy of the database opens nothing, and looking a token up by
its hash compares nothing of the raw token, so the answer's timing tells nothing of a valid token
(a salt or a slow hash would add nothing to 256 random bits). It expires (`lifetime`, read on the
app's clock) and is good once: `consume` marks it used in one conditional UPDATE, so of two
submissions at the same moment exactly one gets the account.

Opening the page a link leads to (a GET) must only `find` it: mail scanners open links. The form's
POST `consume`s it, in the same transaction as what it does (the new password, the accepted
invitation), and commits once.

Usage, for a purpose of `Purpose`::

    token = issue(session, account, Purpose.INVITATION, timedelta(hours=72), clock=clock)
    ...  # queue the email carrying the token in the same transaction
    session.commit()

    link = find(session, token, Purpose.INVITATION, clock=clock)   # GET: the row, or None
    if link is None:
        why = why_unusable(session, token, Purpose.INVITATION, clock=clock)  # which page to show

    user_id = consume(session, token, Purpose.INVITATION, clock=clock)  # POST: the account id, or None
    if user_id is None: ...  # used meanwhile, expired, revoked or unknown: nothing was changed
    ...  # act for the account, then session.commit()
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.accounts.models import OneTimeLink
from service.accounts.models import User
from service.clock import Clock
from service.clock import utcnow

# `token_urlsafe(32)` writes 43 characters; anything much longer is not one of ours, hashed or not.
_LONGEST_TOKEN = 64


class Purpose(StrEnum):
    """What a link is for: a link of one purpose is never accepted for another."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
    INVITATION = "invitation"


class Unusable(StrEnum):
    """Why a token opens nothing; a page may word "expired" and "used" differently."""

    UNKNOWN = "unknown"  # never issued, mistyped, tampered with, or of another purpose
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"  # ended unused: a newer link was sent, or `revoke_all`


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    account: User | int,
    purpose: Purpose,
    lifetime: timedelta,
    *,
    clock: Clock = utcnow,
    replace: bool = True,
) -> str:
    """A new link for `account` (a user or her id), good for `lifetime`; returns the raw token, the
    only time it exists outside the email. Added to the session: the caller commits it, with the
    email that carries it.

    `replace`: her earlier unused links of this purpose are revoked, so only the newest email works.
    """
    user_id = account if isinstance(account, int) else account.id
    now = clock()
    if replace:
        revoke_all(session, user_id, purpose, clock=clock)
    token = secrets.token_urlsafe(32)
    session.add(
        OneTimeLink(
            token_hash=token_hash(token),
            purpose=purpose,
            user_id=user_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def find(session: Session, raw: str, purpose: Purpose, *, clock: Clock = utcnow) -> OneTimeLink | None:
    """The usable link behind `raw` for `purpose` (not used, not revoked, not expired), or None.
    Changes nothing: what a GET of the link's page may call."""
    link = _by_token(session, raw, purpose)
    if link is None or _why(link, clock) is not None:
        return None
    return link


def why_unusable(session: Session, raw: str, purpose: Purpose, *, clock: Clock = utcnow) -> Unusable | None:
    """Why `raw` opens nothing for `purpose`, or None when it is usable. Changes nothing."""
    link = _by_token(session, raw, purpose)
    return Unusable.UNKNOWN if link is None else _why(link, clock)


def consume(session: Session, raw: str, purpose: Purpose, *, clock: Clock = utcnow) -> int | None:
    """Use the link behind `raw` up: the id of its account, or None when it was not usable (nothing
    changed then). The caller acts for the account and commits, or rolls back to leave it unused.

    One conditional UPDATE (`... WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > now`):
    a second submission at the same moment waits for the first's row lock, then finds it used
    (PostgreSQL re-reads the row; SQLite lets one writer in at a time) and gets None.
    """
    if len(raw) > _LONGEST_TOKEN:
        return None
    now = clock()
    result = session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.token_hash == token_hash(raw),
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.revoked_at.is_(None),
            OneTimeLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(OneTimeLink.user_id)
        .execution_options(synchronize_session=False)
    )
    rows = result.all()
    return rows[0][0] if len(rows) == 1 else None


def revoke_all(session: Session, user_id: int, purpose: Purpose, *, clock: Clock = utcnow) -> int:
    """End every unused link of the account for `purpose` (e.g. her password changed otherwise, or
    her invitation was withdrawn); how many. The caller commits."""
    result = session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.user_id == user_id,
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.revoked_at.is_(None),
        )
        .values(revoked_at=clock())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _by_token(session: Session, raw: str, purpose: Purpose) -> OneTimeLink | None:
    if len(raw) > _LONGEST_TOKEN:
        return None
    query = select(OneTimeLink).where(
        OneTimeLink.token_hash == token_hash(raw), OneTimeLink.purpose == purpose
    )
    # Fresh from the database: a consume or revoke in this session updated the row behind the ORM's back.
    return session.scalar(query.execution_options(populate_existing=True))


def _why(link: OneTimeLink, clock: Clock) -> Unusable | None:
    if link.used_at is not None:
        return Unusable.USED
    if link.revoked_at is not None:
        return Unusable.REVOKED
    if link.expires_at <= clock():
        return Unusable.EXPIRED
    return None

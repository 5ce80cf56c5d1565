"""Accounts: creating them, signing in and out, and the server-side session that results."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.mfa import check_second_factor
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.models import UserSession
from service.accounts.passwords import hash_password
from service.accounts.passwords import password_problem
from service.accounts.passwords import password_weakness
from service.accounts.passwords import verify_password
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.referrals.actors import Actor


class AccountProblem(ValueError):
    """A new account was refused; the message says what to change."""


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    organization_id: int | None,
    password: str,
    language: str = "fr",
    clock: Clock = utcnow,
) -> User:
    """A new active account. Everyone but the regional admin belongs to one organization."""
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise AccountProblem(f"{email!r} is not a usable email address: {error}") from None
    if role not in set(Role):
        known = ", ".join(Role)
        raise AccountProblem(f"there is no role {role!r}; the roles are: {known}")
    if role == Role.REGIONAL_ADMIN and organization_id is not None:
        raise AccountProblem("a regional admin belongs to no organization: leave the organization out")
    if role != Role.REGIONAL_ADMIN and organization_id is None:
        raise AccountProblem(f"a {role} belongs to an organization: name it")
    if organization_id is not None and session.get(Organization, organization_id) is None:
        raise AccountProblem(f"there is no organization {organization_id}")
    if session.scalar(select(User.id).where(func.lower(User.email) == address.lower())) is not None:
        raise AccountProblem(f"an account with the email {address} already exists")
    problem = password_problem(password, personal=(address, name))
    if problem is not None:
        raise AccountProblem(f"the password is too weak: {problem}")
    if language not in ("fr", "en"):
        raise AccountProblem(f"the language must be fr or en, not {language!r}")
    user = User(
        email=address,
        name=name.strip() or address.split("@")[0],
        organization_id=organization_id,
        role=role,
        password_hash=hash_password(password),
        language=language,
        created_at=clock(),
    )
    session.add(user)
    session.commit()
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def actor_of(account: User | None) -> Actor:
    """Whom an account's act is audited as; "anonymous" for an email that names no account."""
    if account is None:
        return Actor(user_id=None, organization_id=None, role="anonymous")
    return Actor(user_id=account.id, organization_id=account.organization_id, role=account.role)


def check_sign_in(session: Session, email: str, password: str, clock: Clock = utcnow) -> User | None:
    """The first step of signing in: the active user with this email and password, or None (whatever
    was wrong). A failure is audited, against the account the email names when it names one (her
    coordinator sees attempts on it), and committed."""
    account = user_by_email(session, email)
    # Checked even without an account (a hash is still computed): the answer takes as long.
    stored = account.password_hash if account is not None and account.active else None
    if verify_password(stored, password):
        return account
    audit(session, "sign_in.failed", actor_of(account), clock())
    session.commit()
    return None


def start_session(session: Session, user: User, clock: Clock = utcnow) -> str:
    """A new session for `user`; returns the token for her cookie (never stored as is)."""
    token = secrets.token_urlsafe(32)
    now = clock()
    session.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            authenticated_at=now,
        )
    )
    session.commit()
    return token


def confirm_identity(session: Session, token: str, clock: Clock = utcnow) -> None:
    """She has just proved again who she is in this session (password, and code with MFA).
    The caller commits."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if row is not None and row.ended_at is None:
        row.authenticated_at = clock()


def reauthenticate(
    session: Session, user: User, token: str, password: str, code: str | None, clock: Clock = utcnow
) -> bool:
    """Whether she proved again who she is in this session: her password, and her code with MFA.

    Audited either way, in one commit: on success the code spent (never to be replayed), the
    session's new proof and the entry stand together; on failure only the entry is written.
    """
    right = verify_password(user.password_hash, password) and (
        not user.mfa_enrolled or check_second_factor(session, user, code or "", clock) is not None
    )
    if right:
        confirm_identity(session, token, clock)
    audit(session, "reauth.succeeded" if right else "reauth.failed", actor_of(user), clock())
    session.commit()
    return right


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives: unused (idle), and at most (absolute). OWASP ASVS 3.3."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


# Noting activity costs a write: once a minute is precise enough for a 30-minute idle limit.
TOUCH_EVERY = timedelta(minutes=1)


def session_user(
    session: Session, token: str, clock: Clock = utcnow, limits: SessionLimits = SessionLimits()
) -> tuple[UserSession, User] | None:
    """The live session and active user behind a cookie's token, or None; ends a session past its limits."""
    row = session.scalar(
        select(UserSession).where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    now = clock()
    if now - row.last_seen_at > limits.idle or now - row.created_at > limits.absolute:
        row.ended_at = now
        session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return row, row.user


def active_sessions(session: Session, user_id: int) -> list[UserSession]:
    """The user's sessions not yet ended, newest first."""
    query = (
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .order_by(UserSession.created_at.desc())
    )
    return list(session.scalars(query))


def end_session_of(session: Session, user_id: int, session_id: int, clock: Clock = utcnow) -> bool:
    """End one of the user's own sessions (another browser); False when it is not hers or already ended."""
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return False
    row.ended_at = clock()
    session.commit()
    return True


def end_session(session: Session, token: str, clock: Clock = utcnow) -> None:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = clock()
        session.commit()


def end_all_sessions(
    session: Session, user_id: int, clock: Clock = utcnow, *, keep_token: str | None = None
) -> int:
    """End every open session of the user, everywhere but `keep_token`'s; how many. The caller commits."""
    kept = token_hash(keep_token) if keep_token is not None else None
    rows = [row for row in active_sessions(session, user_id) if row.token_hash != kept]
    now = clock()
    for row in rows:
        row.ended_at = now
    return len(rows)


def deactivate_user(session: Session, user_id: int, clock: Clock = utcnow) -> User:
    """She can no longer sign in, and every browser where she is signed in is signed out now
    (OWASP ASVS 3.3.4): not at its next request, when a stolen cookie may already be in use."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountProblem(f"there is no user {user_id}")
    user.active = False
    end_all_sessions(session, user_id, clock)
    session.commit()
    return user


def change_password(
    session: Session, user_id: int, current: str, new: str, keep_token: str, clock: Clock = utcnow
) -> str | None:
    """Her new password, once she has given the current one: None when done, else why not
    ("wrong_password", "too_short", "too_common"). Her other sessions end: whoever knew the old
    password is signed out too (OWASP ASVS 3.3.3)."""
    user = session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current):
        return "wrong_password"
    weakness = password_weakness(new, personal=(user.email, user.name))
    if weakness is not None:
        return weakness
    user.password_hash = hash_password(new)
    end_all_sessions(session, user_id, clock, keep_token=keep_token)
    session.commit()
    return None

"""Signing in and out: who may, and the server-side session that results."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.accounts.models import UserSession
from service.accounts.passwords import verify_password
from service.clock import Clock
from service.clock import utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (whatever was wrong)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    stored = user.password_hash if user is not None and user.active else None
    return user if verify_password(stored, password) else None


def start_session(session: Session, user: User, clock: Clock = utcnow) -> str:
    """A new session for `user`; returns the token for her cookie (never stored as is)."""
    token = secrets.token_urlsafe(32)
    now = clock()
    session.add(UserSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.commit()
    return token


def session_user(session: Session, token: str, clock: Clock = utcnow) -> tuple[UserSession, User] | None:
    """The live session and active user behind a cookie's token, or None."""
    row = session.scalar(
        select(UserSession).where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    return row, row.user


def end_session(session: Session, token: str, clock: Clock = utcnow) -> None:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = clock()
        session.commit()

"""Creating, revoking and recognizing API keys. Only an organization's coordinator manages its keys.

A key is shown once, when it is made; we keep the SHA-256 of its token, which
is enough for a 256-bit random token (no password to stretch), and cheap on
every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.api.models import ApiKey
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.errors import NotAllowed
from service.referrals.actors import Actor

# The rights a key may carry: those of the people who open and follow referrals.
KEY_ROLES = (Role.CASEWORKER, Role.COORDINATOR)
# Tokens start with a fixed word, so secret scanners and people recognize them.
TOKEN_START = "mlg_"  # noqa: S105 - a marker, not a secret
PREFIX_LENGTH = 12


@dataclass(frozen=True)
class NewKey:
    """A key just made: `token` is shown to the coordinator once and never stored."""

    key: ApiKey
    token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _may_manage(actor: Actor) -> bool:
    return actor.role == Role.COORDINATOR and actor.organization_id is not None


def create_key(session: Session, actor: Actor, *, name: str, role: str, clock: Clock = utcnow) -> NewKey:
    """A new key of the coordinator's organization, with `role`'s rights; audited ("api_key.created")."""
    if not _may_manage(actor) or role not in KEY_ROLES:
        raise NotAllowed("api_key.create", frozenset())
    token = TOKEN_START + secrets.token_urlsafe(32)
    now = clock()
    key = ApiKey(
        organization_id=actor.organization_id,
        name=name.strip()[:100],
        role=role,
        token_hash=token_hash(token),
        prefix=token[:PREFIX_LENGTH],
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(key)
    audit(session, "api_key.created", actor, now)
    session.commit()
    return NewKey(key, token)


def revoke_key(session: Session, actor: Actor, key_id: int, *, clock: Clock = utcnow) -> ApiKey:
    """Revoke one of the organization's keys at once; audited ("api_key.revoked"). Twice is a no-op."""
    key = session.get(ApiKey, key_id)
    if not _may_manage(actor) or key is None or key.organization_id != actor.organization_id:
        raise NotAllowed("api_key.revoke", frozenset())
    if key.revoked_at is None:
        now = clock()
        key.revoked_at = now
        key.revoked_by_id = actor.user_id
        audit(session, "api_key.revoked", actor, now)
        session.commit()
        _remembered.pop(key.token_hash, None)
    return key


def keys_of(session: Session, organization_id: int) -> list[ApiKey]:
    """The organization's keys, active ones first, newest first."""
    query = select(ApiKey).where(ApiKey.organization_id == organization_id)
    keys = list(session.scalars(query))
    return sorted(keys, key=lambda k: (not k.active, -k.created_at.timestamp(), -k.id))


# Built once, on the table: every API request runs it before anything else.
_KEYS = ApiKey.__table__
ACTIVE_KEY = select(_KEYS.c.id, _KEYS.c.organization_id, _KEYS.c.role).where(
    _KEYS.c.token_hash == bindparam("token_hash"), _KEYS.c.revoked_at.is_(None)
)


# How long this process trusts what it last read of an active key. A client sends the same key with
# every call, and reading it again each time was one database round trip in seven of an action
# (bench/api.py). Revoking a key forgets it in the revoking process at once; another web process
# may still accept it for at most this long.
KEY_MEMORY_SECONDS = 1.0
# Keys remembered at most: past this many the memory starts over (a flood of new keys cannot grow it).
MAX_REMEMBERED = 1024
_remembered: dict[str, tuple[float, Actor]] = {}


def actor_for(session: Session, token: str) -> Actor | None:
    """Who acts with this token: its organization with the key's role, or None for an unknown or revoked key.

    An API actor has no user: the event log says the organization's side acted, and the audit trail
    names the key (`Actor.api_key_id`). Only active keys are remembered (`KEY_MEMORY_SECONDS`): a key
    just made works at once.
    """
    if not token.startswith(TOKEN_START):
        return None
    digest = token_hash(token)
    now = time.monotonic()
    remembered = _remembered.get(digest)
    if remembered is not None and now - remembered[0] < KEY_MEMORY_SECONDS:
        return remembered[1]
    found = session.execute(ACTIVE_KEY, {"token_hash": digest}).one_or_none()
    if found is None:
        _remembered.pop(digest, None)
        return None
    actor = Actor(user_id=None, organization_id=found.organization_id, role=found.role, api_key_id=found.id)
    if len(_remembered) >= MAX_REMEMBERED:
        _remembered.clear()
    _remembered[digest] = (now, actor)
    return actor


def key_of(session: Session, token: str) -> ApiKey | None:
    """The key this token is, revoked or not: whose key a refused request presented (None: no one's)."""
    if not token.startswith(TOKEN_START):
        return None
    return session.scalar(select(ApiKey).where(ApiKey.token_hash == token_hash(token)))

"""Making, revoking and recognizing calendar feed addresses.

A person makes her own feed; a coordinator makes her organization's. The address carries a random
token of 256 bits, shown once, on the page that answers the form (she pastes it into her calendar
application then), never stored: we keep its SHA-256, like an API key's (`service.api.keys`), and
its first characters name it on the page. Revoking one makes its address answer 404 at once; so
does a person's feed once her account is closed.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.audit.operations import audit
from service.calendars.models import CalendarFeed
from service.clock import Clock
from service.clock import utcnow
from service.errors import NotAllowed
from service.referrals.actors import Actor

TOKEN_START = "cal_"  # noqa: S105 - a marker, not a secret
PREFIX_LENGTH = 10
# `token_urlsafe(32)` writes 43 characters after the marker; anything much longer is not one of ours.
LONGEST_TOKEN = 64


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _may_make(actor: Actor, for_organization: bool) -> bool:
    if actor.organization_id is None or actor.user_id is None:
        return False
    return actor.role == Role.COORDINATOR if for_organization else True


def create_feed(
    session: Session, actor: Actor, *, for_organization: bool, clock: Clock = utcnow
) -> tuple[CalendarFeed, str]:
    """A new feed (hers, or with `for_organization` her organization's) and its raw token. Commits;
    audited ("calendar_feed.created"). Her earlier active feed of the same kind goes on working:
    she revokes it herself, once her calendar application reads the new one."""
    if not _may_make(actor, for_organization):
        raise NotAllowed("calendar_feed.create", frozenset())
    token = TOKEN_START + secrets.token_urlsafe(32)
    now = clock()
    feed = CalendarFeed(
        organization_id=actor.organization_id,
        user_id=None if for_organization else actor.user_id,
        token_hash=token_hash(token),
        prefix=token[:PREFIX_LENGTH],
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(feed)
    audit(session, "calendar_feed.created", actor, now)
    session.commit()
    return feed, token


def _may_revoke(actor: Actor, feed: CalendarFeed) -> bool:
    if feed.organization_id != actor.organization_id or actor.organization_id is None:
        return False
    if feed.user_id is None:
        return actor.role == Role.COORDINATOR
    return feed.user_id == actor.user_id


def revoke_feed(session: Session, actor: Actor, feed_id: int, *, clock: Clock = utcnow) -> CalendarFeed:
    """Revoke a feed: hers, or her organization's for a coordinator. Audited; twice is a no-op.
    NotAllowed for anyone else's (a page answers 404)."""
    feed = session.get(CalendarFeed, feed_id)
    if feed is None or not _may_revoke(actor, feed):
        raise NotAllowed("calendar_feed.revoke", frozenset())
    if feed.revoked_at is None:
        now = clock()
        feed.revoked_at = now
        feed.revoked_by_id = actor.user_id
        audit(session, "calendar_feed.revoked", actor, now)
        session.commit()
    return feed


def feeds_of(session: Session, actor: Actor) -> tuple[list[CalendarFeed], list[CalendarFeed]]:
    """(her own feeds, her organization's feeds), active ones first, newest first. The second list is
    empty for anyone but a coordinator."""
    if actor.organization_id is None or actor.user_id is None:
        return [], []
    rows = list(
        session.scalars(
            select(CalendarFeed).where(
                CalendarFeed.organization_id == actor.organization_id,
                (CalendarFeed.user_id == actor.user_id) | CalendarFeed.user_id.is_(None),
            )
        )
    )
    rows.sort(key=lambda f: (not f.active, -f.created_at.timestamp(), -f.id))
    own = [f for f in rows if f.user_id == actor.user_id]
    organization = [f for f in rows if f.user_id is None] if actor.role == Role.COORDINATOR else []
    return own, organization


def active_feed(session: Session, token: str) -> tuple[CalendarFeed, User | None] | None:
    """The active feed behind `token` and its person (None for an organization's), or None: unknown,
    mistyped, revoked, or a person's whose account is closed or no longer of that organization."""
    if not token.startswith(TOKEN_START) or len(token) > LONGEST_TOKEN:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == token_hash(token)))
    if feed is None or not feed.active:
        return None
    if feed.user_id is None:
        return feed, None
    person = session.get(User, feed.user_id)
    if person is None or not person.active or person.organization_id != feed.organization_id:
        return None
    return feed, person

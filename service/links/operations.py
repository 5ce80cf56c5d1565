"""Signed links: issuing them, resolving them, and answering a referral through one.

A link is the only key a partner without an account has, so it is a random
token of 256 bits of which we keep only the SHA-256 hash. It serves one
referral, one organization (the receiving one) and one purpose, and it
expires. Opening the page a link leads to never changes the referral, and
shows nothing of her until a person asks: mail scanners open links and keep
the pages. Every use, opening, reading her details or acting, is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.config import settings
from service.directory.models import Organization
from service.errors import NotAllowed
from service.errors import ReferralError
from service.links.models import SignedLink
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import read_person
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

RESPOND = "respond"
# The party a link holder stands for: she may do what the receiving organization may, no more.
LINK_PARTY = "receiver"


class LinkError(ReferralError):
    """A signed link that cannot be used; the page says so without saying why in detail."""


class LinkInvalid(LinkError):
    """Unknown, revoked, or no longer tied to a referral its organization receives."""

    def __init__(self) -> None:
        super().__init__("this link is not valid")


class LinkExpired(LinkError):
    """A genuine link past its date: the page may say whom to contact instead."""

    def __init__(self, sender_organization_id: int) -> None:
        self.sender_organization_id = sender_organization_id
        super().__init__("this link has expired")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(
    session: Session,
    referral_id: int,
    organization_id: int,
    *,
    clock: Clock = utcnow,
    valid_for: timedelta | None = None,
) -> str:
    """A new link for the receiving organization to answer the referral; returns the raw token.

    Only the token's hash is stored: the raw token exists in the email and nowhere else.
    """
    try:
        token = add_link(session, referral_id, organization_id, now=clock(), valid_for=valid_for).token
    except NotAllowed:
        session.rollback()
        raise
    session.commit()
    return token


@dataclass(frozen=True)
class IssuedLink:
    token: str
    expires_at: datetime


def new_link_token(now: datetime, valid_for: timedelta | None = None) -> tuple[str, datetime]:
    """A signed link's secret token and the moment it expires (`MAILLAGE_SIGNED_LINK_DAYS` by default),
    for any link an organization without an account acts through; only its hash is stored."""
    return secrets.token_urlsafe(32), now + (valid_for or timedelta(days=settings().signed_link_days))


def add_link(
    session: Session,
    referral_id: int,
    organization_id: int,
    *,
    now: datetime,
    valid_for: timedelta | None = None,
) -> IssuedLink:
    """`issue_link` inside the caller's transaction: the caller commits it with its own rows.

    The worker commits a link before sending the email that carries it: a crash
    after the mail server took the email must not leave it with a link that was
    never stored. A link whose email is then not sent is harmless: nobody holds its token.
    """
    referral = session.get(Referral, referral_id)
    if referral is None or referral.receiver_organization_id != organization_id:
        raise NotAllowed("issue_link", frozenset())
    token, expires_at = new_link_token(now, valid_for)
    session.add(
        SignedLink(
            token_hash=token_hash(token),
            referral_id=referral_id,
            organization_id=organization_id,
            purpose=RESPOND,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedLink(token, expires_at)


def resolve_link(
    session: Session, token: str, *, clock: Clock = utcnow, purpose: str = RESPOND, lock: bool = False
) -> SignedLink:
    """The usable link behind `token`, or `LinkInvalid` / `LinkExpired`. Changes nothing.

    `lock`: for a transaction that writes on the link's behalf (its last use, an audit entry,
    an action). The link's row is then locked first, before anything of its referral, so that
    every use of one link takes its locks in one order: link, then referral. Taken the other
    way round (an audit entry's key on the referral, then the link's row), twenty presses of
    one button deadlocked. The lock leaves the link's key alone (FOR NO KEY UPDATE): audit
    entries naming the link may still be written beside it.
    """
    query = select(SignedLink).where(SignedLink.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    link = session.scalar(query)
    now = clock()
    if link is None or link.purpose != purpose or (link.revoked_at is not None and link.revoked_at <= now):
        raise LinkInvalid()
    referral = session.get(Referral, link.referral_id)
    if referral is None or referral.receiver_organization_id != link.organization_id:
        raise LinkInvalid()
    if link.expires_at <= now:
        raise LinkExpired(referral.sender_organization_id)
    return link


LOCK_LINK = (
    select(SignedLink)
    .where(SignedLink.id == bindparam("link_id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def revoke_link(session: Session, link_id: int, *, clock: Clock = utcnow) -> None:
    """End a link before its date (e.g. it was sent to the wrong address)."""
    link = session.get(SignedLink, link_id)
    if link is not None and link.revoked_at is None:
        link.revoked_at = clock()
        session.commit()


def link_holder(link: SignedLink) -> Actor:
    """Whoever holds the link acts for its organization as a partner contact without an account."""
    return Actor(user_id=None, organization_id=link.organization_id, role=Role.PARTNER_CONTACT)


@dataclass(frozen=True)
class LinkPage:
    """What the page of a signed link shows; `person` and `consent` only while she is being helped.

    `shows_person`: her details may be shown (there is something to do for her, under a valid
    consent); `person` is set only once they were asked for (`open_link(..., with_person=True)`).
    """

    link: SignedLink
    referral: Referral
    protocol: Protocol
    sender: Organization
    receiver: Organization
    actions: list[Transition]
    person: PersonDetails | None
    consent: Consent | None
    shows_person: bool
    sent_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.protocol.is_terminal(self.referral.state)


def open_link(
    session: Session,
    protocols: ProtocolLibrary,
    token: str,
    *,
    with_person: bool = False,
    clock: Clock = utcnow,
) -> LinkPage:
    """Everything the link's page shows, with the use audited. Never acts.

    Her details only `with_person`, which a person asks for by pressing a button (a POST):
    mail scanners open links and keep what they fetch, so a plain opening reads nothing of
    hers. That read is audited ("person.read", naming the link), as any other.
    """
    link = resolve_link(session, token, clock=clock, lock=True)
    now = clock()
    page = _page(session, protocols, link, now)
    holder = link_holder(link)
    link.last_used_at = now
    audit(session, "link.opened", holder, now, referral_id=link.referral_id, signed_link_id=link.id)
    session.commit()
    if with_person and page.shows_person:
        person = read_person(session, link.referral_id, holder, signed_link_id=link.id, clock=clock)
        page = replace(page, person=person)
    return page


def link_actions(
    session: Session, protocols: ProtocolLibrary, token: str, *, clock: Clock = utcnow
) -> LinkPage:
    """The page's referral and actions without her personal data, for checking a submitted form."""
    link = resolve_link(session, token, clock=clock)
    return _page(session, protocols, link, clock())


def act_through_link(
    session: Session,
    protocols: ProtocolLibrary,
    token: str,
    trigger: str,
    *,
    expected_version: int,
    reason: str | None = None,
    comment: str | None = None,
    target_organization_id: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Fire `trigger` as the link's holder, on the version of the referral she saw.

    The audit entry commits with the change; a refused attempt is audited on its own. Presses of
    one link's buttons at once take their turns on the link's row (`resolve_link`'s lock): the
    first one acts, the next ones find the referral changed (`ConcurrentUpdate`) and are audited
    as refused.
    """
    link = resolve_link(session, token, clock=clock, lock=True)
    link_id, referral_id = link.id, link.referral_id
    holder = link_holder(link)
    now = clock()
    try:
        link.last_used_at = now
        audit(session, "link.acted", holder, now, referral_id=referral_id, signed_link_id=link_id)
        return fire(
            session,
            protocols,
            referral_id,
            trigger,
            holder,
            reason=reason,
            comment=comment,
            target_organization_id=target_organization_id,
            expected_version=expected_version,
            clock=clock,
        )
    except ReferralError:
        session.rollback()
        # The link's row first again: this entry takes a key lock on the referral, which another
        # press, holding the link and waiting for the referral's row, would otherwise wait on.
        link = session.scalar(LOCK_LINK, {"link_id": link_id})
        if link is not None:
            link.last_used_at = now
        audit(session, "link.refused", holder, now, referral_id=referral_id, signed_link_id=link_id)
        session.commit()
        raise


def _page(session: Session, protocols: ProtocolLibrary, link: SignedLink, now: datetime) -> LinkPage:
    referral = session.get_one(Referral, link.referral_id)
    protocol = protocols.get(referral.protocol_name, referral.protocol_version)
    # Her data is shown only while there is something to do for her, under a consent still valid.
    active = not protocol.is_terminal(referral.state) and referral.state != protocol.initial
    consent = _valid_consent(referral, now)
    actions = protocol.available(referral.state, frozenset({LINK_PARTY})) if active else []
    return LinkPage(
        link=link,
        referral=referral,
        protocol=protocol,
        sender=session.get_one(Organization, referral.sender_organization_id),
        receiver=session.get_one(Organization, referral.receiver_organization_id),
        actions=actions,
        person=None,
        consent=consent,
        shows_person=active and consent is not None,
        sent_at=referral.sent_at,
    )


def _valid_consent(referral: Referral, now: datetime) -> Consent | None:
    valid = [c for c in referral.consents if c.is_valid(now)]
    return valid[-1] if valid else None

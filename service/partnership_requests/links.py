"""Signed links for requests between organizations: how a partner without an account answers one.

The same scheme as a referral's signed links (`service.links`): a random token of 256 bits of
which only the SHA-256 hash is kept, for one request and its answering organization, which expires.
Opening the page never acts (mail scanners open links); only a person's POST does, on the version
of the request she saw. A request carries no woman's data, so there is nothing more to hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.errors import NotAllowed
from service.errors import ReferralError
from service.links.operations import IssuedLink
from service.links.operations import LinkExpired
from service.links.operations import LinkInvalid
from service.links.operations import new_link_token
from service.links.operations import token_hash
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import RequestLink
from service.partnership_requests.operations import fire
from service.partnership_requests.operations import request_protocol
from service.referrals.actors import Actor
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

__all__ = [
    "LinkExpired",
    "LinkInvalid",
    "RequestLinkPage",
    "act_through_request_link",
    "add_request_link",
    "issue_request_link",
    "open_request_link",
    "request_link_actions",
    "revoke_request_link",
]
# The party a link holder stands for: she may do what the answering organization may, no more.
LINK_PARTY = "answering"


def add_request_link(
    session: Session,
    request_id: int,
    organization_id: int,
    *,
    now: datetime,
    valid_for: timedelta | None = None,
) -> IssuedLink:
    """A new link for the answering organization, in the caller's transaction (the caller commits)."""
    request = session.get(PartnershipRequest, request_id)
    if request is None or request.answering_organization_id != organization_id:
        raise NotAllowed("issue_link", frozenset())
    token, expires_at = new_link_token(now, valid_for)
    session.add(
        RequestLink(
            token_hash=token_hash(token),
            partnership_request_id=request_id,
            organization_id=organization_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedLink(token, expires_at)


def issue_request_link(
    session: Session,
    request_id: int,
    organization_id: int,
    *,
    clock: Clock = utcnow,
    valid_for: timedelta | None = None,
) -> str:
    """A new link for the answering organization to answer the request; commits; returns the raw token."""
    try:
        token = add_request_link(session, request_id, organization_id, now=clock(), valid_for=valid_for).token
    except NotAllowed:
        session.rollback()
        raise
    session.commit()
    return token


def resolve_request_link(
    session: Session, token: str, *, clock: Clock = utcnow, lock: bool = False
) -> RequestLink:
    """The usable link behind `token`, or `LinkInvalid` / `LinkExpired`. Changes nothing.

    `lock`: for a transaction that writes on the link's behalf; the link's row is locked first,
    before its request's, in one order for every use of one link (see `service.links`).
    """
    query = select(RequestLink).where(RequestLink.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    link = session.scalar(query)
    now = clock()
    if link is None or (link.revoked_at is not None and link.revoked_at <= now):
        raise LinkInvalid()
    request = session.get(PartnershipRequest, link.partnership_request_id)
    if request is None or request.answering_organization_id != link.organization_id:
        raise LinkInvalid()
    if link.expires_at <= now:
        raise LinkExpired(request.asking_organization_id)
    return link


def revoke_request_link(session: Session, link_id: int, *, clock: Clock = utcnow) -> None:
    """End a link before its date (e.g. it was sent to the wrong address); commits."""
    link = session.get(RequestLink, link_id)
    if link is not None and link.revoked_at is None:
        link.revoked_at = clock()
        session.commit()


def link_holder(link: RequestLink) -> Actor:
    """Whoever holds the link acts for its organization as a partner contact without an account."""
    return Actor(user_id=None, organization_id=link.organization_id, role=Role.PARTNER_CONTACT)


@dataclass(frozen=True)
class RequestLinkPage:
    """What the page of a request's signed link shows."""

    link: RequestLink
    request: PartnershipRequest
    protocol: Protocol
    asking: Organization
    answering: Organization
    actions: list[Transition]

    @property
    def finished(self) -> bool:
        return self.protocol.is_terminal(self.request.state)


def open_request_link(
    session: Session, protocols: ProtocolLibrary, token: str, *, clock: Clock = utcnow
) -> RequestLinkPage:
    """Everything the link's page shows, with the use audited ("link.opened"). Never acts."""
    link = resolve_request_link(session, token, clock=clock, lock=True)
    now = clock()
    page = _page(session, protocols, link)
    link.last_used_at = now
    audit(session, "link.opened", link_holder(link), now)
    session.commit()
    return page


def request_link_actions(
    session: Session, protocols: ProtocolLibrary, token: str, *, clock: Clock = utcnow
) -> RequestLinkPage:
    """The page's request and actions, for checking a submitted form; changes nothing."""
    return _page(session, protocols, resolve_request_link(session, token, clock=clock))


def act_through_request_link(
    session: Session,
    protocols: ProtocolLibrary,
    token: str,
    trigger: str,
    *,
    expected_version: int,
    fields: Mapping[str, Any] | None = None,
    reason: str | None = None,
    comment: str | None = None,
    clock: Clock = utcnow,
) -> PartnershipRequest:
    """Fire `trigger` as the link's holder, on the version of the request she saw.

    The audit entry ("link.acted") commits with the change; a refused attempt is audited on its own
    ("link.refused") and its error raised again for the page to say.
    """
    link = resolve_request_link(session, token, clock=clock, lock=True)
    link_id, request_id = link.id, link.partnership_request_id
    holder = link_holder(link)
    now = clock()
    try:
        link.last_used_at = now
        audit(session, "link.acted", holder, now)
        return fire(
            session,
            protocols,
            request_id,
            trigger,
            holder,
            fields=fields,
            reason=reason,
            comment=comment,
            expected_version=expected_version,
            clock=clock,
        )
    except ReferralError:
        session.rollback()
        link = session.get(RequestLink, link_id)
        if link is not None:
            link.last_used_at = now
        audit(session, "link.refused", holder, now)
        session.commit()
        raise


def _page(session: Session, protocols: ProtocolLibrary, link: RequestLink) -> RequestLinkPage:
    request = session.get_one(PartnershipRequest, link.partnership_request_id)
    protocol = request_protocol(protocols, request.protocol_name, request.protocol_version)
    return RequestLinkPage(
        link=link,
        request=request,
        protocol=protocol,
        asking=session.get_one(Organization, request.asking_organization_id),
        answering=session.get_one(Organization, request.answering_organization_id),
        actions=protocol.available(request.state, frozenset({LINK_PARTY})),
    )

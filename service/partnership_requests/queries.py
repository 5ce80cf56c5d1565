"""Reading requests between organizations: each organization sees only those it is a party to.

A request is its two organizations' business: anyone else, the regional admin included, is told
there is no such request (`RequestNotFound`, a 404 on pages), as for a referral.
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Organization
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.operations import RequestNotFound
from service.partnership_requests.operations import parties_of
from service.referrals.actors import Actor
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

__all__ = [
    "RequestNotFound",
    "events_of",
    "get_mobilization",
    "get_request",
    "invitations_of",
    "joined_organizations",
    "open_states",
    "requests_of",
    "triggers_for",
]

JOINED = "joined"


def get_request(session: Session, request_id: int, actor: Actor) -> PartnershipRequest:
    """The request, for one of its two organizations; `RequestNotFound` for anyone else."""
    request = session.get(PartnershipRequest, request_id)
    if request is None or not parties_of(actor, request) - {"system"}:
        raise RequestNotFound(request_id)
    return request


def events_of(session: Session, request: PartnershipRequest) -> list[PartnershipRequestEvent]:
    """The request's journal, oldest first."""
    return list(
        session.scalars(
            select(PartnershipRequestEvent)
            .where(PartnershipRequestEvent.partnership_request_id == request.id)
            .order_by(PartnershipRequestEvent.seq)
        )
    )


def open_states(protocols: ProtocolLibrary) -> set[tuple[str, int, str]]:
    """(protocol, version, state) of every state of a request protocol that is not terminal."""
    return {
        (protocol.name, protocol.version, state)
        for protocol in protocols
        if protocol.subject == "partnership_request"
        for state, spec in protocol.states.items()
        if not spec.terminal
    }


def requests_of(
    session: Session,
    organization_id: int,
    *,
    protocols: ProtocolLibrary | None = None,
    open_only: bool = False,
    limit: int = 50,
    before: int | None = None,
) -> list[PartnershipRequest]:
    """The organization's requests, asked or answered, newest first; `before` an id pages on.

    `open_only` (with `protocols`) leaves out those that ended.
    """
    query = select(PartnershipRequest).where(
        or_(
            PartnershipRequest.asking_organization_id == organization_id,
            PartnershipRequest.answering_organization_id == organization_id,
        )
    )
    if before is not None:
        query = query.where(PartnershipRequest.id < before)
    query = query.order_by(PartnershipRequest.id.desc())
    if not open_only:
        return list(session.scalars(query.limit(limit)))
    rows = list(session.scalars(query))
    if open_only:
        if protocols is None:
            raise ValueError("open_only needs the protocols, to know which states are terminal")
        still = open_states(protocols)
        rows = [r for r in rows if (r.protocol_name, r.protocol_version, r.state) in still]
    return rows[:limit]


def triggers_for(protocol: Protocol, request: PartnershipRequest, actor: Actor) -> list[Transition]:
    """The transitions the actor may fire on the request now, in file order (one per trigger)."""
    parties = parties_of(actor, request) - {"system"}
    seen: set[str] = set()
    found = []
    for transition in protocol.available(request.state, parties):
        if transition.trigger not in seen:
            seen.add(transition.trigger)
            found.append(transition)
    return found


def get_mobilization(session: Session, mobilization_id: int, actor: Actor) -> Mobilization:
    """The mobilization, for the organization that proposed it or one it invited; else `RequestNotFound`."""
    mobilization = session.get(Mobilization, mobilization_id)
    if mobilization is None or actor.organization_id is None:
        raise RequestNotFound(mobilization_id)
    if actor.organization_id != mobilization.organization_id:
        invited = session.scalar(
            select(PartnershipRequest.id).where(
                PartnershipRequest.mobilization_id == mobilization_id,
                PartnershipRequest.answering_organization_id == actor.organization_id,
            )
        )
        if invited is None:
            raise RequestNotFound(mobilization_id)
    return mobilization


def invitations_of(session: Session, mobilization_id: int) -> list[tuple[PartnershipRequest, Organization]]:
    """Each invitation of the mobilization with its invited organization, by the organization's name."""
    return [
        (request, organization)
        for request, organization in session.execute(
            select(PartnershipRequest, Organization)
            .join(Organization, Organization.id == PartnershipRequest.answering_organization_id)
            .where(PartnershipRequest.mobilization_id == mobilization_id)
            .order_by(Organization.name)
        ).all()
    ]


def joined_organizations(session: Session, mobilization_id: int) -> list[Organization]:
    """The organizations that joined the mobilization, by name."""
    return [
        organization
        for request, organization in invitations_of(session, mobilization_id)
        if request.state == JOINED
    ]

"""The operations that change the directory: organizations and their services,
partnerships, their traces and their referral agreements.

Each one checks who may do it, commits once, or raises and changes nothing.
Pages come through here; none of them writes these rows by any other road.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import NoReturn

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.clock import Clock
from service.clock import utcnow
from service.directory.agreements import partnership_between
from service.directory.errors import DirectoryNotAllowed
from service.directory.errors import DirectoryNotFound
from service.directory.errors import RuleBroken
from service.directory.models import PARTNERSHIP_KINDS
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.referrals.actors import Actor
from workflows.durations import TIME_ZONE
from workflows.errors import ParameterError
from workflows.loader import ProtocolLibrary

CAPACITY_STATUSES = ("open", "waitlist", "full")
NOTE_KINDS = ("note", "meeting", "review", "presentation")
REFERRAL_PROTOCOL = "referral_protocol"


@dataclass(frozen=True)
class OrganizationDetails:
    """What the directory says about an organization."""

    name: str
    kind: str = ""
    mandate: str = ""
    territory: str = ""
    clienteles: str = ""
    languages: tuple[str, ...] = ()
    accessibility: str = ""
    hours: str = ""
    phone: str = ""
    referral_email: str = ""
    capacity_status: str | None = None
    public_address: str = ""
    address_confidential: bool = False
    what_to_bring: str = ""  # one item a line


@dataclass(frozen=True)
class ServiceDetails:
    """A service (*offre de service*) and the needs it covers."""

    name: str
    description: str = ""
    need_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnershipTerms:
    """What two organizations do together; `contacts` maps each organization's id to its contact."""

    kinds: tuple[str, ...]
    formal: bool = False
    description: str = ""
    contacts: Mapping[int, str] = field(default_factory=dict)
    review_every_months: int = 12
    started_on: date | None = None
    active: bool = True


@dataclass(frozen=True)
class AgreementTerms:
    """One proposed version of a referral agreement; `contacts` maps organization id to contact."""

    protocol_name: str
    effective_on: date
    urgent_protocol_name: str = "urgent"
    parameters: Mapping[str, str] = field(default_factory=dict)
    contacts: Mapping[int, str] = field(default_factory=dict)
    information_needed: str = ""


# Who may do what -------------------------------------------------------------


def is_side(actor: Actor, partnership: Partnership) -> bool:
    """Whether the actor works at one of the partnership's two organizations."""
    return actor.organization_id is not None and actor.organization_id in (
        partnership.first_organization_id,
        partnership.second_organization_id,
    )


def may_create_organization(actor: Actor) -> bool:
    return actor.role == Role.REGIONAL_ADMIN


def may_edit_organization(actor: Actor, organization_id: int) -> bool:
    """The regional admin edits any organization; a coordinator edits her own."""
    if actor.role == Role.REGIONAL_ADMIN:
        return True
    return actor.role == Role.COORDINATOR and actor.organization_id == organization_id


def may_create_partnership(actor: Actor, organization_ids: Iterable[int] = ()) -> bool:
    """The regional admin, or a coordinator of one of the two organizations (when they are known)."""
    if actor.role == Role.REGIONAL_ADMIN:
        return True
    if actor.role != Role.COORDINATOR or actor.organization_id is None:
        return False
    ids = set(organization_ids)
    return not ids or actor.organization_id in ids


def may_edit_partnership(actor: Actor, partnership: Partnership) -> bool:
    return actor.role == Role.REGIONAL_ADMIN or (
        actor.role == Role.COORDINATOR and is_side(actor, partnership)
    )


def may_read_notes(actor: Actor, partnership: Partnership) -> bool:
    """Traces are the two organizations' working memory; the regional table reads them for reviews."""
    return actor.role == Role.REGIONAL_ADMIN or is_side(actor, partnership)


def may_add_note(actor: Actor, partnership: Partnership) -> bool:
    return actor.role in (Role.CASEWORKER, Role.COORDINATOR) and is_side(actor, partnership)


def may_propose_agreement(actor: Actor, partnership: Partnership) -> bool:
    return actor.role == Role.COORDINATOR and is_side(actor, partnership)


def may_confirm_agreement(actor: Actor, partnership: Partnership, agreement: ReferralAgreement) -> bool:
    """Only the other side's coordinator confirms, and only a version not confirmed yet."""
    return (
        may_propose_agreement(actor, partnership)
        and agreement.confirmed_at is None
        and actor.organization_id != agreement.proposed_by_organization_id
    )


# Organizations and services ----------------------------------------------------


def create_organization(
    session: Session, actor: Actor, details: OrganizationDetails, *, clock: Clock = utcnow
) -> Organization:
    """Add an organization to the directory (the regional admin only)."""
    organization = add_organization(session, actor, details, clock=clock)
    _commit(session, "name_taken")
    return organization


def add_organization(
    session: Session, actor: Actor, details: OrganizationDetails, *, clock: Clock = utcnow
) -> Organization:
    """`create_organization` within the caller's transaction, which commits it (a request to join,
    accepted, creates the organization and invites its coordinator in one commit)."""
    if not may_create_organization(actor):
        _refuse(session, DirectoryNotAllowed("create_organization"))
    _check_name_free(session, details.name, None)
    organization = Organization(created_at=clock())
    set_details(organization, details)
    session.add(organization)
    session.flush()
    return organization


def update_organization(
    session: Session,
    actor: Actor,
    organization_id: int,
    details: OrganizationDetails,
    *,
    clock: Clock = utcnow,
) -> Organization:
    """Change what the directory says about an organization, capacity status included."""
    organization = _organization(session, organization_id)
    if not may_edit_organization(actor, organization.id):
        _refuse(session, DirectoryNotAllowed("edit_organization"))
    _check_name_free(session, details.name, organization.id)
    set_details(organization, details)
    _commit(session, "name_taken")
    return organization


def add_service(
    session: Session, actor: Actor, organization_id: int, details: ServiceDetails, *, clock: Clock = utcnow
) -> Service:
    organization = _organization(session, organization_id)
    if not may_edit_organization(actor, organization.id):
        _refuse(session, DirectoryNotAllowed("edit_organization"))
    service = Service(organization_id=organization.id)
    set_service(session, service, details)
    session.add(service)
    session.commit()
    return service


def update_service(
    session: Session, actor: Actor, service_id: int, details: ServiceDetails, *, clock: Clock = utcnow
) -> Service:
    service = _service(session, service_id)
    if not may_edit_organization(actor, service.organization_id):
        _refuse(session, DirectoryNotAllowed("edit_organization"))
    set_service(session, service, details)
    session.commit()
    return service


def remove_service(session: Session, actor: Actor, service_id: int, *, clock: Clock = utcnow) -> None:
    service = _service(session, service_id)
    if not may_edit_organization(actor, service.organization_id):
        _refuse(session, DirectoryNotAllowed("edit_organization"))
    session.delete(service)
    session.commit()


# What every write of an organization or a service goes through, the HSDS import's too --------


def organization_named(session: Session, name: str, *, other_than: int | None = None) -> Organization | None:
    """The organization named `name`, case and surrounding spaces aside: the way names are unique."""
    query = select(Organization).where(func.lower(Organization.name) == name.strip().lower())
    if other_than is not None:
        query = query.where(Organization.id != other_than)
    return session.scalar(query.limit(1))


def set_details(organization: Organization, details: OrganizationDetails) -> None:
    """Write `details` on the organization, trimmed; the caller checked its name is free, and commits."""
    if details.capacity_status not in (None, *CAPACITY_STATUSES):
        raise ValueError(f"unknown capacity status {details.capacity_status!r}")
    organization.name = details.name.strip()
    organization.kind = details.kind.strip()
    organization.mandate = details.mandate.strip()
    organization.territory = details.territory.strip()
    organization.clienteles = details.clienteles.strip()
    organization.languages = [language.strip() for language in details.languages if language.strip()]
    organization.accessibility = details.accessibility.strip()
    organization.hours = details.hours.strip()
    organization.phone = details.phone.strip()
    organization.referral_email = details.referral_email.strip()
    organization.capacity_status = details.capacity_status
    organization.address_confidential = details.address_confidential
    # A confidential address is not kept at all: nothing can then show it by mistake.
    organization.public_address = "" if details.address_confidential else details.public_address.strip()
    organization.what_to_bring = "\n".join(
        line.strip() for line in details.what_to_bring.splitlines() if line.strip()
    )


def set_service(session: Session, service: Service, details: ServiceDetails) -> None:
    """Write `details` on the service, trimmed, with the needs of those codes the taxonomy has."""
    service.name = details.name.strip()
    service.description = details.description.strip()
    codes = set(details.need_codes)
    service.needs = list(session.scalars(select(Need).where(Need.code.in_(codes)))) if codes else []


# Partnerships and their traces ---------------------------------------------------


def create_partnership(
    session: Session,
    actor: Actor,
    organization_id: int,
    partner_id: int,
    terms: PartnershipTerms,
    *,
    clock: Clock = utcnow,
) -> Partnership:
    """Record a partnership between two organizations, stored once per pair, in id order."""
    if organization_id == partner_id:
        raise RuleBroken("same_organization")
    # Locking both organizations (in id order) makes two people recording the same pair take turns.
    low, high = sorted((organization_id, partner_id))
    for organization_id_ in (low, high):
        _organization(session, organization_id_, lock=True)
    if not may_create_partnership(actor, (low, high)):
        _refuse(session, DirectoryNotAllowed("create_partnership"))
    if partnership_between(session, low, high) is not None:
        _refuse(session, RuleBroken("already_partners"))
    partnership = Partnership(first_organization_id=low, second_organization_id=high, created_at=clock())
    _set_terms(partnership, terms)
    session.add(partnership)
    session.commit()
    return partnership


def update_partnership(
    session: Session, actor: Actor, partnership_id: int, terms: PartnershipTerms, *, clock: Clock = utcnow
) -> Partnership:
    """Change a partnership's terms; one with a referral agreement keeps the kind "referral protocols"."""
    partnership = _partnership(session, partnership_id, lock=True)
    if not may_edit_partnership(actor, partnership):
        _refuse(session, DirectoryNotAllowed("edit_partnership"))
    if REFERRAL_PROTOCOL not in terms.kinds and _has_agreement(session, partnership.id):
        _refuse(session, RuleBroken("kind_needed_by_agreement"))
    _set_terms(partnership, terms)
    session.commit()
    return partnership


def add_partnership_note(
    session: Session, actor: Actor, partnership_id: int, *, kind: str, text: str, clock: Clock = utcnow
) -> PartnershipNote:
    """Add a trace (note, meeting, review, presentation) signed by the actor and her organization."""
    partnership = _partnership(session, partnership_id)
    if not may_add_note(actor, partnership):
        _refuse(session, DirectoryNotAllowed("add_note"))
    if kind not in NOTE_KINDS:
        _refuse(session, RuleBroken("unknown_note_kind"))
    if not text.strip():
        _refuse(session, RuleBroken("empty_note"))
    note = PartnershipNote(
        partnership_id=partnership.id,
        author_id=actor.user_id,
        organization_id=actor.organization_id,
        kind=kind,
        at=clock(),
        text=text.strip(),
    )
    session.add(note)
    session.commit()
    return note


# Referral agreements ---------------------------------------------------------------


def propose_agreement(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    partnership_id: int,
    terms: AgreementTerms,
    *,
    clock: Clock = utcnow,
) -> ReferralAgreement:
    """Propose the next version of a partnership's referral agreement, for the other side to confirm.

    The version is the highest so far plus one, unconfirmed: it applies once the
    other organization's coordinator confirms it and its date comes. Parameter
    values are checked against the protocol's bounds and stored complete, with
    the protocol's defaults for those not given (a `ParameterError` says which
    one is wrong). A partnership whose kinds lacked "referral protocols" gains
    that kind: agreeing on a referral protocol is what that kind means.
    """
    partnership = _partnership(session, partnership_id, lock=True)
    if not may_propose_agreement(actor, partnership):
        _refuse(session, DirectoryNotAllowed("propose_agreement"))
    if not partnership.active:
        _refuse(session, RuleBroken("partnership_inactive"))
    if terms.effective_on < clock().astimezone(TIME_ZONE).date():
        _refuse(session, RuleBroken("effective_in_past"))
    try:
        protocol = protocols.get(terms.protocol_name)
        protocols.get(terms.urgent_protocol_name)
        parameters = protocol.resolve_parameters(terms.parameters)
    except (LookupError, ParameterError):
        session.rollback()
        raise
    newest = session.scalar(
        select(func.max(ReferralAgreement.version)).where(ReferralAgreement.partnership_id == partnership.id)
    )
    agreement = ReferralAgreement(
        partnership_id=partnership.id,
        version=(newest or 0) + 1,
        protocol_name=protocol.name,
        urgent_protocol_name=terms.urgent_protocol_name,
        parameters=parameters,
        first_contact=(terms.contacts.get(partnership.first_organization_id) or "").strip(),
        second_contact=(terms.contacts.get(partnership.second_organization_id) or "").strip(),
        information_needed=terms.information_needed.strip(),
        effective_on=terms.effective_on,
        proposed_by_id=actor.user_id,
        proposed_by_organization_id=actor.organization_id,
        proposed_at=clock(),
    )
    session.add(agreement)
    if REFERRAL_PROTOCOL not in partnership.kinds:
        partnership.kinds = _known_kinds([*partnership.kinds, REFERRAL_PROTOCOL])
    _commit(session, "changed_meanwhile")
    return agreement


def confirm_agreement(
    session: Session, actor: Actor, partnership_id: int, version: int, *, clock: Clock = utcnow
) -> ReferralAgreement:
    """The other side's coordinator confirms the newest proposed version; once confirmed it never changes."""
    partnership = _partnership(session, partnership_id, lock=True)
    agreement = session.scalar(
        select(ReferralAgreement).where(
            ReferralAgreement.partnership_id == partnership.id, ReferralAgreement.version == version
        )
    )
    if agreement is None:
        session.rollback()
        raise DirectoryNotFound("agreement", (partnership_id, version))
    if not may_propose_agreement(actor, partnership):
        _refuse(session, DirectoryNotAllowed("confirm_agreement"))
    if agreement.confirmed_at is not None:
        _refuse(session, RuleBroken("already_confirmed"))
    if actor.organization_id == agreement.proposed_by_organization_id:
        _refuse(session, RuleBroken("own_proposal"))
    newest = session.scalar(
        select(func.max(ReferralAgreement.version)).where(ReferralAgreement.partnership_id == partnership.id)
    )
    if agreement.version != newest:
        _refuse(session, RuleBroken("not_newest"))
    if not partnership.active:
        _refuse(session, RuleBroken("partnership_inactive"))
    agreement.confirmed_by_id = actor.user_id
    agreement.confirmed_at = clock()
    session.commit()
    return agreement


# Helpers ---------------------------------------------------------------------------


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error


def _commit(session: Session, rule: str) -> None:
    """Commit; a unique constraint that fails means someone else got there first."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise RuleBroken(rule) from None


def _organization(session: Session, organization_id: int, *, lock: bool = False) -> Organization:
    query = select(Organization).where(Organization.id == organization_id)
    organization = session.scalar(query.with_for_update() if lock else query)
    if organization is None:
        session.rollback()
        raise DirectoryNotFound("organization", organization_id)
    return organization


def _service(session: Session, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        session.rollback()
        raise DirectoryNotFound("service", service_id)
    return service


def _partnership(session: Session, partnership_id: int, *, lock: bool = False) -> Partnership:
    query = select(Partnership).where(Partnership.id == partnership_id)
    partnership = session.scalar(query.with_for_update() if lock else query)
    if partnership is None:
        session.rollback()
        raise DirectoryNotFound("partnership", partnership_id)
    return partnership


def _has_agreement(session: Session, partnership_id: int) -> bool:
    query = select(ReferralAgreement.id).where(ReferralAgreement.partnership_id == partnership_id).limit(1)
    return session.scalar(query) is not None


def _check_name_free(session: Session, name: str, own_id: int | None) -> None:
    if organization_named(session, name, other_than=own_id) is not None:
        _refuse(session, RuleBroken("name_taken"))


def _set_terms(partnership: Partnership, terms: PartnershipTerms) -> None:
    partnership.kinds = _known_kinds(terms.kinds)
    partnership.formal = terms.formal
    partnership.description = terms.description.strip()
    partnership.first_contact = (terms.contacts.get(partnership.first_organization_id) or "").strip()
    partnership.second_contact = (terms.contacts.get(partnership.second_organization_id) or "").strip()
    partnership.review_every_months = terms.review_every_months
    partnership.started_on = terms.started_on
    partnership.active = terms.active


def _known_kinds(kinds: Iterable[str]) -> list[str]:
    """The kinds given, in the guide's order, once each; an unknown kind is a programming error."""
    given = set(kinds)
    unknown = given - set(PARTNERSHIP_KINDS)
    if unknown:
        raise ValueError(f"unknown partnership kinds: {', '.join(sorted(unknown))}")
    return [kind for kind in PARTNERSHIP_KINDS if kind in given]

"""Reading the directory for its pages: search, an organization, partnerships, agreement versions."""

from __future__ import annotations

import calendar
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.accounts.models import User
from service.clock import Clock
from service.directory.agreements import current_agreement
from service.directory.errors import DirectoryNotFound
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.directory.models import service_needs
from workflows.durations import TIME_ZONE


def today(clock: Clock) -> date:
    """The date in Montréal, which is the one agreements take effect on."""
    return clock().astimezone(TIME_ZONE).date()


def folded(text: str) -> str:
    """Lower case without accents, so "hebergement" finds "Hébergement"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def active_needs(session: Session) -> list[Need]:
    return list(session.scalars(select(Need).where(Need.active.is_(True)).order_by(Need.group, Need.code)))


def organization_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every organization, by name."""
    rows = session.execute(select(Organization.id, Organization.name))
    return sorted(((id_, name) for id_, name in rows), key=lambda row: folded(row[1]))


def search_organizations(
    session: Session, *, text: str = "", need_code: str | None = None
) -> list[Organization]:
    """Organizations with a service for `need_code` whose name, mandate or services hold every word of `text`.

    The need is matched in SQL; the words in Python, over a regional directory of
    at most a few hundred organizations, so that accents and case never hide a
    match on either database.
    """
    query = select(Organization).options(selectinload(Organization.services).selectinload(Service.needs))
    if need_code:
        covering = (
            select(Service.organization_id)
            .join(service_needs, service_needs.c.service_id == Service.id)
            .where(service_needs.c.need_code == need_code)
        )
        query = query.where(Organization.id.in_(covering))
    organizations = list(session.scalars(query))
    words = folded(text).split()
    if words:
        organizations = [o for o in organizations if all(w in _searchable(o) for w in words)]
    return sorted(organizations, key=lambda o: folded(o.name))


def search_services(session: Session, *, text: str = "", need_code: str | None = None) -> list[Service]:
    """Services covering `need_code` whose name or description holds every word of `text`, by name.

    Matched as `search_organizations` matches: the need in SQL, the words in Python.
    """
    scan = select(Service).options(selectinload(Service.needs))
    if need_code:
        scan = scan.join(service_needs, service_needs.c.service_id == Service.id).where(
            service_needs.c.need_code == need_code
        )
    words = folded(text).split()
    services = [
        s for s in session.scalars(scan) if all(w in folded(f"{s.name} {s.description}") for w in words)
    ]
    return sorted(services, key=lambda s: (folded(s.name), s.id))


def organization_needs(organization: Organization) -> list[Need]:
    """The needs an organization's services cover, each once, by code."""
    needs = {need.code: need for service in organization.services for need in service.needs}
    return [needs[code] for code in sorted(needs)]


def _searchable(organization: Organization) -> str:
    parts = [organization.name, organization.mandate]
    for service in organization.services:
        parts += [service.name, service.description]
    return folded(" ".join(parts))


def get_organization(session: Session, organization_id: int) -> Organization:
    organization = session.scalar(
        select(Organization)
        .where(Organization.id == organization_id)
        .options(selectinload(Organization.services).selectinload(Service.needs))
    )
    if organization is None:
        raise DirectoryNotFound("organization", organization_id)
    return organization


def get_service(session: Session, service_id: int) -> Service:
    service = session.scalar(
        select(Service).where(Service.id == service_id).options(selectinload(Service.needs))
    )
    if service is None:
        raise DirectoryNotFound("service", service_id)
    return service


def get_partnership(session: Session, partnership_id: int) -> Partnership:
    partnership = session.scalar(
        select(Partnership)
        .where(Partnership.id == partnership_id)
        .options(selectinload(Partnership.first_organization), selectinload(Partnership.second_organization))
    )
    if partnership is None:
        raise DirectoryNotFound("partnership", partnership_id)
    return partnership


@dataclass(frozen=True)
class PartnershipRow:
    """A partnership as a list shows it, seen from one organization when there is one."""

    partnership: Partnership
    partner: Organization
    agreement: ReferralAgreement | None
    next_review_on: date


def partnerships_of(session: Session, organization_id: int | None, clock: Clock) -> list[PartnershipRow]:
    """The partnerships of one organization (all of them when `organization_id` is None), by partner."""
    query = select(Partnership).options(
        selectinload(Partnership.first_organization), selectinload(Partnership.second_organization)
    )
    if organization_id is not None:
        query = query.where(
            or_(
                Partnership.first_organization_id == organization_id,
                Partnership.second_organization_id == organization_id,
            )
        )
    on = today(clock)
    rows = []
    for partnership in session.scalars(query):
        partner = (
            partnership.first_organization
            if partnership.second_organization_id == organization_id
            else partnership.second_organization
        )
        agreement = current_agreement(
            session, partnership.first_organization_id, partnership.second_organization_id, on
        )
        rows.append(PartnershipRow(partnership, partner, agreement, next_review_on(session, partnership)))
    return sorted(
        rows,
        key=lambda row: (
            not row.partnership.active,
            folded(row.partnership.first_organization.name),
            folded(row.partner.name),
        ),
    )


def next_review_on(session: Session, partnership: Partnership) -> date:
    """When the next review (*bilan*) is due: the cadence after the last one, or after the start."""
    last_review = session.scalar(
        select(PartnershipNote.at)
        .where(PartnershipNote.partnership_id == partnership.id, PartnershipNote.kind == "review")
        .order_by(PartnershipNote.at.desc())
        .limit(1)
    )
    if last_review is not None:
        start = last_review.astimezone(TIME_ZONE).date()
    else:
        start = partnership.started_on or partnership.created_at.astimezone(TIME_ZONE).date()
    return add_months(start, partnership.review_every_months)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class NoteRow:
    note: PartnershipNote
    author: str
    organization: str


def partnership_notes(session: Session, partnership: Partnership) -> list[NoteRow]:
    """The partnership's traces, newest first, with who wrote them and for which organization."""
    rows = session.execute(
        select(PartnershipNote, User.name, Organization.name)
        .outerjoin(User, User.id == PartnershipNote.author_id)
        .join(Organization, Organization.id == PartnershipNote.organization_id)
        .where(PartnershipNote.partnership_id == partnership.id)
        .order_by(PartnershipNote.at.desc(), PartnershipNote.id.desc())
    )
    return [NoteRow(note, author or "", organization) for note, author, organization in rows]


@dataclass(frozen=True)
class AgreementVersion:
    """One version of a referral agreement and where it stands."""

    agreement: ReferralAgreement
    status: str  # proposed, confirmed, in_effect or superseded
    proposed_by: str
    confirmed_by: str

    @property
    def waiting(self) -> bool:
        return self.status == "proposed"


def agreement_versions(session: Session, partnership: Partnership, on: date) -> list[AgreementVersion]:
    """Every version, newest first.

    In effect: the one `current_agreement` gives. Superseded: a confirmed version
    older than it, or a proposal a newer version replaced before anyone confirmed
    it. Confirmed: confirmed, with a date still to come (or a partnership not
    active). Proposed: the newest version, waiting for the other side.
    """
    agreements = list(
        session.scalars(
            select(ReferralAgreement)
            .where(ReferralAgreement.partnership_id == partnership.id)
            .order_by(ReferralAgreement.version.desc())
        )
    )
    if not agreements:
        return []
    current = current_agreement(
        session, partnership.first_organization_id, partnership.second_organization_id, on
    )
    ids = {a.proposed_by_id for a in agreements} | {a.confirmed_by_id for a in agreements}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids - {None}))).all())
    newest = agreements[0].version
    versions = []
    for agreement in agreements:
        if agreement.confirmed_at is None:
            status = "proposed" if agreement.version == newest else "superseded"
        elif current is not None and agreement.id == current.id:
            status = "in_effect"
        elif current is not None and agreement.version < current.version:
            status = "superseded"
        else:
            status = "confirmed"
        versions.append(
            AgreementVersion(
                agreement,
                status,
                names.get(agreement.proposed_by_id, ""),
                names.get(agreement.confirmed_by_id, ""),
            )
        )
    return versions

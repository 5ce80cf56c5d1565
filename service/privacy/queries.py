"""Reading what Law 25 asks an organization to show: its incident register, its retention
period, and what the public privacy page says. Who may read is decided by the caller
(`service.privacy.operations.may_read_register`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.models import Organization
from service.directory.queries import folded
from service.privacy.errors import IncidentNotFound
from service.privacy.models import ConfidentialityIncident


def register_of(session: Session, organization_id: int | None) -> list[ConfidentialityIncident]:
    """The organization's incidents, the most recently learned first."""
    query = (
        select(ConfidentialityIncident)
        .where(ConfidentialityIncident.organization_id == organization_id)
        .order_by(ConfidentialityIncident.learned_on.desc(), ConfidentialityIncident.id.desc())
    )
    return list(session.scalars(query))


def incident_of(
    session: Session, organization_id: int | None, incident_id: int, *, lock: bool = False
) -> ConfidentialityIncident:
    """One of the organization's incidents; another organization's is not found, as none is."""
    query = select(ConfidentialityIncident).where(
        ConfidentialityIncident.id == incident_id,
        ConfidentialityIncident.organization_id == organization_id,
    )
    incident = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if incident is None:
        if lock:
            session.rollback()  # nothing to hold a lock for
        raise IncidentNotFound(incident_id)
    return incident


def effective_retention(organization: Organization, maximum: int) -> int:
    """The months its closed referrals keep her data: its own period, never over the regional maximum.

    A period chosen under a higher maximum yields to a lowered one without
    anyone having to edit it.
    """
    if organization.retention_months is None:
        return maximum
    return min(organization.retention_months, maximum)


@dataclass(frozen=True)
class OrganizationPrivacy:
    """What the public privacy page says about one organization."""

    name: str
    officers: list[str]
    # Shorter than the regional maximum, or None when it keeps data that long.
    retention_months: int | None


def organizations_privacy(session: Session, maximum: int) -> list[OrganizationPrivacy]:
    """Each organization's privacy officers (active accounts) and shorter retention period, by name."""
    officers: dict[int, list[str]] = {}
    query = (
        select(User.organization_id, User.name)
        .where(User.role == Role.PRIVACY_OFFICER, User.active.is_(True), User.organization_id.is_not(None))
        .order_by(User.name)
    )
    for organization_id, name in session.execute(query):
        officers.setdefault(organization_id, []).append(name)
    rows = []
    for organization in session.scalars(select(Organization)):
        months = effective_retention(organization, maximum)
        rows.append(
            OrganizationPrivacy(
                name=organization.name,
                officers=officers.get(organization.id, []),
                retention_months=months if months < maximum else None,
            )
        )
    return sorted(rows, key=lambda row: folded(row.name))

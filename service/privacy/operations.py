"""The operations of Law 25's register and retention: an organization's confidentiality
incidents and the period its closed referrals keep the woman's data.

Each one checks who may do it, writes its audit entry and commits once, or
raises and changes nothing. There is no operation that deletes an incident:
the regulation asks the register to be kept at least five years, and keeping
it whole is simpler to prove than a purge that spares the recent rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from datetime import date
from typing import NoReturn

from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.privacy import queries
from service.privacy.errors import IncidentRefused
from service.privacy.errors import PrivacyNotAllowed
from service.privacy.errors import RetentionRefused
from service.privacy.models import ConfidentialityIncident
from service.referrals.actors import Actor
from workflows.durations import TIME_ZONE

# Who may do what ---------------------------------------------------------------

# Those who answer for the organization's protection of personal information: its privacy
# officer keeps the register, and she and its coordinators read it (and the audit log) and
# choose its retention period.
REGISTER_READERS = frozenset({Role.PRIVACY_OFFICER, Role.COORDINATOR})


def may_keep_register(actor: Actor, organization_id: int | None) -> bool:
    """Only the organization's privacy officer records and corrects its incidents."""
    return (
        actor.role == Role.PRIVACY_OFFICER
        and actor.organization_id is not None
        and actor.organization_id == organization_id
    )


def may_read_register(actor: Actor, organization_id: int | None) -> bool:
    """Her organization's coordinators read the register too: they answer for the organization
    and must know what happened, but the record stays the privacy officer's."""
    return (
        actor.role in REGISTER_READERS
        and actor.organization_id is not None
        and actor.organization_id == organization_id
    )


def may_set_retention(actor: Actor, organization_id: int | None) -> bool:
    """Her organization's coordinator or privacy officer chooses its retention period."""
    return may_read_register(actor, organization_id)


# The incident register ------------------------------------------------------------


@dataclass(frozen=True)
class IncidentDetails:
    """What the register says about one incident (the regulation's list, in its order)."""

    description: str
    occurred_on: date
    learned_on: date
    people_affected: int
    information_kinds: str
    serious_injury_risk: bool
    risk_assessment: str
    measures: str
    occurred_until: date | None = None
    commission_notified_on: date | None = None
    commission_not_notified_reason: str = ""
    people_notified_on: date | None = None
    people_not_notified_reason: str = ""


def check_details(details: IncidentDetails, today: date) -> None:
    """Refuse details that cannot be true, or a serious risk without a word on each notice.

    When the risk of serious injury is assessed as real, the law requires
    notices to the Commission and to the people concerned: the register must
    then say when each went out, or why it did not (yet).
    """
    for name in (
        "occurred_on",
        "occurred_until",
        "learned_on",
        "commission_notified_on",
        "people_notified_on",
    ):
        day = getattr(details, name)
        if day is not None and day > today:
            raise IncidentRefused("in_the_future", name)
    if details.occurred_until is not None and details.occurred_until < details.occurred_on:
        raise IncidentRefused("ends_before_start", "occurred_until")
    if details.learned_on < details.occurred_on:
        raise IncidentRefused("learned_before_start", "learned_on")
    for name in ("commission_notified_on", "people_notified_on"):
        day = getattr(details, name)
        if day is not None and day < details.occurred_on:
            raise IncidentRefused("notice_before_start", name)
    if details.serious_injury_risk:
        if details.commission_notified_on is None and not details.commission_not_notified_reason.strip():
            raise IncidentRefused("commission_notice_missing", "commission_notified_on")
        if details.people_notified_on is None and not details.people_not_notified_reason.strip():
            raise IncidentRefused("people_notice_missing", "people_notified_on")


def record_incident(
    session: Session, actor: Actor, details: IncidentDetails, *, clock: Clock = utcnow
) -> ConfidentialityIncident:
    """Add an incident to the privacy officer's organization's register."""
    if not may_keep_register(actor, actor.organization_id):
        raise PrivacyNotAllowed("record_incident")
    now = clock()
    check_details(details, now.astimezone(TIME_ZONE).date())
    incident = ConfidentialityIncident(
        organization_id=actor.organization_id, recorded_by_id=actor.user_id, recorded_at=now
    )
    _set_details(incident, details)
    session.add(incident)
    session.flush()
    audit(session, "incident.recorded", actor, now)
    session.commit()
    return incident


def update_incident(
    session: Session, actor: Actor, incident_id: int, details: IncidentDetails, *, clock: Clock = utcnow
) -> ConfidentialityIncident:
    """Complete or correct an incident as the facts come in (notices sent, measures taken)."""
    if not may_keep_register(actor, actor.organization_id):
        raise PrivacyNotAllowed("update_incident")
    incident = queries.incident_of(session, actor.organization_id, incident_id, lock=True)
    now = clock()
    try:
        check_details(details, now.astimezone(TIME_ZONE).date())
    except IncidentRefused:
        session.rollback()  # let go of the row lock
        raise
    _set_details(incident, details)
    incident.updated_by_id = actor.user_id
    incident.updated_at = now
    audit(session, "incident.updated", actor, now)
    session.commit()
    return incident


def export_register(
    session: Session, actor: Actor, *, clock: Clock = utcnow
) -> list[ConfidentialityIncident]:
    """The whole register of the person's organization, for a file; the export is audited. Commits."""
    if not may_read_register(actor, actor.organization_id):
        raise PrivacyNotAllowed("export_register")
    incidents = queries.register_of(session, actor.organization_id)
    audit(session, "incident.exported", actor, clock())
    session.commit()
    return incidents


def _set_details(incident: ConfidentialityIncident, details: IncidentDetails) -> None:
    for item in fields(details):
        value = getattr(details, item.name)
        setattr(incident, item.name, value.strip() if isinstance(value, str) else value)
    # A notice that went out needs no reason for not going out.
    if details.commission_notified_on is not None:
        incident.commission_not_notified_reason = ""
    if details.people_notified_on is not None:
        incident.people_not_notified_reason = ""


# Retention -------------------------------------------------------------------------


def set_retention(
    session: Session,
    actor: Actor,
    organization_id: int,
    months: int | None,
    *,
    maximum: int,
    clock: Clock = utcnow,
) -> Organization:
    """Set the organization's retention period; `None` follows the regional maximum. Commits.

    Only shorter than the regional maximum: the region agreed on how long the
    network may keep a woman's data, and an organization may keep less, never more.
    """
    if not may_set_retention(actor, organization_id):
        raise PrivacyNotAllowed("set_retention")
    if months is not None and months > maximum:
        raise RetentionRefused("too_long", maximum)
    if months is not None and months < 1:
        raise RetentionRefused("too_short", maximum)
    organization = session.get(Organization, organization_id, with_for_update=True)
    if organization is None:  # her own organization: only gone if deleted under her feet
        _refuse(session, PrivacyNotAllowed("set_retention"))
    organization.retention_months = months
    audit(session, "retention.changed", actor, clock())
    session.commit()
    return organization


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error

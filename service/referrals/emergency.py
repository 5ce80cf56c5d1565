"""The emergency path: a referral sent without her consent, when her life or safety is at stake.

Québec's private-sector privacy act, which community organizations fall
under (Loi sur la protection des renseignements personnels dans le secteur
privé, art. 18.1, as Law 25 left it; s. 59.1 is the public bodies' twin),
lets an organization share personal information without consent to prevent
an act of violence when there is a serious risk of death or serious injury. Here
only a coordinator may decide it, she must say why, only the minimum about
the woman goes (a name or alias, how to reach her safely, the urgency and
her needs), and the decision is an `EmergencyDisclosure` row: the recorded
exception the protocols' `consent_recorded` guard accepts in place of a
consent (`Referral.has_valid_consent`). The send itself is the ordinary
`fire`, with its event-log row, outbox and deadlines; the exception has an
event-log row of its own ("emergency") and is in the audit trail.

The reason stays in its row: the report of emergency uses shows it to the
organization's coordinators and privacy officers; no email, log line or
event-log comment carries it.

Domain code: no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ReferralError
from service.referrals.actors import Actor
from service.referrals.models import EmergencyDisclosure
from service.referrals.models import Referral
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.operations import PersonDetails
from service.referrals.operations import all_or_nothing
from service.referrals.operations import fire
from service.referrals.operations import lock_referral
from service.referrals.operations import log_event
from service.referrals.operations import open_referral
from service.referrals.operations import was_sent
from workflows.loader import ProtocolLibrary

# The event-log kind of the exception, beside "opened", "transition", "reminder"...
EVENT_KIND = "emergency"
# Who may decide it, and who reads the organization's report of its uses.
MAY_DECIDE = frozenset({Role.COORDINATOR})
MAY_READ_REPORT = frozenset({Role.COORDINATOR, Role.PRIVACY_OFFICER})


class EmergencyReasonRequired(ReferralError):
    """The emergency path was taken without saying why."""

    def __init__(self) -> None:
        super().__init__("an emergency referral needs its reason")


@dataclass(frozen=True)
class MinimumDetails:
    """All the emergency path sends about her: who to ask for, and how to reach her safely.

    No phone means she is reached through the coordinator who sent the referral.
    """

    name: str
    phone: str = ""
    safety_constraints: str = ""

    def as_person(self) -> PersonDetails:
        return PersonDetails(name=self.name, phone=self.phone, safety_constraints=self.safety_constraints)


def send_in_emergency(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    receiver_organization_id: int,
    protocol_name: str,
    need_codes: Iterable[str],
    details: MinimumDetails,
    reason: str,
    parameters: dict[str, str] | None = None,
    agreement_id: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Open an urgent referral with the minimum about her, record the exception, and send it.

    Three commits, each complete: the draft; the exception (its row, its
    event-log row, its audit entry); the send, through `fire`. Should the send
    fail, the draft stays with its exception recorded, and its page can send it.
    """
    if actor.role not in MAY_DECIDE or actor.organization_id is None:
        raise NotAllowed("send_in_emergency", frozenset())
    reason = reason.strip()
    if not reason:
        raise EmergencyReasonRequired
    referral = open_referral(
        session,
        protocols,
        actor,
        receiver_organization_id=receiver_organization_id,
        protocol_name=protocol_name,
        parameters=parameters,
        need_codes=need_codes,
        urgent=True,
        person=details.as_person(),
        agreement_id=agreement_id,
        clock=clock,
    )
    record_emergency(session, referral.id, actor, reason=reason, clock=clock)
    return fire(session, protocols, referral.id, SHARING_TRIGGER, actor, clock=clock)


def record_emergency(
    session: Session, referral_id: int, actor: Actor, *, reason: str, clock: Clock = utcnow
) -> EmergencyDisclosure:
    """Record that this draft may be sent without her consent, and why. Commits.

    Once per referral, and only before it was ever sent (`InvalidTransition` otherwise).
    """
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        parties = actor.parties(referral)
        if "sender_coordinator" not in parties or actor.role not in MAY_DECIDE:
            raise NotAllowed("record_emergency", parties)
        if not reason.strip():
            raise EmergencyReasonRequired
        # Before sending only: the exception lets a referral go, it does not restore a lapsed consent.
        if was_sent(referral) or referral.emergency is not None:
            raise InvalidTransition("record_emergency", referral.state)
        now = clock()
        disclosure = EmergencyDisclosure(
            organization_id=referral.sender_organization_id,
            decided_by_id=actor.user_id,
            decided_at=now,
            reason=reason.strip(),
        )
        referral.emergency = disclosure
        log_event(
            session,
            referral,
            kind=EVENT_KIND,
            trigger=None,
            actor=actor,
            party="sender_coordinator",
            at=now,
        )
        audit(session, "emergency.recorded", actor, now, referral_id=referral.id)
        session.commit()
    return disclosure


# The report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmergencyUse:
    """One referral sent without consent: who decided, when, why, to whom."""

    referral_id: int
    decided_at: datetime
    decided_by: str | None
    receiver_name: str
    reason: str


def emergency_uses(session: Session, actor: Actor, *, clock: Clock = utcnow) -> list[EmergencyUse]:
    """Every use of the emergency path by the actor's organization, newest first; the read is audited."""
    if actor.role not in MAY_READ_REPORT or actor.organization_id is None:
        raise NotAllowed("emergency_report", frozenset())
    rows = session.execute(
        select(EmergencyDisclosure, User.name, Organization.name)
        .join(Referral, Referral.id == EmergencyDisclosure.referral_id)
        .join(Organization, Organization.id == Referral.receiver_organization_id)
        .outerjoin(User, User.id == EmergencyDisclosure.decided_by_id)
        .where(EmergencyDisclosure.organization_id == actor.organization_id)
        .order_by(EmergencyDisclosure.decided_at.desc(), EmergencyDisclosure.id.desc())
    ).all()
    audit(session, "emergency.report_read", actor, clock())
    session.commit()
    return [
        EmergencyUse(disclosure.referral_id, disclosure.decided_at, user_name, receiver, disclosure.reason)
        for disclosure, user_name, receiver in rows
    ]


@dataclass(frozen=True)
class EmergencyCount:
    organization_name: str
    uses: int


def emergency_counts(session: Session) -> list[EmergencyCount]:
    """How many times each organization used the emergency path: the regional admin's figure, no more."""
    rows = session.execute(
        select(Organization.name, func.count(EmergencyDisclosure.id))
        .join(EmergencyDisclosure, EmergencyDisclosure.organization_id == Organization.id)
        .group_by(Organization.id, Organization.name)
        .order_by(Organization.name)
    ).all()
    return [EmergencyCount(name, uses) for name, uses in rows]

"""Opening a referral from the API: the agreed protocol, her details and, when given, her consent.

The same operations as the intake pages (`open_referral`, `record_consent`)
and the same choice of protocol (`protocol_for`); only the checks of what a
client may send that a form would have offered as a list come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.directory.models import Organization
from service.errors import NotAllowed
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.operations import PersonDetails
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.queries import protocol_for
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary


class InvalidField(ValueError):
    """A field names something that does not exist, or a time already past (a 422)."""

    def __init__(self, location: Sequence[str | int], message: object) -> None:
        self.location = list(location)
        self.message = message
        super().__init__(".".join(str(part) for part in self.location))


@dataclass(frozen=True)
class ConsentTerms:
    method: str
    shared_with: str
    purpose: str
    expires_at: datetime | None = None


def open_with_consent(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    receiver_organization_id: int,
    need_codes: Sequence[str],
    urgent: bool,
    protocol: str | None,
    person: PersonDetails | None,
    consent: ConsentTerms | None,
    clock: Clock = utcnow,
) -> Referral:
    """A draft under the protocol the two organizations agreed (or `protocol`, for a coordinator)."""
    if protocol is not None and actor.role != Role.COORDINATOR:
        raise NotAllowed("choose_protocol", frozenset())
    if actor.organization_id is None:
        raise NotAllowed("open", frozenset())
    if session.get(Organization, receiver_organization_id) is None:
        raise InvalidField(["body", "receiver_organization_id"], _l("No organization has this number."))
    codes = list(dict.fromkeys(need_codes))
    known = set(session.scalars(select(Need.code).where(Need.code.in_(codes))))
    if unknown := [code for code in codes if code not in known]:
        raise InvalidField(["body", "need_codes", codes.index(unknown[0])], _l("No need has this code."))
    if protocol is not None and protocol not in {p.name for p in protocols.latest()}:
        raise InvalidField(["body", "protocol"], _l("No protocol has this name."))
    now = clock()
    if consent is not None and consent.expires_at is not None and consent.expires_at <= now:
        raise InvalidField(["body", "consent", "expires_at"], _l("Give a time to come, or none."))
    choice = protocol_for(
        session,
        actor.organization_id,
        receiver_organization_id,
        urgent=urgent,
        on=now.astimezone(TIME_ZONE).date(),
        override=protocol,
    )
    referral = open_referral(
        session,
        protocols,
        actor,
        receiver_organization_id=receiver_organization_id,
        protocol_name=choice.name,
        parameters=choice.parameters,
        agreement_id=choice.agreement_id,
        need_codes=codes,
        urgent=urgent,
        person=person,
        clock=clock,
    )
    if consent is not None:
        record_consent(
            session,
            referral.id,
            actor,
            method=consent.method,
            shared_with=consent.shared_with,
            purpose=consent.purpose,
            expires_at=consent.expires_at,
            clock=clock,
        )
    return referral

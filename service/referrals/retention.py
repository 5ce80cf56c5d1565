"""Retention: the woman's personal data is erased once her referral has been closed long enough.

What goes: her details (`ReferralPerson`), the free text of her consents
(with whom, for what) and the comments of the event log. What stays: the
referral, its states and dates, its needs and reason codes, which are the
anonymized record the network's figures are made of.

Domain code: no Flask, no Celery. The worker's periodic task calls `purge_closed`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.queries import add_months
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from workflows.loader import ProtocolLibrary


def retention_cutoff(now: datetime, months: int) -> datetime:
    """`months` before `now`: referrals closed before this moment have their personal data erased."""
    day = add_months(now.date(), -months)
    return now.replace(year=day.year, month=day.month, day=day.day)


def _holds_personal_data() -> ColumnElement[bool]:
    return or_(
        exists().where(ReferralPerson.referral_id == Referral.id),
        exists().where(
            Consent.referral_id == Referral.id, or_(Consent.shared_with != "", Consent.purpose != "")
        ),
        exists().where(ReferralEvent.referral_id == Referral.id, ReferralEvent.comment.is_not(None)),
    )


def purgeable_referral_ids(
    session: Session, protocols: ProtocolLibrary, now: datetime, months: int
) -> list[int]:
    """Referrals in a terminal state since before the cutoff that still hold personal data."""
    terminal = {name for p in protocols for name, s in p.states.items() if s.terminal}
    query = (
        select(Referral)
        .where(
            Referral.state.in_(terminal),
            Referral.state_entered_at <= retention_cutoff(now, months),
            _holds_personal_data(),
        )
        .order_by(Referral.id)
    )
    return [
        referral.id
        for referral in session.scalars(query)
        if protocols.get(referral.protocol_name, referral.protocol_version).is_terminal(referral.state)
    ]


def purge_closed(session: Session, protocols: ProtocolLibrary, *, months: int, clock: Clock = utcnow) -> int:
    """Erase the personal data of referrals closed more than `months` ago; returns how many. Commits.

    Each purge is its own commit with its audit entry ("person.purged", by the
    system). Idempotent: a purged referral holds no personal data any more, so
    it is not found again.
    """
    now = clock()
    purged = 0
    for referral_id in purgeable_referral_ids(session, protocols, now, months):
        session.execute(delete(ReferralPerson).where(ReferralPerson.referral_id == referral_id))
        session.execute(
            update(Consent).where(Consent.referral_id == referral_id).values(shared_with="", purpose="")
        )
        session.execute(
            update(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id, ReferralEvent.comment.is_not(None))
            .values(comment=None)
        )
        audit(session, "person.purged", Actor.system(), now, referral_id=referral_id)
        session.commit()
        purged += 1
    session.commit()
    return purged

"""Retention: the woman's personal data is erased once her referral has been closed long enough.

What goes: her details (`ReferralPerson`), the free text of her consents
(with whom, for what), the comments of the event log, the reason written
for an emergency sent without her consent (it may describe her situation) and the
documents attached to the referral, their encrypted bytes with them. What stays: the
referral, its states and dates, its needs and reason codes, which are the
anonymized record the network's figures are made of.

How long: `MAILLAGE_RETENTION_MONTHS` is the regional maximum, and each
organization may choose a shorter period (`Organization.retention_months`). A
referral involves two organizations, and each holds her data; it is purged
when the shorter of their two periods has passed. Keeping less personal data
for less time is the safer error for women fleeing violence: an organization
that promised to keep it six months must not see its promise broken because
its partner keeps data a year.

What never goes: the confidentiality incident register
(`service.privacy.models`), kept at least five years under Law 25; nothing
here or elsewhere purges it.

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
from service.directory.models import Organization
from service.directory.queries import add_months
from service.documents.erasure import erase_documents
from service.documents.models import ReferralDocument
from service.privacy.queries import effective_retention
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import EmergencyDisclosure
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
        exists().where(EmergencyDisclosure.referral_id == Referral.id, EmergencyDisclosure.reason != ""),
        exists().where(ReferralDocument.referral_id == Referral.id),
    )


def retention_months_of(session: Session, maximum: int) -> dict[int, int]:
    """Each organization's period in months, none over the regional `maximum`."""
    return {o.id: effective_retention(o, maximum) for o in session.scalars(select(Organization))}


def purgeable_referral_ids(
    session: Session, protocols: ProtocolLibrary, now: datetime, months: int
) -> list[int]:
    """Referrals in a terminal state since before their cutoff that still hold personal data.

    `months` is the regional maximum; a referral's cutoff comes from the
    shorter period of its two organizations. SQL narrows to the referrals
    past the shortest period of all, Python applies each one's own.
    """
    periods = retention_months_of(session, months)
    shortest = min([months, *periods.values()])
    terminal = {name for p in protocols for name, s in p.states.items() if s.terminal}
    query = (
        select(Referral)
        .where(
            Referral.state.in_(terminal),
            Referral.state_entered_at <= retention_cutoff(now, shortest),
            _holds_personal_data(),
        )
        .order_by(Referral.id)
    )
    found = []
    for referral in session.scalars(query):
        period = min(
            periods.get(referral.sender_organization_id, months),
            periods.get(referral.receiver_organization_id, months),
        )
        if referral.state_entered_at > retention_cutoff(now, period):
            continue
        if protocols.get(referral.protocol_name, referral.protocol_version).is_terminal(referral.state):
            found.append(referral.id)
    return found


def erase_personal_data(session: Session, referral_id: int) -> None:
    """Erase what identifies her on one referral, in the caller's transaction.

    Her details, the free text of her consents (with whom, for what), the
    event log's comments, an emergency's written reason and the documents attached
    (rows and encrypted bytes, `documents.erasure`) go; the referral,
    its states, dates, needs and reason codes stay, and that there was an
    emergency. Used by the purge and by an erasure she asked for
    (`person_rights.erase_person`).
    """
    session.execute(delete(ReferralPerson).where(ReferralPerson.referral_id == referral_id))
    session.execute(
        update(Consent).where(Consent.referral_id == referral_id).values(shared_with="", purpose="")
    )
    session.execute(
        update(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id, ReferralEvent.comment.is_not(None))
        .values(comment=None)
    )
    session.execute(
        update(EmergencyDisclosure).where(EmergencyDisclosure.referral_id == referral_id).values(reason="")
    )
    erase_documents(session, referral_id)


def purge_closed(session: Session, protocols: ProtocolLibrary, *, months: int, clock: Clock = utcnow) -> int:
    """Erase the personal data of referrals closed longer than their period; returns how many. Commits.

    `months` is the regional maximum; each referral's period is the shorter
    of its two organizations' (see the module's docstring).

    Each purge is its own commit with its audit entry ("person.purged", by the
    system). Idempotent: a purged referral holds no personal data any more, so
    it is not found again.
    """
    now = clock()
    purged = 0
    for referral_id in purgeable_referral_ids(session, protocols, now, months):
        erase_personal_data(session, referral_id)
        audit(session, "person.purged", Actor.system(), now, referral_id=referral_id)
        session.commit()
        purged += 1
    session.commit()
    return purged

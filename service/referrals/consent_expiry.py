"""Consent expiry: a referral whose consent has lapsed stops notifying and asks its sender to act.

Her consent is what lets the receiving organization know her: once it has
expired or been withdrawn, the outbox stops sending the referral's messages
(see `silenced`, which the outbox asks before sending), and the person who
sent the referral gets one email asking to renew the consent or close it.

Domain code: no Flask, no Celery. The worker's periodic task calls
`remind_lapsed_consents`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.notifications.models import OutboxMessage
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from workflows.loader import ProtocolLibrary

TEMPLATE = "consent_lapsed"
# What tells the receiving organization to stop using her information when she withdraws her consent.
WITHDRAWAL_NOTICE = "consent_withdrawn"
EXPIRED = "consent_expired"
WITHDRAWN = "consent_withdrawn"


def _valid_at(now: datetime) -> ColumnElement[bool]:
    return and_(
        or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > now),
        or_(Consent.expires_at.is_(None), Consent.expires_at > now),
    )


def lapse_reason(consents: list[Consent], now: datetime) -> str | None:
    """Why these consents no longer cover the referral ("consent_withdrawn", "consent_expired"), or None.

    A referral without any consent recorded has nothing that lapsed: sending
    it already required one, so this is not the place to decide about it.
    """
    if not consents or any(consent.is_valid(now) for consent in consents):
        return None
    if any(consent.withdrawn_at is not None and consent.withdrawn_at <= now for consent in consents):
        return WITHDRAWN
    return EXPIRED


def _in_flight(protocols: ProtocolLibrary, referral: Referral) -> bool:
    """Sent and not finished: after the draft, before a terminal state."""
    protocol = protocols.get(referral.protocol_name, referral.protocol_version)
    return referral.state != protocol.initial and not protocol.is_terminal(referral.state)


def silenced(
    session: Session, message: OutboxMessage, now: datetime, protocols: ProtocolLibrary | None = None
) -> str | None:
    """The reason code for which this pending message must not be sent, or None to send it.

    A message about a referral in flight whose consent has lapsed is silenced,
    except the one asking the sender to renew the consent or close the referral
    and the one telling the receiver to stop using her information.
    """
    return silenced_among(session, [message], now, protocols).get(message.id)


def silenced_among(
    session: Session, messages: list[OutboxMessage], now: datetime, protocols: ProtocolLibrary | None = None
) -> dict[int, str]:
    """`silenced` for a batch of messages, with one read of their consents: message id -> reason."""
    about = {
        m.id: m.referral_id
        for m in messages
        if m.referral_id is not None and m.template not in (TEMPLATE, WITHDRAWAL_NOTICE)
    }
    if not about:
        return {}
    consents: dict[int, list[Consent]] = {}
    query = select(Consent).where(Consent.referral_id.in_(set(about.values())))
    for consent in session.scalars(query):
        consents.setdefault(consent.referral_id, []).append(consent)
    library = protocols or protocol_library()
    reasons = {}
    for message_id, referral_id in about.items():
        reason = lapse_reason(consents.get(referral_id, []), now)
        if reason is not None and _in_flight(library, session.get_one(Referral, referral_id)):
            reasons[message_id] = reason
    return reasons


def lapsed_referral_ids(session: Session, protocols: ProtocolLibrary, now: datetime) -> list[int]:
    """Referrals in flight that have a consent recorded and no valid one at `now`."""
    # Finished referrals keep their (lapsed) consents for good: only states in flight are read.
    open_states = {name for p in protocols for name, s in p.states.items() if not s.terminal}
    query = (
        select(Referral)
        .where(
            Referral.state.in_(open_states),
            exists().where(Consent.referral_id == Referral.id),
            ~exists().where(Consent.referral_id == Referral.id, _valid_at(now)),
        )
        .order_by(Referral.id)
    )
    return [referral.id for referral in session.scalars(query) if _in_flight(protocols, referral)]


def remind_lapsed_consents(session: Session, protocols: ProtocolLibrary, *, clock: Clock = utcnow) -> int:
    """Ask the sender of each referral whose consent lapsed to renew it or close the referral. Commits.

    Once per lapse: the dedupe key names the newest consent, so running this
    again sends nothing more, and a renewed consent that lapses in turn asks again.
    Each request is in the audit trail ("consent.lapsed", by the system).
    Returns the number of requests queued.
    """
    now = clock()
    queued = 0
    for referral_id in lapsed_referral_ids(session, protocols, now):
        newest = session.scalar(
            select(Consent.id).where(Consent.referral_id == referral_id).order_by(Consent.id.desc()).limit(1)
        )
        key = f"consent:{referral_id}:{newest}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
            continue
        referral = session.get_one(Referral, referral_id)
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "dedupe_key": key,
                    "template": TEMPLATE,
                    "referral_id": referral_id,
                    "recipient_party": "sender",
                    "recipient_organization_id": referral.sender_organization_id,
                    "created_at": now,
                    "available_at": now,
                }
            ],
        )
        audit(session, "consent.lapsed", Actor.system(), now, referral_id=referral_id)
        session.commit()
        queued += 1
    session.commit()
    return queued

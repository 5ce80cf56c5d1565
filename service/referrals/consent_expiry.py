"""Consent expiry: a referral whose consent has lapsed stops notifying and asks its sender to act.

Her consent is what lets the receiving organization know her: once it has
expired or been withdrawn, Maillage sends nothing more about the referral,
whatever its state, but the message that lapse calls for (`STILL_SENT`): the
outbox asks `silenced_among` before sending, and the daily digest leaves such
referrals out (`lapsed_among`). A withdrawal's one message is the notice
telling the receiving organization to stop using her information; an expired
consent's is one email asking the person who sent the referral to renew the
consent or close it.

Domain code: no Flask, no Celery. The worker's periodic task calls
`remind_lapsed_consents`.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from workflows.loader import ProtocolLibrary

TEMPLATE = "consent_lapsed"
# What tells the receiving organization to stop using her information when she withdraws her consent.
WITHDRAWAL_NOTICE = "consent_withdrawn"
EXPIRED = "consent_expired"
WITHDRAWN = "consent_withdrawn"
# The only messages about a referral that still go out once its consent lapsed, by the lapse's reason.
# The notice to stop goes whatever came after it; the request to renew only where the consent expired:
# she who withdrew hers is not asked again.
STILL_SENT = {
    WITHDRAWN: frozenset({WITHDRAWAL_NOTICE}),
    EXPIRED: frozenset({WITHDRAWAL_NOTICE, TEMPLATE}),
}


def _valid_at(now: datetime) -> ColumnElement[bool]:
    """`Consent.is_valid`, in SQL."""
    return and_(
        or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > now),
        or_(Consent.expires_at.is_(None), Consent.expires_at > now),
    )


def lapse_reason(consents: list[Consent], now: datetime) -> str | None:
    """Why these consents no longer cover the referral ("consent_withdrawn", "consent_expired"), or None.

    A referral without any consent recorded has nothing that lapsed: one sent
    under the emergency exception (see `Referral.has_valid_consent`) is neither
    withdrawn nor expired. When several consents ended, the one that ended last
    says why: she withdrew, then gave a new consent that expired, is an expiry.
    """
    if not consents or any(consent.is_valid(now) for consent in consents):
        return None
    _at, withdrawn = max(_ending(consent, now) for consent in consents)
    return WITHDRAWN if withdrawn else EXPIRED


def _ending(consent: Consent, now: datetime) -> tuple[datetime, bool]:
    """When a consent no longer valid at `now` ended, and whether it ended by her withdrawal."""
    withdrawn, expires = consent.withdrawn_at, consent.expires_at
    if withdrawn is not None and withdrawn <= now and (expires is None or withdrawn <= expires):
        return withdrawn, True
    # Not valid and not withdrawn first: it has an expiry, and that has passed.
    return expires or now, False


def lapsed_among(session: Session, referral_ids: Iterable[int], now: datetime) -> dict[int, str]:
    """Those of these referrals whose consent has lapsed at `now`, with why (`lapse_reason`); one read."""
    wanted = set(referral_ids)
    if not wanted:
        return {}
    consents: dict[int, list[Consent]] = {}
    for consent in session.scalars(select(Consent).where(Consent.referral_id.in_(wanted))):
        consents.setdefault(consent.referral_id, []).append(consent)
    reasons = {referral_id: lapse_reason(found, now) for referral_id, found in consents.items()}
    return {referral_id: reason for referral_id, reason in reasons.items() if reason is not None}


def silenced(session: Session, message: OutboxMessage, now: datetime) -> str | None:
    """The reason code for which this pending message must not be sent, or None to send it.

    A message about a referral whose consent has lapsed is silenced, whatever the
    referral's state (closing or cancelling it does not end the lapse), unless it
    is one that lapse calls for (`STILL_SENT`).
    """
    return silenced_among(session, [message], now).get(message.id)


def silenced_among(session: Session, messages: list[OutboxMessage], now: datetime) -> dict[int, str]:
    """`silenced` for a batch of messages, with one read of their consents: message id -> reason."""
    about = {m.id: (m.referral_id, m.template) for m in messages if m.referral_id is not None}
    lapsed = lapsed_among(session, (referral_id for referral_id, _template in about.values()), now)
    return {
        message_id: lapsed[referral_id]
        for message_id, (referral_id, template) in about.items()
        if referral_id in lapsed and template not in STILL_SENT[lapsed[referral_id]]
    }


def _in_flight(protocols: ProtocolLibrary, referral: Referral) -> bool:
    """Sent and not finished: after the draft, before a terminal state."""
    protocol = protocols.get(referral.protocol_name, referral.protocol_version)
    return referral.state != protocol.initial and not protocol.is_terminal(referral.state)


def expired_referral_ids(session: Session, protocols: ProtocolLibrary, now: datetime) -> list[int]:
    """Referrals in flight whose consent expired: one recorded, none valid at `now`, not withdrawn last."""
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
    in_flight = [referral.id for referral in session.scalars(query) if _in_flight(protocols, referral)]
    lapsed = lapsed_among(session, in_flight, now)
    return [referral_id for referral_id in in_flight if lapsed.get(referral_id) == EXPIRED]


def remind_lapsed_consents(session: Session, protocols: ProtocolLibrary, *, clock: Clock = utcnow) -> int:
    """Ask the sender of each referral whose consent expired to renew it or close the referral. Commits.

    Once per lapse: the dedupe key names the newest consent, so running this
    again sends nothing more, and a renewed consent that lapses in turn asks again.
    A withdrawn consent asks nothing: the notice to the receiving organization is
    the only message after a withdrawal (see `STILL_SENT`). Each request is in the
    audit trail ("consent.lapsed", by the system). Returns the number of requests queued.
    """
    now = clock()
    queued = 0
    for referral_id in expired_referral_ids(session, protocols, now):
        newest = session.scalar(
            select(Consent.id).where(Consent.referral_id == referral_id).order_by(Consent.id.desc()).limit(1)
        )
        key = f"consent:{referral_id}:{newest}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
            continue
        referral = session.get_one(Referral, referral_id)
        queued_ids = session.execute(
            insert(OutboxMessage).returning(OutboxMessage.id),
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
        ).scalars()
        note_queued(session, queued_ids)
        audit(session, "consent.lapsed", Actor.system(), now, referral_id=referral_id)
        session.commit()
        queued += 1
    session.commit()
    return queued

"""A partner without an account writes a message on the referral her signed link serves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.errors import ReferralError
from service.links.operations import LOCK_LINK
from service.links.operations import link_holder
from service.links.operations import resolve_link
from service.referrals.messages import write_message


def write_through_link(session: Session, token: str, text: str, *, clock: Clock = utcnow) -> int:
    """Add her message as the receiving organization, audited with the link; returns the event's id.

    The link's row is locked before the referral's, as every use of a link does (`resolve_link`).
    """
    link = resolve_link(session, token, clock=clock, lock=True)
    link_id, referral_id = link.id, link.referral_id
    holder = link_holder(link)
    now = clock()
    try:
        link.last_used_at = now
        audit(session, "link.message", holder, now, referral_id=referral_id, signed_link_id=link_id)
        return write_message(session, referral_id, holder, text, clock=clock)
    except ReferralError:
        session.rollback()
        link = session.scalar(LOCK_LINK, {"link_id": link_id})
        if link is not None:
            link.last_used_at = now
        audit(session, "link.refused", holder, now, referral_id=referral_id, signed_link_id=link_id)
        session.commit()
        raise

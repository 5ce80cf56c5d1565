"""Forgetting the contact person of a declined request to join, once the regional retention period
is over: the request stays (its organization's name, its history, the reason), her details go.

An accepted request's contact became the organization's coordinator, whose account holds them; a
request still waiting needs them to be answered.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.join_requests.models import JoinRequest
from service.referrals.retention import retention_cutoff

FORGOTTEN = ""


def forget_declined_contacts(session: Session, *, months: int, clock: Clock = utcnow) -> int:
    """Erase the contact details of requests declined more than `months` ago; how many. Commits.

    Idempotent: a request whose contact is forgotten is not found again.
    """
    before = retention_cutoff(clock(), months)
    ids = list(
        session.scalars(
            select(JoinRequest.id).where(
                JoinRequest.state == "declined",
                JoinRequest.state_entered_at <= before,
                JoinRequest.contact_email != FORGOTTEN,
            )
        )
    )
    if ids:
        session.execute(
            update(JoinRequest)
            .where(JoinRequest.id.in_(ids))
            .values(contact_name=FORGOTTEN, contact_email=FORGOTTEN, contact_phone=FORGOTTEN)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return len(ids)

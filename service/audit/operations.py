"""Writing the audit trail; the caller's transaction carries the entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.referrals.actors import Actor


def audit(
    session: Session,
    action: str,
    actor: Actor,
    at: datetime,
    *,
    referral_id: int | None = None,
    signed_link_id: int | None = None,
    subject_user_id: int | None = None,
    contact_person_id: int | None = None,
) -> None:
    """Add an entry (e.g. "person.read", "link.opened") to the session; the caller commits."""
    session.add(
        AuditEntry(
            at=at,
            action=action,
            user_id=actor.user_id,
            api_key_id=actor.api_key_id,
            organization_id=actor.organization_id,
            signed_link_id=signed_link_id,
            referral_id=referral_id,
            subject_user_id=subject_user_id,
            contact_person_id=contact_person_id,
        )
    )

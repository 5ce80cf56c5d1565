"""Reading the audit trail: one organization's entries, newest first, a page at a time.

Only reading: nothing in the app changes or deletes an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

from service.accounts.models import User
from service.address_book.models import ContactPerson
from service.api.models import ApiKey
from service.audit.models import AuditEntry

PER_PAGE = 50


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    action: str
    user_name: str | None  # None: an API key, the system, or a partner through a signed link
    referral_id: int | None
    through_signed_link: bool
    # The API key an organization's system acted through: its name and the first characters of its
    # token (`ApiKey.prefix`), as its keys page shows them; the token itself is never stored.
    key_name: str | None = None
    key_prefix: str | None = None
    # Whose account the act changed (the team page's changes), when it is not the actor's own.
    subject_name: str | None = None
    # The address book entry the act wrote or changed (staff of a partner, never a woman).
    contact_name: str | None = None


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    page: int
    pages: int
    total: int


def organization_audit(
    session: Session, organization_id: int, *, action: str | None = None, page: int = 1
) -> AuditPage:
    """The entries of `organization_id`'s people, keys and signed links, newest first, `PER_PAGE` a page.

    `action` keeps only that action's entries; a page beyond the last gives the last.
    """
    ours = AuditEntry.organization_id == organization_id
    where = [ours] if not action else [ours, AuditEntry.action == action]
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    subject = aliased(User)
    rows = session.execute(
        select(AuditEntry, User.name, ApiKey.name, ApiKey.prefix, subject.name, ContactPerson.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .outerjoin(ApiKey, ApiKey.id == AuditEntry.api_key_id)
        .outerjoin(subject, subject.id == AuditEntry.subject_user_id)
        .outerjoin(ContactPerson, ContactPerson.id == AuditEntry.contact_person_id)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    lines = [
        AuditLine(
            entry.at,
            entry.action,
            user_name,
            entry.referral_id,
            entry.signed_link_id is not None,
            key_name=key_name,
            key_prefix=key_prefix,
            subject_name=subject_name,
            contact_name=contact_name,
        )
        for entry, user_name, key_name, key_prefix, subject_name, contact_name in rows
    ]
    return AuditPage(lines, page, pages, total)

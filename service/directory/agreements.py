"""Which referral agreement applies between two organizations on a given day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Partnership
from service.directory.models import ReferralAgreement


def partnership_between(session: Session, first_id: int, second_id: int) -> Partnership | None:
    """The partnership of two organizations, whichever order they are given in."""
    low, high = sorted((first_id, second_id))
    return session.scalar(
        select(Partnership).where(
            Partnership.first_organization_id == low, Partnership.second_organization_id == high
        )
    )


def current_agreement(session: Session, first_id: int, second_id: int, on: date) -> ReferralAgreement | None:
    """The newest confirmed agreement in effect on `on` in their active partnership, if any."""
    low, high = sorted((first_id, second_id))
    return session.scalar(
        select(ReferralAgreement)
        .join(Partnership, ReferralAgreement.partnership_id == Partnership.id)
        .where(
            Partnership.first_organization_id == low,
            Partnership.second_organization_id == high,
            Partnership.active.is_(True),
            ReferralAgreement.confirmed_at.is_not(None),
            ReferralAgreement.effective_on <= on,
        )
        .order_by(ReferralAgreement.version.desc())
        .limit(1)
    )


def partner_ids(session: Session, organization_id: int) -> set[int]:
    """Organizations with which `organization_id` has an active partnership of any kind."""
    rows = session.execute(
        select(Partnership.first_organization_id, Partnership.second_organization_id).where(
            Partnership.active.is_(True),
            or_(
                Partnership.first_organization_id == organization_id,
                Partnership.second_organization_id == organization_id,
            ),
        )
    )
    return {a if b == organization_id else b for a, b in rows}

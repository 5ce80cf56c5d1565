"""What the reports count of the unmet needs, and the choices the recording form offers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Organization
from service.unmet_needs.models import UnmetNeed
from service.unmet_needs.models import unmet_need_needs


def recorded_by_need(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Unmet needs recorded from `start` to `end` (excluded): need code -> count.

    A record for several needs counts under each of them, as a referral does.
    """
    query = (
        select(unmet_need_needs.c.need_code, func.count())
        .select_from(unmet_need_needs)
        .join(UnmetNeed, UnmetNeed.id == unmet_need_needs.c.unmet_need_id)
        .where(UnmetNeed.recorded_at >= start, UnmetNeed.recorded_at < end)
        .group_by(unmet_need_needs.c.need_code)
    )
    return dict(session.execute(query).all())


def recorded_by_place(session: Session, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """Unmet needs recorded from `start` to `end`: (territory, clientele) -> count of records."""
    query = (
        select(UnmetNeed.territory, UnmetNeed.clientele, func.count())
        .where(UnmetNeed.recorded_at >= start, UnmetNeed.recorded_at < end)
        .group_by(UnmetNeed.territory, UnmetNeed.clientele)
    )
    return {(territory, clientele): count for territory, clientele, count in session.execute(query)}


def directory_values(session: Session, column: str) -> list[str]:
    """The territories (or clienteles) the directory's organizations state, each once, in order."""
    values = session.scalars(select(getattr(Organization, column)).distinct())
    return sorted({" ".join(value.split()) for value in values if value and value.strip()}, key=str.casefold)

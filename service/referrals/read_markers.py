"""Which messages of a referral each of its organizations has read: one marker per organization.

An organization reads a referral's messages together (whoever opens the page reads them for it),
so the marker is the organization's, not a person's: the id of the last message event it was shown.
A message is unread for an organization when the other side wrote it after that id.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ForeignKey
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from service.db import Base
from service.referrals.messages import MESSAGE_KIND
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent


class ReferralReadMarker(Base):
    """The last message event of a referral an organization was shown."""

    __tablename__ = "referral_read_markers"

    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    last_read_event_id: Mapped[int]


def mark_read(session: Session, referral_id: int, organization_id: int) -> None:
    """Record that `organization_id` was shown every message of the referral written so far. Commits.

    Two people of one organization opening the page at once both write the same marker, and the
    higher id stays: an insert that finds the row updates it instead, never to a lower id.
    """
    last = session.scalar(
        select(func.max(ReferralEvent.id)).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == MESSAGE_KIND
        )
    )
    if last is None:
        return
    table = ReferralReadMarker.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(
        referral_id=referral_id, organization_id=organization_id, last_read_event_id=last
    )
    # The larger of the two ids: PostgreSQL's GREATEST, SQLite's two-argument MAX.
    larger = func.greatest if dialect == "postgresql" else func.max
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.referral_id, table.c.organization_id],
        set_={
            "last_read_event_id": larger(table.c.last_read_event_id, statement.excluded.last_read_event_id)
        },
    )
    session.execute(statement)
    session.commit()


def unread_counts(
    session: Session, organization_id: int, referral_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Messages the other side wrote that `organization_id` has not been shown, by referral (one query).

    `referral_ids`: only these (a page of a list); None, every referral of the organization.
    Referrals without unread messages are left out.
    """
    marker = ReferralReadMarker
    other_side = case((Referral.sender_organization_id == organization_id, "receiver"), else_="sender")
    query = (
        select(ReferralEvent.referral_id, func.count())
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .outerjoin(
            marker,
            and_(marker.referral_id == ReferralEvent.referral_id, marker.organization_id == organization_id),
        )
        .where(
            ReferralEvent.kind == MESSAGE_KIND,
            ReferralEvent.actor_party == other_side,
            ReferralEvent.id > func.coalesce(marker.last_read_event_id, 0),
        )
        .group_by(ReferralEvent.referral_id)
    )
    if referral_ids is None:
        query = query.where(
            (Referral.sender_organization_id == organization_id)
            | (Referral.receiver_organization_id == organization_id)
        )
    else:
        wanted = list(referral_ids)
        if not wanted:
            return {}
        query = query.where(
            ReferralEvent.referral_id.in_(wanted),
            (Referral.sender_organization_id == organization_id)
            | (Referral.receiver_organization_id == organization_id),
        )
    return dict(session.execute(query).all())

"""The confidentiality incident register each organization keeps under Québec's Law 25."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base


class ConfidentialityIncident(Base):
    """One confidentiality incident, with what the regulation asks the register to hold.

    The *Règlement sur les incidents de confidentialité* (art. 11) asks for a
    description of the information concerned, the circumstances, the date or
    period of the incident, when the organization learned of it, how many
    people it concerns, the assessment of the risk of serious injury, the
    notices sent to the Commission d'accès à l'information and to the people
    concerned, and the measures taken. Rows are kept at least five years after
    the organization learned of the incident, so the app never deletes them:
    no page offers it, and the retention purge (`service.referrals.retention`)
    does not touch this table.
    """

    __tablename__ = "confidentiality_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    description: Mapped[str] = mapped_column(Text)
    # A period when the incident lasted; `occurred_until` stays empty for a single day.
    occurred_on: Mapped[date]
    occurred_until: Mapped[date | None]
    learned_on: Mapped[date]
    # An approximation when the exact number is not known, as the regulation allows.
    people_affected: Mapped[int]
    information_kinds: Mapped[str] = mapped_column(Text)
    serious_injury_risk: Mapped[bool]
    risk_assessment: Mapped[str] = mapped_column(Text)
    # For each notice: the date it went out, or why it did not.
    commission_notified_on: Mapped[date | None]
    commission_not_notified_reason: Mapped[str] = mapped_column(Text, default="")
    people_notified_on: Mapped[date | None]
    people_not_notified_reason: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_confidentiality_incidents_organization", "organization_id", "learned_on"),)

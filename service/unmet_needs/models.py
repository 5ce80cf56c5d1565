"""An unmet need as recorded at intake: the needs, the territory and the clientele, and nothing of her.

No name, no contact, no free text: only choices from the needs taxonomy and
the directory, so that counting where the network falls short never keeps a
trace of the woman it fell short for. Who recorded it is in the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base

unmet_need_needs = Table(
    "unmet_need_needs",
    Base.metadata,
    Column("unmet_need_id", ForeignKey("unmet_needs.id", ondelete="CASCADE"), primary_key=True),
    Column("need_code", ForeignKey("needs.code"), primary_key=True),
)


class UnmetNeed(Base):
    """ "Aucune ressource trouvée": needs that no organization of the directory could take, once."""

    __tablename__ = "unmet_needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organization whose caseworker looked: its figures, never a person.
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    # As the directory words them; empty when hers is not in the directory.
    territory: Mapped[str] = mapped_column(String(200), default="")
    clientele: Mapped[str] = mapped_column(String(500), default="")

"""Heartbeats: the last time a periodic process was seen working, one row each.

In the database, which every host shares: a web process on one machine can tell
whether beat, on another, still ticks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime]

"""A document attached to a referral: its row here, its encrypted bytes in the store under `key`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from service.db import Base
from service.documents.sealing import SealedText


class ReferralDocument(Base):
    """A signed consent, an assessment...: her data, under the rules of her details."""

    __tablename__ = "referral_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    # Random, never the name it was sent under: the store's key of its encrypted bytes.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # The name it was sent under (cleaned: `content.display_name`), encrypted: it may name her.
    name: Mapped[str] = mapped_column(SealedText)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    party: Mapped[str] = mapped_column(String(16))  # "sender" or "receiver": the side that attached it
    # None: a partner through a signed link.
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime]

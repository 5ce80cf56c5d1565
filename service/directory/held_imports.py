"""A spreadsheet waiting between its upload and its import, kept in the database.

Every web instance reads the same database, so the next step of an import may
land on any of them (README.md, "More than one machine"); a file in one
instance's data folder would be missing on the others. Only the SHA-256 of the
random token the browser's signed session holds is stored: a copy of the
database names no session. A directory file holds organizations' public
details, never a woman's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from datetime import timedelta

from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from service.db import Base

# A file whose import was left unfinished (the session ended) is deleted at the next upload after this.
LEFT_FOR = timedelta(hours=24)


class HeldImport(Base):
    """One uploaded spreadsheet, until it is imported, cancelled, replaced or left for `LEFT_FOR`."""

    __tablename__ = "held_imports"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    held_at: Mapped[datetime] = mapped_column(index=True)
    filename: Mapped[str] = mapped_column(String(120))
    content: Mapped[bytes] = mapped_column(LargeBinary)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hold(session: Session, content: bytes, filename: str, now: datetime) -> str:
    """Keep `content` and return the token that finds it again; deletes files left unfinished."""
    session.execute(delete(HeldImport).where(HeldImport.held_at < now - LEFT_FOR))
    token = secrets.token_urlsafe(32)
    session.add(HeldImport(token_hash=_hash(token), held_at=now, filename=filename[:120], content=content))
    session.commit()
    return token


def held(session: Session, token: str) -> HeldImport | None:
    """The file `token` holds, or None when it was imported, cancelled or deleted."""
    return session.scalar(select(HeldImport).where(HeldImport.token_hash == _hash(token)))


def forget(session: Session, token: str) -> None:
    """Delete the file `token` holds, if any."""
    session.execute(delete(HeldImport).where(HeldImport.token_hash == _hash(token)))
    session.commit()

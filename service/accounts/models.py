"""People who sign in to Maillage."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from service.accounts.encryption import EncryptedTotpSecret
from service.db import Base
from service.directory.models import Organization


class Role(StrEnum):
    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"
    PARTNER_CONTACT = "partner_contact"
    # The organization's person in charge of the protection of personal information (Law 25):
    # keeps the confidentiality incident register.
    PRIVACY_OFFICER = "privacy_officer"
    REGIONAL_ADMIN = "regional_admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(5), default="fr")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Multi-factor authentication (TOTP, RFC 6238). The secret is set when she starts enrolling and
    # counts only once she has confirmed it with a first code (`mfa_enabled_at`). Encrypted in the
    # database, and read only where a code is checked or shown: a key problem stays there.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedTotpSecret(), deferred=True)
    mfa_enabled_at: Mapped[datetime | None]
    # The last 30-second step whose code was accepted: a code seen once is refused after (replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    organization: Mapped[Organization | None] = relationship()

    @property
    def mfa_enrolled(self) -> bool:
        return self.mfa_enabled_at is not None


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; we keep only its hash."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # When she last proved who she is in this session (sign-in or confirmation): sensitive acts ask
    # again once it is older than a few minutes (OWASP ASVS 3.7.1).
    authenticated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A single-use code that signs her in when her phone is lost. Only a salted hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OneTimeLink(Base):
    """A link emailed to one account for one purpose (a password reset, an invitation), good once and
    for a while. Only the SHA-256 of its token is kept: the raw token lives in the email alone.
    Operations are in `service.accounts.one_time_links`."""

    __tablename__ = "one_time_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Ended unused: a newer link of the same purpose was sent, or the account changed meanwhile.
    revoked_at: Mapped[datetime | None]

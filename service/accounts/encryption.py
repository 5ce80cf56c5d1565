"""TOTP secrets encrypted at rest (Fernet: AES-128-CBC and HMAC-SHA256), so that a copy of the
database or of a backup does not carry anyone's second factor with it.

The keys come from `MAILLAGE_TOTP_ENCRYPTION_KEY`, then one derived from the secret key
(`service.config.Settings.totp_encryption_key` says how). A secret no key opens is refused
loudly (`TotpKeyError`): nobody signs in without her code because of a key mix-up, and the
log says what to fix.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from service.config import Settings
from service.config import settings
from service.fernet_keys import key_ring

log = logging.getLogger(__name__)

# What the derived key is for: another use of the secret key derives another key.
_PURPOSE = b"maillage: TOTP secrets at rest"
# A token of a 32-character secret takes 140 characters; this leaves room for longer secrets.
TOKEN_LENGTH = 255


class TotpKeyError(RuntimeError):
    """The TOTP secrets cannot be encrypted or decrypted with the keys configured."""


def cipher(config: Settings | None = None) -> MultiFernet:
    """The configured keys: the first encrypts, each decrypts."""
    config = config or settings()
    ring = key_ring(config.totp_encryption_key, config.resolved_secret_key(), _PURPOSE)
    if ring is None:
        raise TotpKeyError(
            "no key to encrypt TOTP secrets with: set MAILLAGE_TOTP_ENCRYPTION_KEY, or MAILLAGE_SECRET_KEY"
        )
    return ring


def encrypt(secret: str) -> str:
    return cipher().encrypt(secret.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The secret in `token`; `TotpKeyError` when no configured key opens it."""
    try:
        return cipher().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        message = (
            "a TOTP secret in the database opens with none of the keys configured: was "
            "MAILLAGE_TOTP_ENCRYPTION_KEY or MAILLAGE_SECRET_KEY changed? Put the key it was encrypted "
            "with back, after the new one in MAILLAGE_TOTP_ENCRYPTION_KEY"
        )
        log.error(message)
        raise TotpKeyError(message) from None


class EncryptedTotpSecret(TypeDecorator[str]):
    """A TOTP secret, plain in Python and encrypted in the database."""

    impl = String(TOKEN_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)

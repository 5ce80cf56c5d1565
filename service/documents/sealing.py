"""Documents encrypted at rest (Fernet: AES-128-CBC and HMAC-SHA256): a copy of the store, a
bucket left open or a stolen disk carries no woman's paper with it.

The keys come from `MAILLAGE_DOCUMENT_ENCRYPTION_KEY`, then one derived from the secret key, as the
TOTP secrets' do (`service.accounts.encryption`), with a purpose of their own: a key that opens
one opens nothing of the other. The name a document was sent under is sealed with the same keys.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from service.config import Settings
from service.config import settings
from service.fernet_keys import key_ring

# What the derived key is for: another use of the secret key derives another key.
_PURPOSE = b"maillage: documents at rest"


class DocumentKeyError(RuntimeError):
    """A document cannot be encrypted or decrypted with the keys configured."""


def cipher(config: Settings | None = None) -> MultiFernet:
    """The configured keys: the first encrypts, each decrypts."""
    config = config or settings()
    ring = key_ring(config.document_encryption_key, config.resolved_secret_key(), _PURPOSE)
    if ring is None:
        raise DocumentKeyError(
            "no key to encrypt documents with: set MAILLAGE_DOCUMENT_ENCRYPTION_KEY, or MAILLAGE_SECRET_KEY"
        )
    return ring


def seal(data: bytes) -> bytes:
    return cipher().encrypt(data)


def unseal(token: bytes) -> bytes:
    """The plain bytes of `token`; `DocumentKeyError` when no configured key opens it."""
    try:
        return cipher().decrypt(token)
    except InvalidToken:
        raise DocumentKeyError(
            "a document opens with none of the keys configured: was MAILLAGE_DOCUMENT_ENCRYPTION_KEY or "
            "MAILLAGE_SECRET_KEY changed? Put the key it was encrypted with back, after the new one"
        ) from None


class SealedText(TypeDecorator[str]):
    """A text, plain in Python and encrypted in the database (a document's name may name her)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else seal(value.encode()).decode("ascii")

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else unseal(value.encode("ascii")).decode()

"""The Fernet keys that encrypt something at rest (TOTP secrets, documents): those configured for it,
then one derived from the app's secret key for that purpose alone (HKDF-SHA256), so that a key
that opens one kind of thing opens nothing of another."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet
from cryptography.fernet import MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derived_key(secret_key: str, purpose: bytes) -> bytes:
    """The Fernet key derived from the app's secret key for `purpose`."""
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return base64.urlsafe_b64encode(material)


@cache
def key_ring(configured: str | None, secret_key: str | None, purpose: bytes) -> MultiFernet | None:
    """The configured keys (comma-separated, newest first), then the derived one: the first
    encrypts, each decrypts. None when there is no key at all."""
    keys = [key.strip().encode() for key in configured.split(",")] if configured else []
    if secret_key:
        keys.append(derived_key(secret_key, purpose))
    return MultiFernet([Fernet(key) for key in keys]) if keys else None

"""Password hashing (argon2id) and the minimum rules a password must meet (OWASP ASVS 2.1)."""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
# zxcvbn's estimate, from 0 to 4: below 3 a password falls to fewer than 10^8 guesses.
MIN_STRENGTH = 3
# zxcvbn's time grows with the length; what it finds is in the first characters anyway.
_CHECKED_LENGTH = 100

_hasher = PasswordHasher()
# Verifying against this when the email is unknown takes as long as a real
# check, so response times do not tell which emails have accounts.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

TOO_SHORT = "at least {length} characters"
TOO_COMMON = (
    "it is a common or breached password, or too close to one (or to your name or email): "
    "choose another, for example a sentence of several words"
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, personal: Iterable[str] = ()) -> str | None:
    """Why a new password is refused, in words for the command line, or None."""
    return {"too_short": TOO_SHORT.format(length=MIN_LENGTH), "too_common": TOO_COMMON}.get(
        password_weakness(password, personal)
    )


def password_weakness(password: str, personal: Iterable[str] = ()) -> str | None:
    """ "too_short" or "too_common" when a new password is refused (pages say it in their language), or
    None; `personal`: her email, her name, which it must not echo.

    Common and breached passwords are those of the lists zxcvbn ships with the package (the 30,000
    most frequent in leaked password sets, and English words, names and keyboard patterns): it is
    all offline, no password ever leaves Maillage (ASVS 2.1.7). Variants (`Password1234!`,
    `qwertyuiop123`) are caught by its estimate of how fast they would be guessed.
    """
    if len(password) < MIN_LENGTH:
        return "too_short"
    words = []
    for text in personal:
        text = text.lower()
        words += [text, text.split("@")[0], *text.replace("@", " ").replace(".", " ").split()]
    if zxcvbn(password[:_CHECKED_LENGTH], user_inputs=words)["score"] < MIN_STRENGTH:
        return "too_common"
    return None

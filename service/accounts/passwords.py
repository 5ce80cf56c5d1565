"""Password hashing (argon2id) and the minimum rules a password must meet (OWASP ASVS 2.1)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

MIN_LENGTH = 12
# ASVS 2.1.2 asks to allow at least 64; past 128 it is a paste gone wrong, or argon2 made to work for nothing.
MAX_LENGTH = 128
# zxcvbn's estimate, from 0 to 4: below 3 a password falls to fewer than 10^8 guesses.
MIN_STRENGTH = 3
# zxcvbn's time grows with the length, and past 72 characters it raises rather than answer; what it
# finds is in the first characters anyway.
_CHECKED_LENGTH = 72

# Words of this region and language that people here build passwords on and that zxcvbn's lists,
# made from English sources, miss or rank low ("Bonjour2024!" would pass otherwise). One a line,
# lower case, no accents: anyone may add to it.
LOCAL_WORDS_FILE = Path(__file__).resolve().parent / "local_words.txt"
LOCAL_WORDS = frozenset(LOCAL_WORDS_FILE.read_text(encoding="utf-8").split())
# One word, then only digits and signs: "Summer2024!!", "Laval2025!!!".
_WORD_THEN_FILLER = re.compile(r"([^\W\d_]+)[\W\d_]*")

_hasher = PasswordHasher()
# Verifying against this when the email is unknown takes as long as a real
# check, so response times do not tell which emails have accounts.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

TOO_SHORT = "at least {length} characters"
TOO_LONG = "at most {length} characters"
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
    return {
        "too_short": TOO_SHORT.format(length=MIN_LENGTH),
        "too_long": TOO_LONG.format(length=MAX_LENGTH),
        "too_common": TOO_COMMON,
    }.get(password_weakness(password, personal))


def password_weakness(password: str, personal: Iterable[str] = ()) -> str | None:
    """ "too_short", "too_long" or "too_common" when a new password is refused (pages say it in their
    language), or None; `personal`: her email, her name, which it must not echo.

    Common and breached passwords are those of the lists zxcvbn ships with the package (the 30,000
    most frequent in leaked password sets, and English words, names and keyboard patterns) and our
    own `LOCAL_WORDS`: it is all offline, no password ever leaves Maillage (ASVS 2.1.7). Variants
    (`Password1234!`, `qwertyuiop123`) are caught by its estimate of how fast they would be
    guessed, and any one such word followed by digits and signs only (`Montréal2024!`).
    """
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    words = []
    for text in personal:
        text = text.lower()
        words += [text, text.split("@")[0], *text.replace("@", " ").replace(".", " ").split()]
    if _one_known_word(password):
        return "too_common"
    from zxcvbn import zxcvbn  # see _one_known_word

    if zxcvbn(password[:_CHECKED_LENGTH], user_inputs=[*words, *LOCAL_WORDS])["score"] < MIN_STRENGTH:
        return "too_common"
    return None


def _one_known_word(password: str) -> bool:
    """A common word (ours, or one of zxcvbn's lists) dressed up with digits and signs only: the
    first thing a guesser tries, however long the digits make it."""
    # zxcvbn's lists take 13 MB once loaded: imported only when a new password is checked, not by
    # every process that signs people in (bench/footprint.py).
    from zxcvbn.matching import RANKED_DICTIONARIES

    found = _WORD_THEN_FILLER.fullmatch(password)
    if found is None:
        return False
    word = "".join(c for c in unicodedata.normalize("NFKD", found[1].lower()) if not unicodedata.combining(c))
    return word in LOCAL_WORDS or any(word in ranked for ranked in RANKED_DICTIONARIES.values())

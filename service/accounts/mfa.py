"""Multi-factor authentication: a TOTP app (RFC 6238) and single-use recovery codes (OWASP ASVS 2.7, 2.8).

Enrolling takes two steps: a secret is made and shown (text and QR code), and counts only once she
has typed a first code from her app, so a mistyped secret never locks her out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import RecoveryCode
from service.accounts.models import Role
from service.accounts.models import User
from service.clock import Clock
from service.clock import utcnow

# Whoever can read or send every referral of an organization, the incident register or the whole
# region must have a second factor; for the others it is a choice.
MFA_REQUIRED_ROLES = frozenset({Role.COORDINATOR, Role.PRIVACY_OFFICER, Role.REGIONAL_ADMIN})

ISSUER = "Maillage"
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code copied from paper is read back without doubt. 12 of these: about 59 bits,
# each salted and hashed (ASVS 2.6.2), tried only at the rate-limited sign-in.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 12
# A phone's clock may be a little off: the code of the step before or after is accepted too.
_TOTP_DRIFT_STEPS = 1


class MfaProblem(ValueError):
    """An MFA change was refused; the message says why."""


def mfa_required(role: str) -> bool:
    return role in MFA_REQUIRED_ROLES


def start_enrolment(session: Session, user: User) -> str:
    """A new secret for her app, not yet in force; an enrolment already under way keeps its own."""
    if user.mfa_enrolled:
        raise MfaProblem("multi-factor authentication is already set up")
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()
        session.commit()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    if user.totp_secret is None:
        raise MfaProblem("no enrolment under way")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _normalized_digits(code: str) -> str:
    return "".join(code.split())


def check_totp(user: User, code: str, clock: Clock = utcnow) -> bool:
    """Whether `code` is her app's current code, never accepted before; a match is remembered
    so the same code cannot be replayed (ASVS 2.8.4). The caller commits."""
    code = _normalized_digits(code)
    if user.totp_secret is None or not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now_step = totp.timecode(clock())
    for step in range(now_step - _TOTP_DRIFT_STEPS, now_step + _TOTP_DRIFT_STEPS + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def confirm_enrolment(session: Session, user: User, code: str, clock: Clock = utcnow) -> list[str] | None:
    """Put the secret in force when `code` matches it; returns her first recovery codes (shown once),
    or None when the code is wrong."""
    if user.mfa_enrolled:
        raise MfaProblem("multi-factor authentication is already set up")
    if not check_totp(user, code, clock):
        return None
    user.mfa_enabled_at = clock()
    return new_recovery_codes(session, user, clock)


def _recovery_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _normalized_recovery(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def _forget_recovery_codes(session: Session, user: User) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def new_recovery_codes(session: Session, user: User, clock: Clock = utcnow) -> list[str]:
    """Ten fresh codes replacing any earlier ones; only their hashes are kept, so show them now."""
    _forget_recovery_codes(session, user)
    now = clock()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        salt = secrets.token_hex(8)
        session.add(
            RecoveryCode(user_id=user.id, salt=salt, code_hash=_recovery_hash(salt, raw), created_at=now)
        )
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    session.commit()
    return codes


def use_recovery_code(session: Session, user: User, code: str, clock: Clock = utcnow) -> bool:
    """Whether `code` is one of her unused recovery codes; if so it is spent. The caller commits."""
    wanted = _normalized_recovery(code)
    if len(wanted) != _RECOVERY_LENGTH:
        return False
    unused = session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    for row in unused:
        if hmac.compare_digest(row.code_hash, _recovery_hash(row.salt, wanted)):
            row.used_at = clock()
            return True
    return False


def remaining_recovery_codes(session: Session, user: User) -> int:
    query = select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    return len(list(session.scalars(query)))


def check_second_factor(session: Session, user: User, code: str, clock: Clock = utcnow) -> str | None:
    """ "totp" or "recovery_code" when `code` proves her second factor, None otherwise. The caller
    commits, with what the proof was for: the code is spent then, as the act it allowed is done."""
    if check_totp(user, code, clock):
        return "totp"
    if use_recovery_code(session, user, code, clock):
        return "recovery_code"
    return None


def remove_mfa(session: Session, user: User) -> None:
    """She signs in with her password alone again; refused where her role requires a second factor."""
    if mfa_required(user.role):
        raise MfaProblem("a second factor is required for this role")
    reset_mfa(session, user)


def reset_mfa(session: Session, user: User) -> None:
    """For whoever manages Maillage, when she lost her phone and her recovery codes: her second factor
    is forgotten; where her role requires one, she sets up a new one right after her next sign-in."""
    forget_second_factor(session, user)
    session.commit()


def forget_second_factor(session: Session, user: User) -> None:
    """Her secret, its last step and her recovery codes forgotten; the caller commits."""
    user.totp_secret = None
    user.mfa_enabled_at = None
    user.totp_last_step = None
    _forget_recovery_codes(session, user)

"""An organization's team, run by its coordinators: who is in it, invitations, roles, deactivation.

The rules live here once, for the team page and for `maillage users ...`: a coordinator acts on
her own organization's accounts only (any other id is "not found"), an organization never loses
its last active coordinator by her own hand, every change is audited with the account it
concerns, and the person concerned is told by email in the same transaction (the outbox). An
email about an account says what changed and who to ask; nothing about any woman.

An invitation is an account not yet usable (no password, inactive) and a one-time link
(`service.accounts.one_time_links`) made when its email is composed, so the raw token exists only
in the email: accepting it sets her password and makes the account active.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts import one_time_links
from service.accounts.mfa import forget_second_factor
from service.accounts.models import OneTimeLink
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.models import UserSession
from service.accounts.one_time_links import Purpose
from service.accounts.operations import end_all_sessions
from service.accounts.operations import user_by_email
from service.accounts.passwords import hash_password
from service.accounts.passwords import password_weakness
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.notifications.models import OutboxMessage
from service.notifications.outbox import CANCELLED
from service.notifications.outbox import PENDING
from service.notifications.publishing import note_queued
from service.referrals.actors import Actor

# The roles a coordinator gives within her organization; the regional admin belongs to none.
TEAM_ROLES = (Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT, Role.PRIVACY_OFFICER)
INVITATION_LIFETIME = timedelta(hours=72)
# Where an invitation's link leads; the token follows (masked in logs, `service.links.redaction`).
INVITATION_PATH = "/invitation/"
LANGUAGES = ("fr", "en")
# Who acts from a terminal (`maillage users ...`): audited as such, bound by the same rules but the
# last-coordinator one, as the person installing Maillage may close any account.
COMMAND_LINE = "command_line"


class TeamProblem(ValueError):
    """A change to the team was refused; `code` says why, for the page's French message."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


class MemberNotFound(LookupError):
    """No such account in this organization (another organization's account gets the same answer)."""


@dataclass(frozen=True)
class Member:
    """One line of the team page."""

    user_id: int
    name: str
    email: str
    role: str
    mfa_enrolled: bool
    last_sign_in: datetime | None
    active: bool
    invited: bool  # invited and not yet accepted: no password yet

    @property
    def status(self) -> str:
        return "invited" if self.invited else "active" if self.active else "deactivated"


def command_line_actor(organization_id: int | None) -> Actor:
    return Actor(user_id=None, organization_id=organization_id, role=COMMAND_LINE)


def is_invited(user: User) -> bool:
    return user.password_hash is None and not user.active


def team_of(session: Session, organization_id: int) -> list[Member]:
    """The organization's accounts, active first, then by name; with each one's last sign-in."""
    last = (
        select(UserSession.user_id, func.max(UserSession.created_at).label("at"))
        .group_by(UserSession.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User, last.c.at)
        .outerjoin(last, last.c.user_id == User.id)
        .where(User.organization_id == organization_id)
        .order_by(User.active.desc(), func.lower(User.name), User.id)
    ).all()
    return [
        Member(
            user.id,
            user.name,
            user.email,
            user.role,
            user.mfa_enrolled,
            at,
            user.active,
            is_invited(user),
        )
        for user, at in rows
    ]


def member(session: Session, actor: Actor, user_id: int) -> User:
    """The account `user_id` of the actor's organization (any account, from the command line);
    `MemberNotFound` for any other."""
    user = session.get(User, user_id)
    if user is None:
        raise MemberNotFound(user_id)
    if actor.role != COMMAND_LINE and (
        actor.organization_id is None or user.organization_id != actor.organization_id
    ):
        raise MemberNotFound(user_id)
    return user


def active_coordinators(session: Session, organization_id: int) -> list[User]:
    query = select(User).where(
        User.organization_id == organization_id, User.role == Role.COORDINATOR, User.active.is_(True)
    )
    return list(session.scalars(query.order_by(User.id)))


def _keeps_a_coordinator(session: Session, actor: Actor, user: User) -> None:
    """Refuse the change that would leave her organization without an active coordinator when she
    makes it herself (only a coordinator acts on the team page, so the last one is always her)."""
    if actor.role == COMMAND_LINE or user.role != Role.COORDINATOR or not user.active:
        return
    others = [c for c in active_coordinators(session, user.organization_id) if c.id != user.id]
    if not others:
        raise TeamProblem("last_coordinator")


def _notify(session: Session, user: User, template: str, now: datetime, **payload: Any) -> None:
    """Queue an email to the account's own address, sent even once it is deactivated."""
    organization = session.get(Organization, user.organization_id) if user.organization_id else None
    message = OutboxMessage(
        dedupe_key=f"team:{template}:{user.id}:{secrets.token_hex(8)}",
        template=template,
        recipient_party="account",
        recipient_organization_id=user.organization_id,
        payload={
            "user_id": user.id,
            "organization": organization.name if organization else "",
            "path": "/",
            **payload,
        },
        created_at=now,
        available_at=now,
    )
    session.add(message)
    session.flush()
    # Handed to the worker as soon as the change commits, not at the relay's next tick.
    note_queued(session, [message.id])


def _audit(session: Session, action: str, actor: Actor, user: User, now: datetime) -> None:
    audit(session, action, actor, now, subject_user_id=user.id)


def change_role(session: Session, actor: Actor, user_id: int, role: str, *, clock: Clock = utcnow) -> User:
    """Give a member of the actor's organization another role. Commits.

    A role that requires two-step sign-in is asked of her at her next page (`require_mfa_enrolment`).
    """
    user = member(session, actor, user_id)
    if role not in TEAM_ROLES:
        raise TeamProblem("unknown_role")
    if role == user.role:
        return user
    if role != Role.COORDINATOR:
        _keeps_a_coordinator(session, actor, user)
    now = clock()
    user.role = role
    _audit(session, "team.role_changed", actor, user, now)
    _notify(session, user, "account_role_changed", now, role=role)
    session.commit()
    return user


def deactivate(session: Session, actor: Actor, user_id: int, *, clock: Clock = utcnow) -> int:
    """She can no longer sign in and every session of hers ends now; how many ended. Commits.

    Her referrals stay with the organization: messages meant for her go to its active coordinators
    instead (`service.notifications.emails.recipients`), and no message ever goes to an inactive
    account but this one telling her.
    """
    user = member(session, actor, user_id)
    now = clock()
    if is_invited(user):
        # Not yet hers: deactivating withdraws the invitation, its link stops working.
        one_time_links.revoke_all(session, user.id, Purpose.INVITATION, clock=clock)
        _cancel_unsent_invitations(session, user)
        _audit(session, "team.invitation_withdrawn", actor, user, now)
        session.commit()
        return 0
    if not user.active:
        return 0
    _keeps_a_coordinator(session, actor, user)
    user.active = False
    ended = end_all_sessions(session, user.id, clock)
    _audit(session, "team.deactivated", actor, user, now)
    _notify(session, user, "account_deactivated", now)
    session.commit()
    return ended


def reactivate(session: Session, actor: Actor, user_id: int, *, clock: Clock = utcnow) -> User:
    """She may sign in again, with her password as it was. Commits."""
    user = member(session, actor, user_id)
    if user.active:
        return user
    if user.password_hash is None:
        raise TeamProblem("invitation_pending")
    now = clock()
    user.active = True
    _audit(session, "team.reactivated", actor, user, now)
    _notify(session, user, "account_reactivated", now)
    session.commit()
    return user


def reset_two_step(session: Session, actor: Actor, user_id: int, *, clock: Clock = utcnow) -> User:
    """Forget her second factor (lost phone and codes): she sets up a new one at her next sign-in,
    where her role requires one. Her open sessions end, so that happens now. Commits."""
    user = member(session, actor, user_id)
    now = clock()
    forget_second_factor(session, user)
    end_all_sessions(session, user.id, clock)
    _audit(session, "team.mfa_reset", actor, user, now)
    _notify(session, user, "account_mfa_reset", now)
    session.commit()
    return user


def invite(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str,
    role: str,
    language: str = "fr",
    clock: Clock = utcnow,
) -> User:
    """A new account of the actor's organization, usable once she accepts the emailed invitation
    (72 hours, once). Commits. Refused when the email already names an account, unless hers is
    an invitation of this organization not yet accepted: she is invited again."""
    if actor.organization_id is None:
        raise TeamProblem("no_organization")
    user = add_invitation(
        session,
        actor,
        actor.organization_id,
        name=name,
        email=email,
        role=role,
        language=language,
        clock=clock,
    )
    session.commit()
    return user


def add_invitation(
    session: Session,
    actor: Actor,
    organization_id: int,
    *,
    name: str,
    email: str,
    role: str,
    language: str = "fr",
    clock: Clock = utcnow,
) -> User:
    """`invite` to `organization_id`, within the caller's transaction, which commits it. The caller
    has checked that the actor may (her own organization, or the regional admin adding one)."""
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise TeamProblem("bad_email") from None
    if role not in TEAM_ROLES:
        raise TeamProblem("unknown_role")
    if language not in LANGUAGES:
        raise TeamProblem("unknown_language")
    existing = user_by_email(session, address)
    if existing is not None and not (is_invited(existing) and existing.organization_id == organization_id):
        raise TeamProblem("email_taken")
    now = clock()
    if existing is not None:
        # Invited before and not yet accepted (expired, say): the same account, invited again.
        user = existing
        user.name = name.strip() or user.name
        user.role = role
        user.language = language
    else:
        user = User(
            email=address,
            name=name.strip() or address.split("@")[0],
            organization_id=organization_id,
            role=role,
            password_hash=None,
            language=language,
            active=False,
            created_at=now,
        )
        session.add(user)
        session.flush()
    _send_invitation(session, actor, user, now)
    return user


def invite_again(session: Session, actor: Actor, user_id: int, *, clock: Clock = utcnow) -> User:
    """A new invitation email to someone who has not accepted hers (expired, lost, withdrawn): the
    new link replaces the old one. Commits."""
    user = member(session, actor, user_id)
    if not is_invited(user):
        raise TeamProblem("already_accepted")
    _send_invitation(session, actor, user, clock())
    session.commit()
    return user


def _cancel_unsent_invitations(session: Session, user: User) -> None:
    """Invitation emails to her not yet composed are never sent: composing one makes a new link."""
    unsent = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == "account_invitation",
            OutboxMessage.status == PENDING,
            OutboxMessage.recipient_organization_id == user.organization_id,
        )
    )
    for message in unsent:
        if (message.payload or {}).get("user_id") == user.id:
            message.status = CANCELLED
            message.last_error = "invitation_withdrawn"


def _send_invitation(session: Session, actor: Actor, user: User, now: datetime) -> None:
    _audit(session, "team.invited", actor, user, now)
    inviter = session.get(User, actor.user_id) if actor.user_id else None
    _notify(
        session,
        user,
        "account_invitation",
        now,
        role=user.role,
        inviter=inviter.name if inviter else "",
        one_time_link=Purpose.INVITATION.value,
        path=INVITATION_PATH,
        hours=int(INVITATION_LIFETIME.total_seconds() // 3600),
    )


@dataclass(frozen=True)
class InvitationPage:
    """What opening an invitation shows: whose it is, or why it cannot be used and whom to ask."""

    user: User | None
    unusable: str | None
    organization: Organization | None
    coordinators: list[User]


def open_invitation(session: Session, token: str, *, clock: Clock = utcnow) -> InvitationPage:
    """Read an invitation without using it (mail scanners open links): changes nothing."""
    link = one_time_links.find(session, token, Purpose.INVITATION, clock=clock)
    if link is not None:
        user = session.get(User, link.user_id)
        if user is not None and is_invited(user):
            organization = session.get(Organization, user.organization_id)
            return InvitationPage(user, None, organization, [])
    why = one_time_links.why_unusable(session, token, Purpose.INVITATION, clock=clock)
    reason = why.value if why is not None else one_time_links.Unusable.USED.value
    organization = None
    if reason != one_time_links.Unusable.UNKNOWN:
        owner = _invited_user_of(session, token)
        organization = session.get(Organization, owner.organization_id) if owner else None
    coordinators = active_coordinators(session, organization.id) if organization else []
    return InvitationPage(None, reason, organization, coordinators)


def _invited_user_of(session: Session, token: str) -> User | None:
    """Whose invitation a token was, used or expired: her organization's coordinators are whom to ask."""
    user_id = session.scalar(
        select(OneTimeLink.user_id).where(
            OneTimeLink.token_hash == one_time_links.token_hash(token),
            OneTimeLink.purpose == Purpose.INVITATION,
        )
    )
    return session.get(User, user_id) if user_id is not None else None


def accept_invitation(session: Session, token: str, password: str, *, clock: Clock = utcnow) -> User | str:
    """Her password set and her account active, the invitation used up: the account. Otherwise why
    not, nothing changed: a password weakness ("too_short", "too_common") or "unusable". Commits."""
    page = open_invitation(session, token, clock=clock)
    if page.user is None:
        return "unusable"
    weakness = password_weakness(password, personal=(page.user.email, page.user.name))
    if weakness is not None:
        return weakness
    # Hashed before the link's row is taken: argon2 takes a while, the row lock should not.
    password_hash = hash_password(password)
    if one_time_links.consume(session, token, Purpose.INVITATION, clock=clock) != page.user.id:
        session.rollback()
        return "unusable"
    now = clock()
    user = page.user
    user.password_hash = password_hash
    user.active = True
    audit(session, "invitation.accepted", Actor(user.id, user.organization_id, user.role), now)
    session.commit()
    return user

"""The signed-in person as Flask-Login sees her: her session token is her id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_login import UserMixin

from service.accounts.mfa import mfa_required
from service.accounts.models import Role
from service.accounts.models import User
from service.referrals.actors import Actor


@dataclass
class SignedIn(UserMixin):
    token: str
    user_id: int
    name: str
    email: str
    organization_id: int | None
    role: str
    language: str
    mfa_enrolled: bool = False
    # When she last proved who she is in this session (sign-in or confirmation), for re-authentication.
    authenticated_at: datetime | None = None

    @classmethod
    def of(cls, user: User, token: str, authenticated_at: datetime | None = None) -> SignedIn:
        return cls(
            token,
            user.id,
            user.name,
            user.email,
            user.organization_id,
            user.role,
            user.language,
            user.mfa_enrolled,
            authenticated_at,
        )

    def get_id(self) -> str:
        return self.token

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, organization_id=self.organization_id, role=self.role)

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR

    @property
    def is_regional_admin(self) -> bool:
        return self.role == Role.REGIONAL_ADMIN

    @property
    def is_privacy_officer(self) -> bool:
        return self.role == Role.PRIVACY_OFFICER

    @property
    def must_enrol_in_mfa(self) -> bool:
        """Her role requires a second factor and she has none yet: she may only enrol or sign out."""
        return mfa_required(self.role) and not self.mfa_enrolled

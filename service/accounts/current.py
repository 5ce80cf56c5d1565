"""The signed-in person as Flask-Login sees her: her session token is her id."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin

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

    @classmethod
    def of(cls, user: User, token: str) -> SignedIn:
        return cls(token, user.id, user.name, user.email, user.organization_id, user.role, user.language)

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

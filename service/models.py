"""Every model, imported once so the metadata (and Alembic) sees all tables."""

from service.accounts.models import Role
from service.accounts.models import User
from service.db import Base
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import Service
from service.notifications.models import OutboxMessage
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson

__all__ = [
    "Base",
    "Consent",
    "Need",
    "Organization",
    "OutboxMessage",
    "Partnership",
    "Referral",
    "ReferralEvent",
    "ReferralPerson",
    "Role",
    "Service",
    "User",
]

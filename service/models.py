"""Every model, imported once so the metadata (and Alembic) sees all tables."""

from service.accounts.models import OneTimeLink
from service.accounts.models import RecoveryCode
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.models import UserSession
from service.address_book.models import ContactPerson
from service.address_book.models import PartnershipContact
from service.api.models import ApiKey
from service.audit.models import AuditEntry
from service.calendars.models import CalendarFeed
from service.calendars.models import PublicEvent
from service.db import Base
from service.directory.held_imports import HeldImport
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.documents.models import ReferralDocument
from service.health.models import Heartbeat
from service.join_requests.models import JoinRequest
from service.join_requests.models import JoinRequestEvent
from service.links.models import SignedLink
from service.notifications.models import OutboxMessage
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.models import RequestLink
from service.practice_notes.models import PracticeNote
from service.practice_notes.models import PracticeNoteVersion
from service.privacy.models import ConfidentialityIncident
from service.referrals.models import Consent
from service.referrals.models import EmergencyDisclosure
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.read_markers import ReferralReadMarker
from service.reports.models import REPORT_INDEXES
from service.reports.models import ReferralFigure
from service.unmet_needs.models import UnmetNeed

__all__ = [
    "REPORT_INDEXES",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CalendarFeed",
    "ConfidentialityIncident",
    "Consent",
    "ContactPerson",
    "EmergencyDisclosure",
    "Heartbeat",
    "HeldImport",
    "JoinRequest",
    "JoinRequestEvent",
    "Mobilization",
    "Need",
    "OneTimeLink",
    "Organization",
    "OutboxMessage",
    "Partnership",
    "PartnershipContact",
    "PartnershipNote",
    "PartnershipRequest",
    "PartnershipRequestEvent",
    "PracticeNote",
    "PracticeNoteVersion",
    "PublicEvent",
    "RecoveryCode",
    "Referral",
    "ReferralAgreement",
    "ReferralDocument",
    "ReferralEvent",
    "ReferralFigure",
    "ReferralPerson",
    "ReferralReadMarker",
    "RequestLink",
    "Role",
    "Service",
    "SignedLink",
    "UnmetNeed",
    "User",
    "UserSession",
]

"""Who is acting on a referral, and which protocol parties that makes them."""

from __future__ import annotations

from dataclasses import dataclass

from service.accounts.models import Role
from service.referrals.models import Referral

SYSTEM = "system"
# The roles that work on referrals. A privacy officer keeps the incident register and a
# regional admin reads aggregates: neither needs to read a woman's referral, so neither does.
REFERRAL_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT})
RECEIVING = frozenset({"receiver", "receiver_coordinator"})


@dataclass(frozen=True)
class Actor:
    """A signed-in person, a holder of a signed link, an organization's system, or the system itself.

    `api_key_id` is the API key acting, if a system acts through one: its organization's
    audit trail names the key, as it names a person.
    """

    user_id: int | None
    organization_id: int | None
    role: str
    api_key_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, organization_id=None, role=SYSTEM)

    def parties(self, referral: Referral) -> frozenset[str]:
        """The protocol parties this actor stands for on `referral` (none: an outsider)."""
        if self.role == SYSTEM:
            return frozenset({SYSTEM})
        if self.role not in REFERRAL_ROLES:
            return frozenset()
        coordinator = self.role == Role.COORDINATOR
        if self.organization_id == referral.sender_organization_id:
            return frozenset({"sender", "sender_coordinator"} if coordinator else {"sender"})
        if self.organization_id == referral.receiver_organization_id:
            return frozenset({"receiver", "receiver_coordinator"} if coordinator else {"receiver"})
        return frozenset()

    def parties_seeing(self, referral: Referral, *, sent: bool) -> frozenset[str]:
        """The parties this actor stands for as far as seeing `referral` goes (none: a 404).

        The receiving organization sees a referral only once it was `sent`: a draft, or a
        draft discarded unsent, was never shared with it. (`shared_with_receiver` in
        `referrals.queries` is this rule in SQL.)
        """
        parties = self.parties(referral)
        if not sent and parties & RECEIVING:
            return frozenset()
        return parties

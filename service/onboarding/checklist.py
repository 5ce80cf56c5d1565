"""The onboarding checklist of a coordinator's organization, computed from its data.

Nothing is ticked by hand or stored: an item is done when the data shows it (a service covering a
need, a capacity stated, a referral contact, a colleague's account, a partnership), so the list
is true whoever did the work, and from wherever (a page, an import, the command line).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import Service
from service.directory.models import service_needs

ITEMS = ("services", "capacity", "referral_contact", "team", "partnership")


@dataclass(frozen=True)
class Item:
    """One step: its name (`ITEMS`) and whether the data shows it done."""

    name: str
    done: bool


@dataclass(frozen=True)
class Checklist:
    organization_id: int
    items: tuple[Item, ...]

    @property
    def complete(self) -> bool:
        return all(item.done for item in self.items)

    @property
    def done_count(self) -> int:
        return sum(item.done for item in self.items)


def checklist(session: Session, organization_id: int, user_id: int) -> Checklist:
    """Where the organization stands; `user_id` is the coordinator reading it (her own account does
    not count as the team invited)."""
    organization = session.get_one(Organization, organization_id)
    covered = exists().where(
        Service.organization_id == organization_id, service_needs.c.service_id == Service.id
    )
    colleague = exists().where(User.organization_id == organization_id, User.id != user_id)
    partnership = exists().where(
        or_(
            Partnership.first_organization_id == organization_id,
            Partnership.second_organization_id == organization_id,
        )
    )
    services, team, partners = session.execute(select(covered, colleague, partnership)).one()
    return Checklist(
        organization_id,
        (
            Item("services", bool(services)),
            Item("capacity", organization.capacity_status is not None),
            Item("referral_contact", bool(organization.referral_email.strip() or organization.phone.strip())),
            Item("team", bool(team)),
            Item("partnership", bool(partners)),
        ),
    )

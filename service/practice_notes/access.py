"""Who reads a practice note: its organization, its organization's active partners, or the whole network."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from service.accounts.models import Role
from service.directory.models import Partnership
from service.practice_notes.models import NETWORK
from service.practice_notes.models import PARTNERS
from service.practice_notes.models import PracticeNote
from service.referrals.actors import Actor

# Staff who write their organization's notes: not the privacy officer (the register is her work)
# nor the regional admin (she has no organization).
MAY_WRITE = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT})


def may_write(actor: Actor) -> bool:
    return actor.organization_id is not None and actor.role in MAY_WRITE


def may_change(actor: Actor, note: PracticeNote) -> bool:
    """Her organization's notes are her team's: any writer of it edits them."""
    return may_write(actor) and note.organization_id == actor.organization_id


def readable_by(actor: Actor) -> ColumnElement[bool]:
    """The condition a note meets when `actor` may read it, for a query's WHERE."""
    if actor.organization_id is None:
        # The regional admin, who belongs to no organization, reads what the whole network reads.
        return PracticeNote.visibility == NETWORK
    own = actor.organization_id
    partners = (
        select(true())
        .select_from(Partnership)
        .where(
            Partnership.active.is_(True),
            or_(
                and_(
                    Partnership.first_organization_id == own,
                    Partnership.second_organization_id == PracticeNote.organization_id,
                ),
                and_(
                    Partnership.second_organization_id == own,
                    Partnership.first_organization_id == PracticeNote.organization_id,
                ),
            ),
        )
        .exists()
    )
    return or_(
        PracticeNote.organization_id == own,
        PracticeNote.visibility == NETWORK,
        and_(PracticeNote.visibility == PARTNERS, partners),
    )

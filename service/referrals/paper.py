"""Paper for when paper is what works: the consent form she signs by hand, and the sheet she keeps.

Both are read from the referral as its two organizations see it, in the language
she reads (French or English), whatever the language of the caseworker's pages.
Neither carries anything about her: her name, her phone, her situation are
written by hand or not at all, since a sheet naming a shelter may be found by
the person she is fleeing. Printing one is audited, as reading her details is.

The sheet gives the receiving organization's public address, or says it is
confidential when the directory flags it so (a shelter keeps hers to itself, and
Maillage then keeps none), and what to bring, as the organization lists it.

Domain code: no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.directory.models import Organization
from service.privacy.queries import effective_retention
from service.referrals.actors import Actor
from service.referrals.queries import ReferralPage
from service.referrals.queries import status

PAPER_LANGUAGES = ("fr", "en")
# The audit trail's names for printing each paper.
SHEET_VIEWED = "paper.sheet_viewed"
CONSENT_FORM_VIEWED = "paper.consent_form_viewed"


def paper_language(asked: str | None, default: str) -> str:
    """The language asked for the paper if Maillage writes it, else `default` (the page's)."""
    if asked in PAPER_LANGUAGES:
        return asked
    return default if default in PAPER_LANGUAGES else PAPER_LANGUAGES[0]


@dataclass(frozen=True)
class NextStep:
    """What happens next for her, who does it, and by when (None: no date is set)."""

    # The deadline's title in her language, when the receiving organization acts next; None
    # otherwise: the sending side's titles speak of her ("did she get the service?"), not to her.
    what: str | None
    by: Organization | None
    due_at: datetime | None
    finished: bool
    sent: bool


@dataclass(frozen=True)
class HerSheet:
    """What she needs to reach the receiving organization and know what comes next."""

    referral_id: int
    organization: Organization  # the receiving organization
    referring: Organization  # the one that referred her, to call back
    next_step: NextStep


@dataclass(frozen=True)
class ConsentFormFacts:
    """What the consent form says she agrees to: to whom, what, why, and for how long."""

    referral_id: int
    sender: Organization
    receiver: Organization
    needs: list[str]  # in her language
    retention_months: int  # after the referral is closed, her data is erased


def her_sheet(page: ReferralPage, language: str, now: datetime) -> HerSheet:
    """Her sheet for the referral of `page`, its next step said in `language`."""
    referral = page.referral
    seen = status(page.protocol, referral, language, now)
    by = None
    if seen.waits_on is not None:
        by = page.sender if seen.waits_on == "sender" else page.receiver
    step = NextStep(
        what=seen.deadline.title if seen.deadline and seen.waits_on == "receiver" else None,
        by=by,
        due_at=seen.deadline.due_at if seen.deadline else None,
        finished=seen.finished,
        sent=page.sent_at is not None,
    )
    return HerSheet(
        referral_id=referral.id, organization=page.receiver, referring=page.sender, next_step=step
    )


def consent_form(page: ReferralPage, language: str, maximum_months: int) -> ConsentFormFacts:
    """The facts of the consent form for the referral of `page`, in `language`.

    Her data is purged when the shorter period of the two organizations has
    passed after the referral is closed (`service.referrals.retention`).
    """
    referral = page.referral
    months = min(
        effective_retention(page.sender, maximum_months), effective_retention(page.receiver, maximum_months)
    )
    needs = sorted(need.label_en if language == "en" else need.label_fr for need in referral.needs)
    return ConsentFormFacts(
        referral_id=referral.id,
        sender=page.sender,
        receiver=page.receiver,
        needs=needs,
        retention_months=months,
    )


def note_printed(session: Session, action: str, actor: Actor, referral_id: int, at: datetime) -> None:
    """Audit that `actor` opened a paper of the referral to print it; commits."""
    audit(session, action, actor, at, referral_id=referral_id)
    session.commit()

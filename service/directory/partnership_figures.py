"""What went between the two organizations of a partnership in a period: referrals each way, their
outcomes and their times. Counts and durations only, never a referral's content.

A referral counts in the period it was first sent in (`referrals.sent_at`), Montréal days, the end
excluded. Its outcome is read from its log: the first decision (accept, decline or redirect, with
its reason), its closing (with its outcome) or its cancelling. Its times run from its sending to
the first acknowledged receipt and to the first decision.

Shared by the review reminders (`service.directory.reviews`) and the bilan page
(`service.directory.bilans`). Domain code: no Flask.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Partnership
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from workflows.durations import TIME_ZONE

ACKNOWLEDGE = "acknowledge"
ACCEPT = "accept"
DECLINE = "decline"
REDIRECT = "redirect"
DECISIONS = (ACCEPT, DECLINE, REDIRECT)
CLOSE = "close"
CANCEL = "cancel"


@dataclass
class Flow:
    """The referrals one organization sent the other in the period, and what became of them."""

    sender_id: int
    receiver_id: int
    sent: int = 0
    acknowledged: int = 0
    accepted: int = 0
    # Reason code -> referrals; a decision recorded without a reason counts under "".
    declined: Counter[str] = field(default_factory=Counter)
    redirected: Counter[str] = field(default_factory=Counter)
    # Outcome code -> referrals closed with it.
    closed: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    # Hours from sending to acknowledged receipt, and to the first decision, one per referral that got there.
    receipt_hours: list[float] = field(default_factory=list)
    decision_hours: list[float] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.accepted + self.declined.total() + self.redirected.total()

    @property
    def median_receipt_hours(self) -> float | None:
        return median_hours(self.receipt_hours)

    @property
    def median_decision_hours(self) -> float | None:
        return median_hours(self.decision_hours)


def median_hours(hours: list[float]) -> float | None:
    return round(statistics.median(hours), 1) if hours else None


def moment(day: date) -> datetime:
    """A Montréal day's first moment."""
    return datetime.combine(day, time(), tzinfo=TIME_ZONE)


def flows(session: Session, partnership: Partnership, start: date, end: date) -> tuple[Flow, Flow]:
    """The referrals sent from `start` to `end` (Montréal days, end excluded): first to second, then back."""
    first, second = partnership.first_organization_id, partnership.second_organization_id
    result = {first: Flow(first, second), second: Flow(second, first)}
    between = [
        or_(
            and_(Referral.sender_organization_id == first, Referral.receiver_organization_id == second),
            and_(Referral.sender_organization_id == second, Referral.receiver_organization_id == first),
        ),
        Referral.sent_at >= moment(start),
        Referral.sent_at < moment(end),
    ]
    for sender_id, count in session.execute(
        select(Referral.sender_organization_id, func.count())
        .where(*between)
        .group_by(Referral.sender_organization_id)
    ):
        result[sender_id].sent = count
    events = session.execute(
        select(
            ReferralEvent.referral_id,
            Referral.sender_organization_id,
            Referral.sent_at,
            ReferralEvent.trigger,
            ReferralEvent.reason_code,
            ReferralEvent.at,
        )
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .where(*between, ReferralEvent.trigger.in_((ACKNOWLEDGE, *DECISIONS, CLOSE, CANCEL)))
        .order_by(ReferralEvent.referral_id, ReferralEvent.seq)
    )
    seen: set[tuple[int, str]] = set()
    for referral_id, sender_id, sent_at, trigger, reason, at in events:
        # A protocol may go through a step twice (a decision taken back): its first time counts.
        step = "decision" if trigger in DECISIONS else trigger
        if (referral_id, step) in seen:
            continue
        seen.add((referral_id, step))
        flow = result[sender_id]
        hours = (at - sent_at).total_seconds() / 3600
        if trigger == ACKNOWLEDGE:
            flow.acknowledged += 1
            flow.receipt_hours.append(hours)
        elif trigger in DECISIONS:
            flow.decision_hours.append(hours)
            if trigger == ACCEPT:
                flow.accepted += 1
            elif trigger == DECLINE:
                flow.declined[reason or ""] += 1
            else:
                flow.redirected[reason or ""] += 1
        elif trigger == CLOSE:
            flow.closed[reason or ""] += 1
        else:
            flow.cancelled += 1
    return result[first], result[second]

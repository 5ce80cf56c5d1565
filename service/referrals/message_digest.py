"""The daily digest of messages: one email per organization and day, instead of one per message.

The first message of a (Montréal) day on a referral to one side is told at once
(`messages._tell`: a waiting answer is not held back until tomorrow). Later ones
that day get no email of their own: the next morning, from the digest hour, each
organization that had such messages gets one email with a line per referral,
"N new messages on referral no. X" and its link, where N counts the messages it
has still not read (`read_markers`). A referral whose messages it has all read
since, or whose consent has lapsed, is left out; nothing left, no email. No
words of a message, no personal data: numbers, counts and links.

Domain code: no Flask, no Celery. The worker's daily digest task calls `queue_message_digests`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.notifications.digest import queue_rows
from service.notifications.models import OutboxMessage
from service.referrals.consent_expiry import lapsed_among
from service.referrals.messages import MESSAGE_KIND
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.read_markers import unread_counts
from workflows.durations import TIME_ZONE

TEMPLATE = "message_digest"
# The outbox's recipient of a digest meant for a whole organization (`emails.compose_summary`).
RECIPIENT = "organization"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a Montréal day starts and ends at (23 or 25 hours when the clocks change)."""
    start = datetime.combine(day, time(0), TIME_ZONE)
    end = datetime.combine(day + timedelta(days=1), time(0), TIME_ZONE)
    return start, end


def unannounced(session: Session, day: date) -> dict[int, set[int]]:
    """The referrals, by the organization they were written to, that got messages on `day` beyond
    the first to that side (the one told at once): those no email named yet."""
    start, end = day_bounds(day)
    query = (
        select(
            ReferralEvent.referral_id,
            ReferralEvent.actor_party,
            Referral.sender_organization_id,
            Referral.receiver_organization_id,
        )
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .where(ReferralEvent.kind == MESSAGE_KIND, ReferralEvent.at >= start, ReferralEvent.at < end)
        .group_by(
            ReferralEvent.referral_id,
            ReferralEvent.actor_party,
            Referral.sender_organization_id,
            Referral.receiver_organization_id,
        )
        .having(func.count() > 1)
    )
    found: dict[int, set[int]] = defaultdict(set)
    for referral_id, writer, sender_id, receiver_id in session.execute(query):
        found[receiver_id if writer == "sender" else sender_id].add(referral_id)
    return found


def queue_message_digests(session: Session, *, from_hour: int = 7, clock: Clock = utcnow) -> int:
    """Queue, for yesterday's messages, each organization's digest; returns how many. Commits.

    Once a day (Montréal's day), from `from_hour` o'clock: the dedupe key
    `message-digest:{organization id}:{yesterday}` keeps a second run from queuing another.
    """
    now = clock()
    local = now.astimezone(TIME_ZONE)
    if local.hour < from_hour:
        return 0
    day = local.date() - timedelta(days=1)
    by_organization = unannounced(session, day)
    lapsed = lapsed_among(session, {r for referrals in by_organization.values() for r in referrals}, now)
    keys = {
        organization_id: f"message-digest:{organization_id}:{day.isoformat()}"
        for organization_id in by_organization
    }
    done = set(
        session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys.values())))
    )
    rows = []
    for organization_id in sorted(by_organization):
        if keys[organization_id] in done:
            continue
        wanted = sorted(by_organization[organization_id] - lapsed.keys())
        counts = unread_counts(session, organization_id, wanted)
        unread = [number for number in wanted if counts.get(number)]
        if not unread:
            continue
        rows.append(
            {
                "dedupe_key": keys[organization_id],
                "template": TEMPLATE,
                "recipient_party": RECIPIENT,
                "recipient_organization_id": organization_id,
                "payload": {
                    "day": day.isoformat(),
                    "unread": unread,
                    # JSON keys are strings: the template looks them up so.
                    "counts": {str(number): counts[number] for number in unread},
                    "path": "/",
                },
                "created_at": now,
                "available_at": now,
            }
        )
    return queue_rows(session, rows)

"""The outbox forgets the emails sent long ago, but never what keeps a reminder from coming again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update

from service.notifications.cleanup import KEEP
from service.notifications.cleanup import forget_old_messages
from service.notifications.models import OutboxMessage
from service.notifications.outbox import FAILED
from service.notifications.outbox import PENDING
from service.notifications.outbox import SENT
from service.referrals.consent_expiry import remind_lapsed_consents
from tests.service.test_periodic import sent_referral


def keys(session) -> dict[str, str]:
    return dict(session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status)).all())


def queued(session, key: str, status: str, at) -> None:
    session.add(
        OutboxMessage(dedupe_key=key, template="digest", status=status, created_at=at, available_at=at)
    )
    session.commit()


def test_sent_rows_go_after_the_keeping_period_and_a_lapsed_consent_is_not_asked_about_again(
    session, protocols, network, clock
):
    start = clock.now
    sent_referral(session, protocols, network, clock, expires_in=timedelta(days=30))
    clock.advance(days=31)
    assert remind_lapsed_consents(session, protocols, clock=clock) == 1
    session.execute(update(OutboxMessage).values(status=SENT, sent_at=clock.now))
    session.commit()
    notices = [key for key in keys(session) if key.startswith("referral:")]
    assert notices  # the referral's own notices to the shelter
    (asked,) = [key for key in keys(session) if key.startswith("consent:")]
    queued(session, "digest:old-failed", FAILED, clock.now)
    queued(session, "digest:old-pending", PENDING, clock.now)

    clock.now = start + KEEP - timedelta(minutes=1)  # the notices are not quite old enough yet
    queued(session, "digest:recent", SENT, clock.now)
    assert forget_old_messages(session, clock=clock) == 0

    clock.now = start + timedelta(days=31) + KEEP + timedelta(minutes=1)
    assert forget_old_messages(session, clock=clock) == len(notices)
    assert keys(session) == {
        asked: SENT,
        "digest:old-failed": FAILED,
        "digest:old-pending": PENDING,
        "digest:recent": SENT,
    }
    # Her consent still lapsed: the request to renew it, kept, still counts as made.
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    assert forget_old_messages(session, clock=clock) == 0


def test_years_of_rows_go_a_batch_at_a_time(session, clock, monkeypatch):
    monkeypatch.setattr("service.notifications.cleanup.BATCH", 3)
    for number in range(8):
        queued(session, f"digest:{number}", SENT, clock.now)
    clock.advance(days=KEEP.days + 1)
    assert forget_old_messages(session, clock=clock) == 8
    assert keys(session) == {}

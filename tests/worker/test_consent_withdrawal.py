"""She withdraws her consent: through the real sending path and an SMTP server, the receiving
organization gets one email telling it to stop, and nothing else about the referral goes out,
whatever happens to the referral afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.config import Settings
from service.notifications.models import OutboxMessage
from service.referrals.operations import fire
from service.referrals.operations import withdraw_consent
from tests.worker.conftest import BASE_URL
from tests.worker.test_notifications import assert_nothing_about_her
from tests.worker.test_notifications import send_referral
from worker.sending import deliver
from worker.tasks import sweep


def deliver_pending(session, sessions, protocols, sink, clock):
    session.commit()
    ids = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending")))
    session.rollback()  # end the read: on SQLite, a stale reader may not write later
    return deliver(
        ids,
        sessions=sessions,
        protocols=protocols,
        config=Settings(smtp_url=sink.url, base_url=BASE_URL),
        clock=clock,
    )


def test_withdrawal_sends_the_stop_notice_and_silences_everything_else(
    session, sessions, protocols, world, sink, clock
):
    referral_id = send_referral(session, protocols, world, clock)
    assert deliver_pending(session, sessions, protocols, sink, clock).sent == 1
    sent_before = len(sink.wait_for(2))

    clock.advance(hours=1)
    fire(session, protocols, referral_id, "acknowledge", world.shelter.caseworker, clock=clock)
    withdraw_consent(session, referral_id, world.centre.caseworker, clock=clock)
    clock.advance(minutes=5)
    fire(session, protocols, referral_id, "accept", world.shelter.caseworker, clock=clock)
    delivery = deliver_pending(session, sessions, protocols, sink, clock)

    assert delivery.sent == 1
    received = sink.wait_for(sent_before + 2)
    sink.wait_for(sent_before + 3, timeout=2)  # give a stray email the time to show up
    notices = received[sent_before:]
    assert len(sink.messages()) == sent_before + 2, "only the notice, to the shelter's two people"
    for _address, message in notices:
        text = message.get_body(("plain",)).get_content()
        # French once the catalog has it (/work/po), English until then.
        assert "retiré son consentement" in text or "withdrawn her consent" in text
        assert_nothing_about_her(message)
    statuses = dict(
        session.execute(
            select(OutboxMessage.template, OutboxMessage.last_error).where(
                OutboxMessage.referral_id == referral_id, OutboxMessage.status == "cancelled"
            )
        ).all()
    )
    assert statuses == {"referral_received": "consent_withdrawn", "referral_accepted": "consent_withdrawn"}


def cancelled_about(session, referral_id: int) -> dict[str, str]:
    """The referral's messages that were never sent, by template, with the reason."""
    session.rollback()
    query = select(OutboxMessage.template, OutboxMessage.last_error).where(
        OutboxMessage.referral_id == referral_id, OutboxMessage.status == "cancelled"
    )
    return dict(session.execute(query).all())


def withdraw_and_deliver_the_notice(session, sessions, protocols, world, sink, clock, referral_id) -> int:
    """She withdraws; the shelter's two people get the notice. Returns how many emails went out so far."""
    before = len(sink.messages())
    withdraw_consent(session, referral_id, world.centre.caseworker, clock=clock)
    assert deliver_pending(session, sessions, protocols, sink, clock).sent == 1
    return len(sink.wait_for(before + 2))


@pytest.mark.parametrize(
    ("trigger", "reason", "template"),
    [
        ("cancel", "consent_withdrawn", "referral_cancelled"),
        ("close", "person_withdrew", "referral_closed"),
    ],
)
def test_closing_or_cancelling_a_withdrawn_referral_emails_nobody(
    session, sessions, protocols, world, sink, clock, trigger, reason, template
):
    referral_id = send_referral(session, protocols, world, clock)
    if trigger == "close":  # only a referral in progress is closed
        clock.advance(hours=1)
        for step in ("acknowledge", "accept", "record_first_contact"):
            fire(session, protocols, referral_id, step, world.shelter.caseworker, clock=clock)
    deliver_pending(session, sessions, protocols, sink, clock)
    clock.advance(minutes=5)
    sent_so_far = withdraw_and_deliver_the_notice(
        session, sessions, protocols, world, sink, clock, referral_id
    )

    # Her caseworker then ends the referral: the shelter hears nothing more of it.
    clock.advance(days=1)
    fire(session, protocols, referral_id, trigger, world.centre.caseworker, reason=reason, clock=clock)
    delivery = deliver_pending(session, sessions, protocols, sink, clock)

    assert delivery.sent == 0
    sink.wait_for(sent_so_far + 1, timeout=2)  # give a stray email the time to show up
    assert len(sink.messages()) == sent_so_far
    assert cancelled_about(session, referral_id) == {template: "consent_withdrawn"}
    notices = session.scalars(
        select(OutboxMessage.status).where(
            OutboxMessage.referral_id == referral_id, OutboxMessage.template == "consent_withdrawn"
        )
    ).all()
    assert notices == ["sent"], "the notice to stop went out, once"


def test_the_deadline_sweep_sends_no_reminder_about_a_withdrawn_referral(
    session, sessions, protocols, world, sink, clock
):
    referral_id = send_referral(session, protocols, world, clock)
    deliver_pending(session, sessions, protocols, sink, clock)
    sent_so_far = withdraw_and_deliver_the_notice(
        session, sessions, protocols, world, sink, clock, referral_id
    )

    # Nobody acknowledges it: two weeks on, the reminder and then the escalation fall due.
    clock.advance(days=14)
    session.rollback()
    assert sweep(sessions, clock=clock) == 2
    assert deliver_pending(session, sessions, protocols, sink, clock).sent == 0

    sink.wait_for(sent_so_far + 1, timeout=2)
    assert len(sink.messages()) == sent_so_far
    assert cancelled_about(session, referral_id) == {
        "deadline_reminder": "consent_withdrawn",
        "deadline_escalation": "consent_withdrawn",
        "deadline_overdue_notice": "consent_withdrawn",
    }

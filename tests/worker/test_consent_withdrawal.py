"""She withdraws her consent: through the real sending path and an SMTP server, the receiving
organization gets one email telling it to stop, and nothing else about the referral goes out."""

from __future__ import annotations

from sqlalchemy import select

from service.config import Settings
from service.notifications.models import OutboxMessage
from service.referrals.operations import fire
from service.referrals.operations import withdraw_consent
from tests.worker.conftest import BASE_URL
from tests.worker.test_notifications import assert_nothing_about_her
from tests.worker.test_notifications import send_referral
from worker.sending import deliver


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

"""Messages are told at once the first time in a day, then counted in each organization's next-morning
digest: one email per organization and day, never one per message, never their words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service.links.operations import resolve_link
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.notifications.outbox import lock_pending_batch
from service.referrals.message_digest import TEMPLATE
from service.referrals.message_digest import queue_message_digests
from service.referrals.messages import write_message
from service.referrals.operations import fire
from service.referrals.operations import withdraw_consent
from service.referrals.read_markers import mark_read
from tests.service.test_messages import NAME
from tests.service.test_messages import WORDS
from tests.service.test_messages import draft

BASE = "https://maillage.example.org"


@pytest.fixture
def sent(session, protocols, network, clock):
    """Make a referral from the women's centre to the shelter, with her consent, and send it."""

    def make() -> int:
        opened = draft(session, protocols, network, clock)
        return fire(session, protocols, opened.id, "send", network.womens_centre.caseworker, clock=clock).id

    return make


def digests(session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == TEMPLATE).order_by(OutboxMessage.id)
    return list(session.scalars(query))


def notices(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "new_message")))


def write(session, actor, number, clock, times: int) -> None:
    for _ in range(times):
        write_message(session, number, actor, WORDS, clock=clock)
        clock.advance(minutes=10)


def test_the_days_later_messages_go_into_each_organizations_next_morning_digest(
    session, protocols, network, clock, sent
):
    # Friday 27 November 2026, from 10:00 in Montréal.
    busy, quiet = sent(), sent()
    centre, shelter = network.womens_centre, network.shelter
    write(session, centre.caseworker, busy, clock, 3)
    write(session, shelter.caseworker, busy, clock, 2)
    write(session, centre.caseworker, quiet, clock, 1)
    # The first of the day on each referral to each side went at once; no other email.
    assert sorted((n.referral_id, n.recipient_party) for n in notices(session)) == sorted(
        [(busy, "receiver"), (busy, "sender"), (quiet, "receiver")]
    )

    saturday = clock.now.replace(hour=11, minute=0) + timedelta(days=1)  # 6:00 in Montréal
    assert queue_message_digests(session, from_hour=7, clock=lambda: saturday) == 0
    morning = saturday + timedelta(hours=2)
    assert queue_message_digests(session, from_hour=7, clock=lambda: morning) == 2
    assert queue_message_digests(session, from_hour=7, clock=lambda: morning + timedelta(hours=9)) == 0

    to_centre, to_shelter = sorted(
        digests(session), key=lambda d: d.recipient_organization_id != centre.organization.id
    )
    assert to_shelter.recipient_organization_id == shelter.organization.id
    assert to_shelter.payload["unread"] == [busy]  # `quiet` had one message: its notice said it all
    assert to_shelter.payload["counts"] == {str(busy): 3}
    assert to_centre.payload["counts"] == {str(busy): 2}

    emails = compose(session, protocols, to_shelter, base_url=BASE, now=morning)
    assert sorted(email.to for email in emails) == sorted(
        f"{role}@{shelter.organization.id}.example.org" for role in ("caseworker", "coordinator")
    )
    for email in emails:
        assert email.subject == "3 nouveaux messages sur vos référencements dans Maillage"
        assert f"3 nouveaux messages sur le référencement nº {busy} : {BASE}/referrals/{busy}" in email.text
        assert f'<a href="{BASE}/referrals/{busy}">' in email.html
        for text in (email.subject, email.text, email.html):
            assert WORDS not in text
            assert NAME not in text


def test_an_organization_that_read_them_gets_no_digest(session, network, clock, sent):
    number = sent()
    write(session, network.womens_centre.caseworker, number, clock, 2)
    mark_read(session, number, network.shelter.organization.id)  # someone of the shelter opened the page

    morning = clock.now + timedelta(hours=22)
    assert queue_message_digests(session, from_hour=7, clock=lambda: morning) == 0


def test_a_referral_whose_consent_was_withdrawn_is_left_out_when_queued_and_when_sent(
    session, protocols, network, clock, sent
):
    withdrawn, kept, later = sent(), sent(), sent()
    for number in (withdrawn, kept, later):
        write(session, network.womens_centre.caseworker, number, clock, 2)
    withdraw_consent(session, withdrawn, network.womens_centre.caseworker, clock=clock)

    morning = clock.now + timedelta(hours=22)
    assert queue_message_digests(session, from_hour=7, clock=lambda: morning) == 1
    [digest] = digests(session)
    assert digest.payload["unread"] == [kept, later]

    # Between queuing and sending, her consent to the other one is withdrawn too.
    withdraw_consent(session, kept, network.womens_centre.caseworker, clock=lambda: morning)
    [still] = lock_pending_batch(session, [digest.id], now=morning + timedelta(minutes=1))
    assert still.payload["unread"] == [later]


def test_an_organization_address_gets_signed_links_to_the_referrals_it_received(
    session, protocols, network, clock, sent
):
    network.shelter.organization.referral_email = "accueil@phare.example.org"
    session.commit()
    number = sent()
    write(session, network.womens_centre.caseworker, number, clock, 2)

    morning = clock.now + timedelta(hours=22)
    assert queue_message_digests(session, from_hour=7, clock=lambda: morning) == 1
    [digest] = digests(session)
    [email] = compose(session, protocols, digest, base_url=BASE, now=morning)
    session.commit()

    assert email.to == "accueil@phare.example.org"
    assert f"{BASE}/referrals/{number}" not in email.text
    [token] = [word.rsplit("/link/", 1)[1] for word in email.text.split() if "/link/" in word]
    assert resolve_link(session, token, clock=lambda: morning).referral_id == number

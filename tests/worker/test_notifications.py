"""A change's emails reach the right people, in their language, with a link, and nothing about her."""

from __future__ import annotations

import re
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.directory.models import Organization
from service.links.operations import resolve_link
from service.notifications.models import OutboxMessage
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.conftest import Clock
from tests.worker.conftest import BASE_URL
from tests.worker.conftest import CANARY
from tests.worker.conftest import CANARY_STRINGS
from tests.worker.conftest import World
from tests.worker.conftest import wait_until


def send_referral(session: Session, protocols, world: World, clock: Clock, *, consent: bool = True) -> int:
    """The centre's caseworker opens a referral to the shelter with her details, then sends it."""
    sender = world.centre.caseworker
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=world.shelter.organization.id,
        protocol_name="standard",
        person=CANARY,
        clock=clock,
    )
    if consent:
        record_consent(
            session,
            draft.id,
            sender,
            method="verbal",
            shared_with="Maison",
            purpose="hébergement",
            clock=clock,
        )
    fire(session, protocols, draft.id, "send", sender, clock=clock)
    return draft.id


def everything_in(message: EmailMessage) -> str:
    """Every header and every decoded part of a message, as one text."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    parts = [part.get_content() for part in message.walk() if not part.is_multipart()]
    return "\n".join([headers, *parts, message.as_string()])


def assert_nothing_about_her(message: EmailMessage) -> None:
    seen = everything_in(message).casefold()
    for canary in CANARY_STRINGS:
        assert canary.casefold() not in seen, f"{canary!r} leaked into an email"
    # Her email's domain and phone digits, in case something reformats them.
    assert "example.net" not in seen
    assert "5550199" not in re.sub(r"\D", "", seen)


def set_language(session: Session, user_id: int, language: str) -> None:
    session.get(User, user_id).language = language
    session.commit()


def test_sending_emails_the_receivers_people_in_their_language_with_the_page_and_nothing_about_her(
    session, protocols, world, sink, worker_process, run_relay, clock
):
    set_language(session, world.shelter.caseworker.user_id, "en")
    referral_id = send_referral(session, protocols, world, clock)
    worker_process.start()

    assert run_relay() == 1
    received = sink.wait_for(2)

    by_address = dict(received)
    caseworker = session.get(User, world.shelter.caseworker.user_id).email
    coordinator = session.get(User, world.shelter.coordinator.user_id).email
    assert sorted(by_address) == sorted([caseworker, coordinator]), (
        "one email to each of the shelter's people"
    )
    sender = world.centre.organization.name

    english = by_address[caseworker]
    assert english["Subject"] == f"New referral no. {referral_id} from {sender}"
    assert english["Content-Language"] == "en"
    body = english.get_body(("plain",)).get_content()
    assert "What is expected, due Wednesday, June 25, 2025 at 11:00 a.m.:\nAcknowledge receipt\n" in body, (
        body
    )
    assert f"{BASE_URL}/referrals/{referral_id}" in body
    assert f'href="{BASE_URL}/referrals/{referral_id}"' in english.get_body(("html",)).get_content()

    french = by_address[coordinator]
    assert french["Content-Language"] == "fr"
    assert french["Subject"] != english["Subject"]
    assert sender in french["Subject"]
    # Two business days from Friday skip the weekend and the Fête nationale (Tuesday 24 June).
    assert "mercredi 25 juin 2025 à 11 h" in french.get_body(("plain",)).get_content()
    assert f"référencement nº {referral_id}" in french["Subject"]

    for _address, message in received:
        assert_nothing_about_her(message)
        assert message["From"] == "Maillage <noreply@maillage.example.org>"
    assert english["Message-ID"] != french["Message-ID"]

    def recorded() -> bool:
        # The server takes the emails first, then the worker commits "sent".
        session.rollback()
        return session.scalars(select(OutboxMessage.status)).one() == "sent"

    wait_until(recorded, timeout=10, what="the message to be recorded as sent")
    row = session.scalars(select(OutboxMessage)).one()
    assert (row.status, row.attempts, row.last_error) == ("sent", 0, None)
    assert row.sent_at is not None


def test_an_organization_address_gets_one_french_email_with_a_signed_link_to_this_referral(
    session, protocols, world, sink, worker_process, run_relay, clock
):
    shelter = session.get(Organization, world.shelter.organization.id)
    shelter.referral_email = "accueil@phare.example.org"
    session.commit()
    referral_id = send_referral(session, protocols, world, clock)
    worker_process.start()

    run_relay()
    [(address, message)] = sink.wait_for(1)
    sink.wait_for(2, timeout=1)  # and nothing more

    assert len(sink.messages()) == 1
    assert address == "accueil@phare.example.org"
    assert message["Content-Language"] == "fr"
    assert_nothing_about_her(message)
    body = message.get_body(("plain",)).get_content()
    token = re.search(rf"{re.escape(BASE_URL)}/link/([\w-]+)", body).group(1)
    session.expire_all()
    link = resolve_link(session, token, clock=clock)
    assert link.referral_id == referral_id
    assert link.organization_id == world.shelter.organization.id


def test_answers_go_to_the_person_who_sent_the_referral(
    session, protocols, world, sink, worker_process, run_relay, clock
):
    referral_id = send_referral(session, protocols, world, clock)
    fire(session, protocols, referral_id, "acknowledge", world.shelter.caseworker, clock=clock)
    worker_process.start()

    run_relay()
    received = sink.wait_for(3)

    author = session.get(User, world.centre.caseworker.user_id).email
    acknowledged = [m for a, m in received if a == author]
    assert len(acknowledged) == 1, [a for a, _m in received]
    assert world.shelter.organization.name in acknowledged[0]["Subject"]
    assert_nothing_about_her(acknowledged[0])

"""The failed messages page: a coordinator sees the emails to her organization that the outbox
gave up on, and puts one back in the queue; nobody else sees or retries them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.notifications.failed import failed_count
from service.notifications.failed_views import TEMPLATE_NAMES
from service.notifications.models import OutboxMessage
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in

PAGE = "/notifications/failed/"


@pytest.fixture
def messages(session, protocols, network, clock) -> dict[str, OutboxMessage]:
    """Failed and pending messages to the shelter, and a failed one to the women's centre."""
    referral = referral_in("sent", session, protocols, network, clock)
    shelter, centre = network.shelter.organization.id, network.womens_centre.organization.id
    rows = {
        "failed": ("referral_received", shelter, "failed", 8, "SMTPRecipientsRefused:550"),
        "older": ("deadline_reminder", shelter, "failed", 1, "no_recipient:receiver"),
        "pending": ("referral_accepted", shelter, "pending", 2, "SMTPDataError:451"),
        "theirs": ("referral_sent", centre, "failed", 8, "SMTPSenderRefused:553"),
    }
    made = {}
    for age, (name, (template, organization, status, attempts, error)) in enumerate(rows.items()):
        message = OutboxMessage(
            dedupe_key=f"test:{name}:{referral.id}",
            template=template,
            referral_id=referral.id,
            recipient_party="receiver",
            recipient_organization_id=organization,
            status=status,
            attempts=attempts,
            created_at=clock.now - timedelta(hours=age),
            available_at=clock.now - timedelta(hours=age),
            last_error=error,
        )
        session.add(message)
        made[name] = message
    session.commit()
    return made


def test_the_coordinator_sees_her_organizations_failed_messages(app, session, network, messages):
    client = signed_in(app, network.shelter.coordinator, session)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.text
    assert page.count("<h1>") == 1
    assert page.count('<th scope="col">') == 6
    # Newest first, by a readable name; the referral's number links to it; the error code only.
    assert page.index("Referral received") < page.index("Deadline reminder")
    assert "referral_received" not in page
    assert f'href="/referrals/{messages["failed"].referral_id}"' in page
    assert "SMTPRecipientsRefused:550" in page
    assert "no_recipient:receiver" in page
    assert f"/notifications/failed/{messages['failed'].id}/retry" in page
    # Not a pending one, not another organization's.
    assert "SMTPDataError" not in page
    assert "SMTPSenderRefused" not in page
    assert f"/notifications/failed/{messages['theirs'].id}/retry" not in page
    # Her menu leads there.
    assert f'href="{PAGE}"' in client.get("/organization").text


def test_the_page_is_in_french_for_her(app, session, network, messages):
    client = signed_in(app, network.shelter.coordinator, session, language="fr")
    page = client.get(PAGE).text
    assert "Messages en échec" in page
    assert "Référencement reçu" in page
    assert "Réessayer" in page


def test_an_empty_page_says_so(app, session, network):
    client = signed_in(app, network.legal_aid.coordinator, session)
    page = client.get(PAGE).text
    assert "No failed message" in page
    assert "<table" not in page


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.PARTNER_CONTACT])
def test_other_roles_of_the_organization_are_refused(app, session, network, messages, clock, role):
    actor = (
        network.shelter.caseworker
        if role == Role.CASEWORKER
        else make_user(session, network.shelter.organization.id, role, clock)
    )
    client = signed_in(app, actor, session)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}{messages['failed'].id}/retry").status_code == 403
    assert session.get(OutboxMessage, messages["failed"].id).status == "failed"
    assert f'href="{PAGE}"' not in client.get("/organization").text


def test_the_regional_admin_is_refused(app, session, network, messages, clock):
    admin = make_user(session, None, Role.REGIONAL_ADMIN, clock)
    client = signed_in(app, admin, session)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}{messages['failed'].id}/retry").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_retry_puts_the_message_back_in_the_queue(app, session, network, messages, clock):
    client = signed_in(app, network.shelter.coordinator, session)
    clock.advance(minutes=5)
    response = client.post(f"{PAGE}{messages['failed'].id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    message = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == messages["failed"].id)
        .execution_options(populate_existing=True)
    )
    assert (message.status, message.attempts, message.last_error) == ("pending", 0, None)
    assert message.available_at == clock.now
    page = client.get(PAGE).text
    assert "is back in the queue" in page
    assert "SMTPRecipientsRefused" not in page
    # Twice: nothing more to do, and she is told.
    client.post(f"{PAGE}{messages['failed'].id}/retry")
    assert "is no longer failed" in client.get(PAGE).text


def test_another_organizations_message_is_not_found(app, session, network, messages):
    client = signed_in(app, network.shelter.coordinator, session)
    assert client.post(f"{PAGE}{messages['theirs'].id}/retry").status_code == 404
    assert client.post(f"{PAGE}999999/retry").status_code == 404
    theirs = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == messages["theirs"].id)
        .execution_options(populate_existing=True)
    )
    assert (theirs.status, theirs.attempts) == ("failed", 8)


def test_failed_count_is_per_organization(session, network, messages):
    assert failed_count(session, network.shelter.organization.id) == 2
    assert failed_count(session, network.womens_centre.organization.id) == 1
    assert failed_count(session, network.legal_aid.organization.id) == 0


def test_every_template_has_a_readable_name(protocols):
    used = set()
    for protocol in protocols.latest():
        for transition in protocol.transitions:
            used |= {notification.template for notification in transition.notifications}
        for state in protocol.states.values():
            for step in state.deadline.steps if state.deadline else ():
                used |= {notification.template for notification in step.notify}
    assert "deadline_escalation" in used
    assert used <= set(TEMPLATE_NAMES)

"""An organization not yet in Maillage asks to join from the public page; the regional admin is told
(a link, no contact details), accepts (the organization and its coordinator's invitation, in one
commit) or declines with a reason (the requester is told it in French). The request follows the
join_request protocol: reminded after 5 business days, once, by the sweep. Nobody else sees it."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.models import Organization
from service.errors import ConcurrentUpdate
from service.join_requests import operations
from service.join_requests.models import JoinRequest
from service.join_requests.models import JoinRequestEvent
from service.join_requests.retention import forget_declined_contacts
from service.notifications.emails import compose_summary
from service.notifications.models import OutboxMessage
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user
from tests.service.test_rate_limits import limited_app
from worker.tasks import sweep
from workflows.durations import add_business_days

BASE = "https://maillage.example.org"
FORM = {
    "organization_name": "Maison Fictive de l'Entraide",
    "mandate": "Hébergement et accompagnement de femmes à Laval.",
    "territory": "Laval",
    "contact_name": "Josée Tremblay-Fictive",
    "contact_email": "josee@entraide.example.org",
    "contact_phone": "450 555-0199",
    "consent": "y",
}


def requests_in(session) -> list[JoinRequest]:
    return list(session.scalars(select(JoinRequest).execution_options(populate_existing=True)))


def messages(session, template: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


@pytest.fixture
def admin(session, clock):
    return make_user(session, Role.REGIONAL_ADMIN, None, clock)


@pytest.fixture
def submitted(session, protocols, clock, admin) -> JoinRequest:
    application = operations.Application(**{k: v for k, v in FORM.items() if k != "consent"})
    return operations.submit(session, protocols, application, clock=clock)


# The public page ---------------------------------------------------------------------------------


def test_the_sign_in_page_leads_to_the_public_page_in_french(client):
    assert 'href="/join"' in client.get("/sign-in").text
    page = client.get("/join")
    assert page.status_code == 200
    assert "<h1>Rejoindre Maillage</h1>" in page.text
    assert "Nom de l" in page.text
    english = client.get("/join?lang=en")
    assert "<h1>Join Maillage</h1>" in english.text
    assert "Name of the organization" in english.text


def test_a_form_with_gaps_says_what_is_missing_in_french_and_keeps_nothing(client, session):
    answer = client.post(
        "/join", data={"organization_name": "Maison Fictive", "contact_email": "pas-un-courriel"}
    )
    assert answer.status_code == 200
    assert "Décrivez la mission de l" in answer.text
    assert "Entrez une adresse courriel comme nom@example.org." in answer.text
    assert "Cochez la case pour consentir" in answer.text
    assert "Traceback" not in answer.text
    assert requests_in(session) == []


def test_without_consent_to_keep_her_details_nothing_is_kept(client, session, admin):
    answer = client.post("/join", data={**FORM, "consent": ""})
    assert answer.status_code == 200
    assert requests_in(session) == []


def test_a_robot_filling_the_hidden_field_is_thanked_and_nothing_is_kept(client, session, admin):
    answer = client.post("/join", data={**FORM, "website": "https://spam.example"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/join/sent"
    assert requests_in(session) == []


def test_a_request_reaches_the_regional_admin_as_a_link_without_the_contacts_details(
    client, session, clock, admin
):
    answer = client.post("/join", data=FORM)
    assert answer.status_code == 303
    assert "Demande envoyée" in client.get(answer.headers["Location"]).text
    [request] = requests_in(session)
    assert request.state == "submitted"
    assert request.consent_at == clock.now
    # Due in 5 business days, at the same time of day in Montréal.
    assert request.due_at.date() == add_business_days(clock.now.date(), 5)
    [message] = messages(session, "join_request_received")
    assert message.recipient_party == "regional_admins"
    assert FORM["contact_email"] not in str(message.payload)
    [email] = compose_summary(session, message, base_url=BASE, now=clock.now)
    assert email.to == session.get(User, admin.user_id).email
    assert email.language == "fr"
    assert f"{BASE}/join-requests/{request.id}" in email.text
    for detail in ("contact_name", "contact_email", "contact_phone"):
        assert FORM[detail] not in email.subject + email.text + email.html
    events = list(
        session.scalars(select(JoinRequestEvent).where(JoinRequestEvent.join_request_id == request.id))
    )
    assert [(e.trigger, e.from_state, e.to_state, e.actor_party) for e in events] == [
        ("submit", "new", "submitted", "requester")
    ]


def test_requests_are_limited_per_network_address_with_retry_after(app, engine, session, admin, clock):
    limited = limited_app(engine, session, CLOCK=clock)
    client = limited.test_client()
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    try:
        answers = [
            client.post(
                "/join",
                data={**FORM, "organization_name": f"Maison Fictive {i}"},
                environ_overrides={"REMOTE_ADDR": address},
            )
            for i in range(4)
        ]
    finally:
        from service.extensions import limiter

        limiter.reset()
    assert [a.status_code for a in answers[:3]] == [303] * 3
    refused = answers[3]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in range(1, 601)
    assert "Trop de tentatives" in refused.text
    assert len(requests_in(session)) == 3


# The regional admin's answer ---------------------------------------------------------------------


def test_accepting_adds_the_organization_and_invites_its_coordinator_in_one_commit(
    client, session, admin, submitted
):
    regional = sign_in(client, admin, session)
    page = regional.get(f"/join-requests/{submitted.id}")
    assert page.status_code == 200
    assert FORM["contact_email"] in page.text
    answer = regional.post(f"/join-requests/{submitted.id}/accept", data={"version": submitted.version})
    assert answer.status_code == 303
    [request] = requests_in(session)
    assert request.state == "accepted"
    assert request.due_at is None
    organization = session.get(Organization, request.organization_id)
    assert (organization.name, organization.territory) == (FORM["organization_name"], "Laval")
    invited = session.get(User, request.invited_user_id)
    assert (invited.email, invited.role, invited.active, invited.password_hash) == (
        FORM["contact_email"],
        Role.COORDINATOR,
        False,
        None,
    )
    assert invited.organization_id == organization.id
    [invitation] = messages(session, "account_invitation")
    assert invitation.payload["user_id"] == invited.id
    assert "Demande acceptée" in regional.get(answer.headers["Location"]).text


def test_an_accept_that_cannot_invite_changes_nothing(client, session, admin, submitted, network, clock):
    # Her email already names an account of another organization: no organization is added either.
    session.get(User, network.legal_aid.caseworker.user_id).email = FORM["contact_email"]
    session.commit()
    organizations = session.scalar(select(func.count(Organization.id)))
    regional = sign_in(client, admin, session)
    answer = regional.post(f"/join-requests/{submitted.id}/accept")
    assert answer.status_code == 303
    assert "Ce courriel appartient déjà à un compte Maillage" in regional.get(answer.headers["Location"]).text
    assert session.scalar(select(func.count(Organization.id))) == organizations
    [request] = requests_in(session)
    assert request.state == "submitted"
    assert request.organization_id is None
    assert messages(session, "account_invitation") == []


def test_declining_tells_the_requester_the_reason_in_french(client, session, admin, submitted, clock):
    regional = sign_in(client, admin, session)
    answer = regional.post(
        f"/join-requests/{submitted.id}/decline",
        data={"reason": "outside_territory", "comment": "Le réseau couvre Laval seulement."},
    )
    assert answer.status_code == 303
    [request] = requests_in(session)
    assert request.state == "declined"
    assert request.organization_id is None
    [message] = messages(session, "join_request_declined")
    assert message.recipient_party == "requester"
    assert FORM["contact_email"] not in str(message.payload)  # read from the request when composed
    [email] = compose_summary(session, message, base_url=BASE, now=clock.now)
    assert email.to == FORM["contact_email"]
    assert email.language == "fr"
    assert "refusée" in email.subject
    assert "Motif : Hors du territoire du réseau" in email.text
    assert "Le réseau couvre Laval seulement." in email.text
    # Answered: nothing more to do, nothing more to remind.
    assert request.due_at is None
    assert regional.post(f"/join-requests/{submitted.id}/accept").status_code == 303
    assert requests_in(session)[0].state == "declined"


def test_declining_for_another_reason_asks_for_a_message(client, session, admin, submitted):
    regional = sign_in(client, admin, session)
    answer = regional.post(f"/join-requests/{submitted.id}/decline", data={"reason": "other", "comment": " "})
    assert answer.status_code == 400
    assert "Expliquez le motif" in answer.text
    missing = regional.post(f"/join-requests/{submitted.id}/decline", data={})
    assert missing.status_code == 400
    assert "Choisissez le motif du refus." in missing.text
    assert requests_in(session)[0].state == "submitted"


def test_the_sweep_reminds_the_regional_admin_once_then_escalates(session, protocols, submitted, clock):
    def run() -> int:
        return sweep(lambda: nullcontext(session), clock=clock)

    assert run() == 0
    reminder_at = submitted.due_at
    clock.now = reminder_at - timedelta(minutes=1)
    assert run() == 0
    clock.now = reminder_at
    assert run() == 1
    assert run() == 0
    [reminder] = messages(session, "join_request_reminder")
    assert reminder.recipient_party == "regional_admins"
    assert reminder.payload["path"] == f"/join-requests/{submitted.id}"
    [request] = requests_in(session)
    assert request.deadline_step == 1
    clock.now = request.due_at
    assert run() == 1
    assert len(messages(session, "join_request_escalation")) == 1
    assert len(messages(session, "join_request_delayed")) == 1
    assert run() == 0
    kinds = session.scalars(
        select(JoinRequestEvent.kind)
        .where(JoinRequestEvent.join_request_id == submitted.id)
        .order_by(JoinRequestEvent.seq)
    )
    assert list(kinds) == ["transition", "reminder", "escalation"]


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.COORDINATOR])
def test_only_the_regional_admin_sees_and_answers_requests(app, session, protocols, network, submitted, role):
    actor = network.shelter.coordinator if role == Role.COORDINATOR else network.shelter.caseworker
    someone = sign_in(app.test_client(), actor, session)
    assert someone.get("/join-requests").status_code == 403
    assert someone.get(f"/join-requests/{submitted.id}").status_code == 403
    assert someone.post(f"/join-requests/{submitted.id}/accept").status_code == 403
    assert someone.post(f"/join-requests/{submitted.id}/decline", data={"reason": "other"}).status_code == 403
    assert someone.get("/join-requests/add-organization").status_code == 403
    assert requests_in(session)[0].state == "submitted"
    nobody = app.test_client()
    assert nobody.get(f"/join-requests/{submitted.id}").status_code == 302
    with pytest.raises(operations.JoinRequestNotFound):
        operations.accept(session, protocols, submitted.id, actor)


def test_an_unknown_request_is_not_found(client, session, admin):
    assert sign_in(client, admin, session).get("/join-requests/999999").status_code == 404


# The regional admin's one step --------------------------------------------------------------------


NEW_MEMBER = {
    "organization_name": "Centre Fictif des Îles",
    "mandate": "Accueil de jour.",
    "territory": "Laval-des-Rapides",
    "coordinator_name": "Lucie Fictive",
    "coordinator_email": "lucie@iles.example.org",
    "language": "fr",
}


def test_the_regional_admin_adds_an_organization_and_invites_its_coordinator_in_one_step(
    client, session, admin
):
    regional = sign_in(client, admin, session)
    assert 'href="/join-requests/add-organization"' in regional.get("/directory/").text
    form = regional.get("/join-requests/add-organization")
    assert "Ajouter un organisme et inviter sa coordonnatrice" in form.text
    answer = regional.post("/join-requests/add-organization", data=NEW_MEMBER)
    assert answer.status_code == 303
    organization = session.scalar(
        select(Organization).where(Organization.name == NEW_MEMBER["organization_name"])
    )
    assert answer.headers["Location"] == f"/directory/organizations/{organization.id}"
    invited = session.scalar(select(User).where(User.email == NEW_MEMBER["coordinator_email"]))
    assert (invited.organization_id, invited.role, invited.active) == (
        organization.id,
        Role.COORDINATOR,
        False,
    )
    assert [m.payload["user_id"] for m in messages(session, "account_invitation")] == [invited.id]


def test_a_one_step_addition_that_cannot_invite_adds_no_organization(client, session, admin, network):
    taken = session.get(User, network.shelter.caseworker.user_id).email
    regional = sign_in(client, admin, session)
    answer = regional.post("/join-requests/add-organization", data={**NEW_MEMBER, "coordinator_email": taken})
    assert answer.status_code == 200
    assert "Ce courriel appartient déjà à un compte Maillage" in answer.text
    assert (
        session.scalar(select(Organization).where(Organization.name == NEW_MEMBER["organization_name"]))
        is None
    )


def test_a_one_step_addition_of_a_name_taken_invites_nobody(client, session, admin, network):
    regional = sign_in(client, admin, session)
    answer = regional.post(
        "/join-requests/add-organization",
        data={**NEW_MEMBER, "organization_name": network.shelter.organization.name},
    )
    assert answer.status_code == 200
    assert "Un organisme de ce nom est déjà dans le répertoire." in answer.text
    assert session.scalar(select(User).where(User.email == NEW_MEMBER["coordinator_email"])) is None


def test_a_declined_requests_contact_is_forgotten_after_the_retention_period(
    session, protocols, admin, submitted, clock
):
    operations.decline(session, protocols, submitted.id, admin, reason="outside_territory", clock=clock)
    clock.now = clock.now + timedelta(days=360)
    assert forget_declined_contacts(session, months=12, clock=clock) == 0
    clock.now = clock.now + timedelta(days=10)
    assert forget_declined_contacts(session, months=12, clock=clock) == 1
    assert forget_declined_contacts(session, months=12, clock=clock) == 0
    [request] = requests_in(session)
    assert (request.contact_name, request.contact_email, request.contact_phone) == ("", "", "")
    assert request.organization_name == FORM["organization_name"]  # the history stays
    assert request.state == "declined"


def test_an_answer_from_a_page_out_of_date_changes_nothing(session, protocols, admin, submitted, clock):
    seen = submitted.version
    operations.decline(session, protocols, submitted.id, admin, reason="unreachable", clock=clock)
    with pytest.raises(ConcurrentUpdate):
        operations.accept(session, protocols, submitted.id, admin, expected_version=seen, clock=clock)
    [request] = requests_in(session)
    assert (request.state, request.organization_id) == ("declined", None)
    assert session.scalar(select(Organization).where(Organization.name == FORM["organization_name"])) is None

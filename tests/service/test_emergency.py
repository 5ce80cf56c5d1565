"""The emergency path: a coordinator sends a referral without her consent, says why, sends only
the minimum; the exception is recorded, logged, and listed on her organization's report."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.errors import ConsentRequired
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.referrals.emergency import EmergencyReasonRequired
from service.referrals.emergency import MinimumDetails
from service.referrals.emergency import emergency_counts
from service.referrals.emergency import emergency_uses
from service.referrals.emergency import record_emergency
from service.referrals.emergency import send_in_emergency
from service.referrals.models import EmergencyDisclosure
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import fire
from service.referrals.operations import read_person
from service.referrals.operations import record_consent
from service.referrals.operations import withdraw_consent
from service.referrals.retention import purge_closed
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in

REASON = "Menaces de mort fictives ce soir; impossible de la joindre pour son consentement"
DETAILS = MinimumDetails(
    name="Alias Fictif Colibri", phone="450-555-0142", safety_constraints="Texto seulement"
)


def send(session, protocols, network, clock, actor=None, reason=REASON) -> Referral:
    return send_in_emergency(
        session,
        protocols,
        actor or network.womens_centre.coordinator,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="urgent",
        need_codes=["shelter_emergency"],
        details=DETAILS,
        reason=reason,
        clock=clock,
    )


def test_a_coordinator_sends_without_consent_and_the_exception_is_recorded(
    session, protocols, network, clock
):
    referral = send(session, protocols, network, clock)

    assert referral.state == "sent"
    assert referral.urgent
    assert referral.consents == []
    disclosure = session.scalars(select(EmergencyDisclosure)).one()
    assert (disclosure.referral_id, disclosure.reason) == (referral.id, REASON)
    assert disclosure.decided_by_id == network.womens_centre.coordinator.user_id
    assert disclosure.organization_id == network.womens_centre.organization.id
    kinds = session.scalars(
        select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.seq)
    ).all()
    assert kinds == ["opened", "emergency", "transition"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.referral_id == referral.id)).all()
    assert "emergency.recorded" in actions


def test_only_the_minimum_about_her_is_sent(session, protocols, network, clock):
    referral = send(session, protocols, network, clock)
    stored = session.get(ReferralPerson, referral.id)
    assert (stored.name, stored.phone, stored.safety_constraints) == (
        DETAILS.name,
        DETAILS.phone,
        DETAILS.safety_constraints,
    )
    assert (stored.email, stored.language, stored.contact_preferences, stored.notes) == ("", "", "", "")
    # The receiving organization can reach her: the exception stands in for her consent.
    seen = read_person(session, referral.id, network.shelter.caseworker, clock=clock)
    assert seen is not None
    assert seen.name == DETAILS.name


def test_once_she_consents_then_withdraws_the_exception_no_longer_opens_her_details(
    session, protocols, network, clock
):
    referral = send(session, protocols, network, clock)
    coordinator = network.womens_centre.coordinator
    record_consent(
        session,
        referral.id,
        coordinator,
        method="verbal",
        shared_with="Maison",
        purpose="Hébergement",
        clock=clock,
    )
    session.commit()
    assert read_person(session, referral.id, network.shelter.caseworker, clock=clock) is not None
    clock.advance(hours=1)
    withdraw_consent(session, referral.id, coordinator, clock=clock)
    clock.advance(minutes=1)

    assert read_person(session, referral.id, network.shelter.caseworker, clock=clock) is None
    assert read_person(session, referral.id, coordinator, clock=clock) is not None  # her own organization


def test_the_reason_stays_out_of_emails_and_the_event_log(session, protocols, network, clock):
    referral = send(session, protocols, network, clock)
    comments = session.scalars(select(ReferralEvent.comment).where(ReferralEvent.referral_id == referral.id))
    assert all(REASON not in (comment or "") for comment in comments)
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.referral_id == referral.id)).one()
    assert message.template == "referral_sent"
    emails = compose(session, protocols, message, base_url="https://maillage.example.org", now=clock.now)
    assert emails
    for email in emails:
        for text in (email.subject, email.text, email.html):
            assert REASON not in text
            assert DETAILS.name not in text
            assert DETAILS.phone not in text


def test_a_caseworker_may_not_take_the_emergency_path(session, protocols, network, clock):
    with pytest.raises(NotAllowed):
        send(session, protocols, network, clock, actor=network.womens_centre.caseworker)
    assert session.scalars(select(Referral)).all() == []


def test_the_reason_is_mandatory(session, protocols, network, clock):
    with pytest.raises(EmergencyReasonRequired):
        send(session, protocols, network, clock, reason="   ")
    assert session.scalars(select(EmergencyDisclosure)).all() == []


def test_the_consent_guard_accepts_the_recorded_exception_and_nothing_else(
    session, protocols, network, clock
):
    draft = referral_in("draft", session, protocols, network, clock, sender=network.womens_centre.coordinator)
    coordinator = network.womens_centre.coordinator
    with pytest.raises(ConsentRequired):
        fire(session, protocols, draft.id, "send", coordinator, clock=clock)
    # A caseworker cannot record the exception for her coordinator.
    with pytest.raises(NotAllowed):
        record_emergency(session, draft.id, network.womens_centre.caseworker, reason=REASON, clock=clock)
    record_emergency(session, draft.id, coordinator, reason=REASON, clock=clock)
    assert fire(session, protocols, draft.id, "send", coordinator, clock=clock).state == "sent"


def test_the_exception_cannot_revive_a_referral_already_sent(session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    with pytest.raises(InvalidTransition):
        record_emergency(session, referral.id, network.womens_centre.coordinator, reason=REASON, clock=clock)
    assert session.scalars(select(EmergencyDisclosure)).all() == []


def test_the_report_lists_her_organizations_uses_only(session, protocols, network, clock):
    referral = send(session, protocols, network, clock)
    uses = emergency_uses(session, network.womens_centre.coordinator, clock=clock)
    assert [(u.referral_id, u.reason, u.receiver_name) for u in uses] == [
        (referral.id, REASON, network.shelter.organization.name)
    ]
    assert uses[0].decided_by == f"coordinator {network.womens_centre.organization.name}"
    assert emergency_uses(session, network.shelter.coordinator, clock=clock) == []
    with pytest.raises(NotAllowed):
        emergency_uses(session, network.womens_centre.caseworker, clock=clock)
    counts = emergency_counts(session)
    assert [(c.organization_name, c.uses) for c in counts] == [(network.womens_centre.organization.name, 1)]


# Pages ----------------------------------------------------------------------------------


def emergency_form(network, **changes) -> dict:
    data = {
        "reason": REASON,
        "receiver": str(network.shelter.organization.id),
        "needs": ["shelter_emergency"],
        "name": DETAILS.name,
        "phone": DETAILS.phone,
        "safety_constraints": DETAILS.safety_constraints,
    }
    data.update(changes)
    return data


def test_a_coordinator_sends_an_emergency_referral_from_the_form(app, session, network, clock):
    client = signed_in(app, network.womens_centre.coordinator, session)
    assert client.get("/referrals/emergency").status_code == 200
    response = client.post("/referrals/emergency", data=emergency_form(network))
    assert response.status_code == 303
    referral = session.scalars(select(Referral)).one()
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert REASON not in response.headers["Location"]
    page = client.get(response.headers["Location"]).text
    assert "Sent without her consent, as an emergency" in page
    assert "Sent without her consent: emergency" in page
    assert REASON not in page


def test_the_form_refuses_a_missing_reason_and_sends_nothing(app, session, network, clock):
    client = signed_in(app, network.womens_centre.coordinator, session)
    response = client.post("/referrals/emergency", data=emergency_form(network, reason=""))
    assert response.status_code == 200
    assert "Say why this cannot wait for her consent." in response.text
    assert session.scalars(select(Referral)).all() == []


def test_the_form_asks_a_way_to_reach_her(app, session, network, clock):
    client = signed_in(app, network.womens_centre.coordinator, session)
    response = client.post("/referrals/emergency", data=emergency_form(network, phone=""))
    assert response.status_code == 200
    assert "Give a safe phone, or say that she is to be reached through you." in response.text
    assert session.scalars(select(Referral)).all() == []


def test_only_coordinators_reach_the_emergency_form(app, session, network, clock):
    for actor in (network.womens_centre.caseworker, make_user(session, None, Role.REGIONAL_ADMIN, clock)):
        client = signed_in(app, actor, session)
        assert client.get("/referrals/emergency").status_code == 403
        assert client.post("/referrals/emergency", data=emergency_form(network)).status_code == 403
    assert session.scalars(select(Referral)).all() == []


def test_the_emergency_path_asks_her_to_confirm_who_she_is(app, session, network, clock):
    client = signed_in(app, network.womens_centre.coordinator, session)
    clock.advance(minutes=30)
    response = client.post("/referrals/emergency", data=emergency_form(network))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm")
    assert session.scalars(select(Referral)).all() == []


def test_the_report_page_for_each_role(app, session, protocols, network, clock):
    referral = send(session, protocols, network, clock)
    officer = make_user(session, network.womens_centre.organization.id, Role.PRIVACY_OFFICER, clock)
    for actor in (network.womens_centre.coordinator, officer):
        page = signed_in(app, actor, session).get("/referrals/emergencies")
        assert page.status_code == 200
        assert REASON in page.text
        assert f"/referrals/{referral.id}" in page.text
    other = signed_in(app, network.shelter.coordinator, session).get("/referrals/emergencies")
    assert other.status_code == 200
    assert REASON not in other.text
    region = signed_in(app, make_user(session, None, Role.REGIONAL_ADMIN, clock), session)
    page = region.get("/referrals/emergencies")
    assert page.status_code == 200
    assert REASON not in page.text
    assert network.womens_centre.organization.name in page.text
    assert (
        signed_in(app, network.womens_centre.caseworker, session).get("/referrals/emergencies").status_code
        == 403
    )


def test_the_retention_purge_erases_the_written_reason_and_the_report_says_so(
    app, session, protocols, network, clock
):
    referral = send(session, protocols, network, clock)
    coordinator = network.womens_centre.coordinator
    fire(
        session, protocols, referral.id, "cancel", coordinator, reason="other", comment="Fictive", clock=clock
    )
    clock.advance(days=400)

    assert purge_closed(session, protocols, months=12, clock=clock) == 1

    session.expire_all()
    disclosure = session.scalars(select(EmergencyDisclosure)).one()
    assert (disclosure.referral_id, disclosure.reason) == (referral.id, "")
    assert session.get(ReferralPerson, referral.id) is None
    assert purge_closed(session, protocols, months=12, clock=clock) == 0, "nothing left to erase"
    page = signed_in(app, coordinator, session).get("/referrals/emergencies").get_data(as_text=True)
    assert REASON not in page
    assert "Erased with her personal data" in page


def test_the_emergency_path_cites_the_private_sector_act_that_governs_community_organizations(
    app, session, network
):
    client = signed_in(app, network.womens_centre.coordinator, session, language="fr")
    for path in ("/referrals/emergency", "/referrals/emergencies"):
        french = client.get(f"{path}?lang=fr").text.replace("&#39;", "'")
        assert (
            "Loi sur la protection des renseignements personnels dans le secteur privé, art. 18.1" in french
        )
        assert "59.1" not in french
        english = client.get(f"{path}?lang=en").text
        assert (
            "Act respecting the protection of personal information in the private sector, s. 18.1" in english
        )
        assert "59.1" not in english

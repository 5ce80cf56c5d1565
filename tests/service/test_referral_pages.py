"""Stories of the referral pages, told through Flask's test client: the dashboard and the
inbox, the intake form and its consent step, and the page of one referral with its buttons."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.audit.models import AuditEntry
from service.directory.models import Need
from service.directory.models import Partnership
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from tests.conftest import PASSWORD_HASH
from tests.conftest import Network
from tests.conftest import sign_in

PERSON = PersonDetails(
    name="Josée Fictive-Tremblay",
    phone="450-555-0199",
    email="josee.fictive@example.org",
    language="français",
    contact_preferences="Texto d'abord, les matins",
    safety_constraints="Pas de message vocal; ne pas écrire à l'adresse du domicile",
    notes="Deux enfants fictifs",
)
# What must never leave the referral page: not in lists, titles, addresses or messages.
HER = [PERSON.name, PERSON.phone, PERSON.email, PERSON.safety_constraints, PERSON.contact_preferences]

# How a standard referral reaches each state: (trigger, which side fires it, extra arguments).
PATHS: dict[str, list[tuple[str, str, dict]]] = {"draft": []}
PATHS["sent"] = [("send", "sender", {})]
PATHS["cancelled"] = [*PATHS["sent"], ("cancel", "sender", {"reason": "sent_in_error"})]
PATHS["received"] = [*PATHS["sent"], ("acknowledge", "receiver", {})]
PATHS["declined"] = [*PATHS["received"], ("decline", "receiver", {"reason": "no_capacity"})]
PATHS["accepted"] = [*PATHS["received"], ("accept", "receiver", {})]
PATHS["in_progress"] = [*PATHS["accepted"], ("record_first_contact", "receiver", {})]
PATHS["closed"] = [*PATHS["in_progress"], ("close", "sender", {"reason": "service_received"})]


def referral_in(
    state: str,
    session: Session,
    protocols,
    network: Network,
    clock,
    *,
    sender: Actor | None = None,
    receiver_organization_id: int | None = None,
    person: PersonDetails = PERSON,
    urgent: bool = False,
    need_codes: tuple[str, ...] = ("shelter_emergency",),
) -> Referral:
    """A standard referral from the women's centre to the shelter (by default), walked to `state`."""
    sender = sender or network.womens_centre.caseworker
    receiver_id = receiver_organization_id or network.shelter.organization.id
    referral = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=receiver_id,
        protocol_name="urgent" if urgent else "standard",
        need_codes=need_codes,
        urgent=urgent,
        person=person,
        clock=clock,
    )
    if state != "draft":
        record_consent(
            session,
            referral.id,
            sender,
            method="verbal",
            shared_with="Nom et téléphone",
            purpose="Hébergement",
            clock=clock,
        )
    receiver = next(
        side.caseworker
        for side in (network.shelter, network.womens_centre, network.legal_aid)
        if side.organization.id == receiver_id
    )
    for trigger, who, extra in PATHS[state]:
        actor = sender if who == "sender" else receiver
        referral = fire(session, protocols, referral.id, trigger, actor, clock=clock, **extra)
    assert referral.state == state
    return referral


def make_user(session: Session, organization_id: int | None, role: str, clock) -> Actor:
    user = User(
        email=f"{role}-{organization_id}@fictive.example.org",
        name=f"{role} {organization_id}",
        organization_id=organization_id,
        role=role,
        password_hash=PASSWORD_HASH,
        created_at=clock.now,
    )
    session.add(user)
    session.commit()
    return Actor(user_id=user.id, organization_id=organization_id, role=role)


@pytest.fixture
def partners(session, network, clock) -> ReferralAgreement:
    """The women's centre and the shelter are partners; the shelter shelters, with a waiting list.

    Their agreement: the accompanied protocol, receipt within one business day.
    """
    centre, shelter = network.womens_centre.organization, network.shelter.organization
    low, high = sorted((centre.id, shelter.id))
    partnership = Partnership(
        first_organization_id=low,
        second_organization_id=high,
        kinds=["referral_protocol"],
        formal=True,
        active=True,
        created_at=clock.now,
    )
    session.add(partnership)
    shelter.capacity_status = "waitlist"
    session.add(
        Service(
            organization_id=shelter.id,
            name="Hébergement d'urgence fictif",
            needs=[session.get(Need, "shelter_emergency"), session.get(Need, "safety_plan")],
        )
    )
    # Legal aid covers a need too, but is no partner of the centre: it is never suggested.
    session.add(
        Service(
            organization_id=network.legal_aid.organization.id,
            name="Consultation fictive",
            needs=[session.get(Need, "shelter_emergency")],
        )
    )
    session.flush()
    agreement = ReferralAgreement(
        partnership_id=partnership.id,
        version=1,
        protocol_name="accompanied",
        urgent_protocol_name="urgent",
        parameters={"receipt_deadline": "1 business day"},
        effective_on=date(2026, 1, 1),
        proposed_by_organization_id=centre.id,
        proposed_at=clock.now,
        confirmed_at=clock.now,
    )
    session.add(agreement)
    session.commit()
    return agreement


def signed_in(app, actor: Actor, session: Session, language: str = "en") -> FlaskClient:
    """A client signed in as `actor`, who reads English unless told otherwise.

    English, because the assertions quote the English wording (the msgids);
    the French of the pages is the catalog's business, tested with it.
    """
    session.get(User, actor.user_id).language = language
    session.commit()
    return sign_in(app.test_client(), actor, session)


def title_of(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def assert_nothing_of_her(response) -> None:
    """Her details appear nowhere in this answer: body, title, or the address it sends to."""
    for secret in HER:
        assert secret not in response.text
        assert secret not in response.headers.get("Location", "")


def person_reads(session: Session, referral: Referral) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.referral_id == referral.id, AuditEntry.action == "person.read"
    )
    return list(session.scalars(query))


def intake_data(**changes) -> dict:
    data = {
        "action": "consent",
        "details": "1",
        "needs": ["shelter_emergency"],
        "urgency": "standard",
        "partner": "",
        "other_partner": "",
        "name": PERSON.name,
        "phone": PERSON.phone,
        "email": "",
        "language": PERSON.language,
        "safety_constraints": PERSON.safety_constraints,
        "contact_preferences": PERSON.contact_preferences,
        "notes": "",
    }
    data.update(changes)
    return data


# Dashboard and inbox ----------------------------------------------------------------


def test_the_dashboard_shows_what_waits_on_us_first_and_overdue_first_in_words(
    app, session, protocols, network, clock
):
    centre = network.womens_centre
    mine = referral_in("sent", session, protocols, network, clock)  # waits on the shelter
    # The shelter referred a woman to the centre a week ago; the centre has not answered.
    late = referral_in(
        "sent",
        session,
        protocols,
        network,
        clock,
        sender=network.shelter.caseworker,
        receiver_organization_id=centre.organization.id,
    )
    clock.advance(days=7)
    fresh = referral_in(
        "sent",
        session,
        protocols,
        network,
        clock,
        sender=network.legal_aid.caseworker,
        receiver_organization_id=centre.organization.id,
    )
    page = signed_in(app, centre.caseworker, session).get("/")
    assert page.status_code == 200
    html = page.text
    ours, theirs = html.index('id="ours-title"'), html.index('id="theirs-title"')
    assert ours < html.index(f"No. {late.id}") < html.index(f"No. {fresh.id}") < theirs
    assert theirs < html.index(f"No. {mine.id}")
    # Overdue is said in words, not by colour alone.
    row = html[html.index(f"No. {late.id}") : html.index(f"No. {fresh.id}")]
    assert "Overdue" in row
    assert "Overdue" not in html[html.index(f"No. {fresh.id}") : theirs]
    assert_nothing_of_her(page)


def test_a_caseworker_sees_what_she_opened_and_what_waits_on_us_a_coordinator_sees_everything(
    app, session, protocols, network, clock
):
    centre = network.womens_centre
    colleague = make_user(session, centre.organization.id, Role.CASEWORKER, clock)
    hers = referral_in("sent", session, protocols, network, clock)
    theirs = referral_in("sent", session, protocols, network, clock, sender=colleague)
    answered = referral_in(
        "accepted",
        session,
        protocols,
        network,
        clock,
        sender=network.shelter.caseworker,
        receiver_organization_id=centre.organization.id,
    )
    in_progress = referral_in(
        "in_progress",
        session,
        protocols,
        network,
        clock,
        sender=network.shelter.caseworker,
        receiver_organization_id=centre.organization.id,
    )
    caseworker = signed_in(app, centre.caseworker, session).get("/").text
    assert f"No. {hers.id}<" in caseworker
    assert f"No. {answered.id}<" in caseworker  # waits on the centre: it must make first contact
    assert f"No. {theirs.id}<" not in caseworker  # a colleague's
    assert f"No. {in_progress.id}<" not in caseworker  # received, but waits on the shelter now
    coordinator = signed_in(app, centre.coordinator, session).get("/").text
    for referral in (hers, theirs, answered, in_progress):
        assert f"No. {referral.id}<" in coordinator


def test_the_inbox_lists_what_was_received_overdue_first_then_newest_never_drafts(
    app, session, protocols, network, clock
):
    old = referral_in("sent", session, protocols, network, clock)
    clock.advance(days=10)
    new = referral_in("sent", session, protocols, network, clock, sender=network.womens_centre.coordinator)
    newest = referral_in("received", session, protocols, network, clock)
    draft = referral_in("draft", session, protocols, network, clock)
    finished = referral_in("declined", session, protocols, network, clock)
    page = signed_in(app, network.shelter.caseworker, session).get("/referrals/received")
    assert page.status_code == 200
    html = page.text
    positions = [html.index(f"No. {r.id}<") for r in (old, newest, new, finished)]
    assert positions == sorted(positions)
    assert f"No. {draft.id}<" not in html
    assert "Overdue" in html[positions[0] : positions[1]]
    assert network.womens_centre.organization.name in html
    assert_nothing_of_her(page)
    # The sending side's inbox is empty.
    assert (
        f"No. {old.id}<"
        not in signed_in(app, network.womens_centre.caseworker, session).get("/referrals/received").text
    )


def test_the_regional_admin_sees_no_referral_at_all(app, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    admin = signed_in(app, make_user(session, None, Role.REGIONAL_ADMIN, clock), session)
    home = admin.get("/")
    assert home.status_code == 200
    assert f"No. {referral.id}<" not in home.text
    assert admin.get(f"/referrals/{referral.id}").status_code == 404
    assert admin.get("/referrals/received").status_code == 403
    assert admin.get("/referrals/new").status_code == 403
    assert person_reads(session, referral) == []


# Intake ------------------------------------------------------------------------------


def test_intake_starts_with_her_needs_then_suggests_partners_with_their_capacity(
    app, session, network, partners
):
    client = signed_in(app, network.womens_centre.caseworker, session)
    first = client.get("/referrals/new")
    assert first.status_code == 200
    assert 'value="shelter_emergency"' in first.text
    assert "Safety and shelter" in first.text  # needs are grouped
    assert 'name="name"' not in first.text  # one step at a time
    second = client.post(
        "/referrals/new", data={"action": "suggest", "needs": ["shelter_emergency"], "urgency": "standard"}
    )
    assert second.status_code == 200
    shelter, legal_aid = network.shelter.organization, network.legal_aid.organization
    suggested = second.text[second.text.index('id="partner"') : second.text.index('id="other_partner"')]
    assert shelter.name in suggested
    assert "waiting list" in suggested
    assert legal_aid.name not in suggested  # covers the need, but is no partner
    assert legal_aid.name in second.text  # still in the list of every organization
    assert network.womens_centre.organization.name not in second.text.split('id="other_partner"')[1]
    assert 'name="name"' in second.text


def test_intake_asks_for_at_least_one_need(app, session, network):
    client = signed_in(app, network.womens_centre.caseworker, session)
    response = client.post("/referrals/new", data={"action": "suggest", "urgency": "standard"})
    assert response.status_code == 200
    assert "error-summary" in response.text
    assert "Choose at least one need." in response.text
    assert 'name="name"' not in response.text


def test_a_caseworker_opens_a_draft_under_the_agreement_then_goes_to_consent(app, session, network, partners):
    client = signed_in(app, network.womens_centre.caseworker, session)
    shelter = network.shelter.organization
    response = client.post("/referrals/new", data=intake_data(partner=str(shelter.id)))
    assert response.status_code == 303
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert response.headers["Location"] == f"/referrals/{referral.id}/consent"
    assert_nothing_of_her(response)
    assert (referral.state, referral.protocol_name, referral.agreement_id) == (
        "draft",
        "accompanied",
        partners.id,
    )
    assert referral.parameters["receipt_deadline"] == "1 business day"
    assert referral.receiver_organization_id == shelter.id
    assert referral.created_by_id == network.womens_centre.caseworker.user_id
    stored = session.get(ReferralPerson, referral.id)
    assert (stored.name, stored.safety_constraints) == (PERSON.name, PERSON.safety_constraints)
    flash_page = client.get(response.headers["Location"])
    assert f"no. {referral.id}" in flash_page.text
    assert_nothing_of_her(flash_page)


def test_an_urgent_referral_follows_the_agreements_urgent_protocol(app, session, network, partners):
    client = signed_in(app, network.womens_centre.caseworker, session)
    data = intake_data(partner=str(network.shelter.organization.id), urgency="urgent", action="draft")
    response = client.post("/referrals/new", data=data)
    assert response.status_code == 303
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert (referral.protocol_name, referral.urgent, referral.agreement_id) == ("urgent", True, partners.id)
    # Its parameters are the urgent protocol's own: the agreement's were set for another one.
    assert referral.parameters["receipt_deadline"] == "4 hours"


def test_without_an_agreement_the_standard_protocol_applies(app, session, network):
    client = signed_in(app, network.womens_centre.caseworker, session)
    data = intake_data(other_partner=str(network.legal_aid.organization.id))
    assert client.post("/referrals/new", data=data).status_code == 303
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert (referral.protocol_name, referral.agreement_id) == ("standard", None)
    assert referral.receiver_organization_id == network.legal_aid.organization.id


def test_only_a_coordinator_may_choose_another_protocol(app, session, network, partners):
    shelter = str(network.shelter.organization.id)
    caseworker = signed_in(app, network.womens_centre.caseworker, session)
    assert 'name="protocol"' not in caseworker.post("/referrals/new", data=intake_data(action="suggest")).text
    caseworker.post("/referrals/new", data=intake_data(partner=shelter, protocol="standard"))
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert referral.protocol_name == "accompanied"  # what a caseworker posts there is ignored
    coordinator = signed_in(app, network.womens_centre.coordinator, session)
    assert 'name="protocol"' in coordinator.post("/referrals/new", data=intake_data(action="suggest")).text
    coordinator.post("/referrals/new", data=intake_data(partner=shelter, protocol="standard"))
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert (referral.protocol_name, referral.agreement_id) == ("standard", None)
    assert referral.parameters["receipt_deadline"] == "2 business days"
    refused = coordinator.post("/referrals/new", data=intake_data(partner=shelter, protocol="made_up"))
    assert refused.status_code == 200
    assert "Choose a protocol from the list." in refused.text


def test_intake_keeps_what_was_typed_when_something_is_missing(app, session, network, partners):
    client = signed_in(app, network.womens_centre.caseworker, session)
    before = session.scalar(select(Referral.id).order_by(Referral.id.desc()))
    response = client.post("/referrals/new", data=intake_data(notes="Note fictive à garder"))
    assert response.status_code == 200
    assert "Choose the organization she is referred to." in response.text
    assert 'class="error-summary"' in response.text
    for typed in ("Josée Fictive-Tremblay", "450-555-0199", "Note fictive à garder", "français"):
        assert typed in response.text.replace("&#39;", "'")
    assert re.search(
        r'<input checked id="needs-\d+" name="needs" type="checkbox" value="shelter_emergency">',
        response.text,
    )
    assert PERSON.name not in title_of(response.text)
    assert session.scalar(select(Referral.id).order_by(Referral.id.desc())) == before


def test_she_must_be_reachable_or_reached_through_the_caseworker(app, session, network):
    client = signed_in(app, network.womens_centre.caseworker, session)
    legal_aid = str(network.legal_aid.organization.id)
    unreachable = client.post("/referrals/new", data=intake_data(other_partner=legal_aid, phone=""))
    assert "Give her phone or her email" in unreachable.text
    both = client.post("/referrals/new", data=intake_data(other_partner=legal_aid, through_caseworker="y"))
    assert "Leave her phone and email empty" in both.text
    through = client.post(
        "/referrals/new", data=intake_data(other_partner=legal_aid, phone="", through_caseworker="y")
    )
    assert through.status_code == 303


def test_intake_limits_lengths_and_checks_the_email(app, session, network):
    client = signed_in(app, network.womens_centre.caseworker, session)
    legal_aid = str(network.legal_aid.organization.id)
    response = client.post(
        "/referrals/new", data=intake_data(other_partner=legal_aid, name="x" * 201, email="not an email")
    )
    assert response.status_code == 200
    assert "Write a whole email address" in response.text
    assert response.text.count('class="error"') >= 2


def test_partner_contacts_do_not_open_referrals(app, session, network, clock):
    contact = make_user(session, network.shelter.organization.id, Role.PARTNER_CONTACT, clock)
    client = signed_in(app, contact, session)
    assert client.get("/referrals/new").status_code == 403
    assert client.post("/referrals/new", data=intake_data()).status_code == 403


# Drafts and consent ----------------------------------------------------------------


def test_a_draft_is_resumed_prefilled_and_changed(app, session, protocols, network, clock, partners):
    draft = referral_in("draft", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)
    form = client.get(f"/referrals/{draft.id}/edit")
    assert form.status_code == 200
    assert PERSON.name in form.text
    assert PERSON.name not in title_of(form.text)
    assert person_reads(session, draft)[-1].user_id == network.womens_centre.caseworker.user_id
    data = intake_data(
        action="draft",
        partner=str(network.shelter.organization.id),
        needs=["shelter_emergency", "safety_plan"],
        name="Jo Fictive",
        version=str(draft.version),
    )
    response = client.post(f"/referrals/{draft.id}/edit", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{draft.id}"
    session.expire_all()
    draft = session.get(Referral, draft.id)
    assert {n.code for n in draft.needs} == {"shelter_emergency", "safety_plan"}
    assert session.get(ReferralPerson, draft.id).name == "Jo Fictive"
    assert draft.protocol_name == "accompanied"  # the agreement now applies
    last = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == draft.id).order_by(ReferralEvent.seq.desc())
    ).first()
    assert (last.kind, last.actor_user_id) == ("edited", network.womens_centre.caseworker.user_id)


def test_only_a_draft_can_be_changed(app, session, protocols, network, clock):
    sent = referral_in("sent", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)
    response = client.get(f"/referrals/{sent.id}/edit")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{sent.id}"
    assert "Only a draft can be changed." in client.get(response.headers["Location"]).text


def test_consent_is_its_own_step_and_is_recorded(app, session, protocols, network, clock):
    draft = referral_in("draft", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)
    page = client.get(f"/referrals/{draft.id}/consent")
    assert page.status_code == 200
    assert network.shelter.organization.name in page.text
    missing = client.post(f"/referrals/{draft.id}/consent", data={"purpose": "Hébergement"})
    assert missing.status_code == 200
    assert "Say how she gave her consent." in missing.text
    assert "Hébergement" in missing.text
    past = client.post(
        f"/referrals/{draft.id}/consent",
        data={"method": "verbal", "shared_with": "Nom", "purpose": "Hébergement", "until": "2020-01-01"},
    )
    assert "Give a date from today on" in past.text
    response = client.post(
        f"/referrals/{draft.id}/consent",
        data={
            "method": "written",
            "shared_with": "Nom et téléphone, avec la maison",
            "purpose": "Hébergement",
            "until": "2026-12-31",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{draft.id}"
    consent = session.scalars(select(Consent).where(Consent.referral_id == draft.id)).one()
    assert (consent.method, consent.recorded_by_id) == ("written", network.womens_centre.caseworker.user_id)
    assert consent.expires_at.isoformat() == "2027-01-01T05:00:00+00:00"  # the end of Dec. 31 in Montréal


def test_sending_without_consent_points_at_the_consent_step(app, session, protocols, network, clock):
    draft = referral_in("draft", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)
    response = client.post(
        f"/referrals/{draft.id}/actions", data={"trigger": "send", "send-version": draft.version}
    )
    assert response.status_code == 200
    assert "Her consent is missing" in response.text
    assert f"/referrals/{draft.id}/consent" in response.text
    session.expire_all()
    assert session.get(Referral, draft.id).state == "draft"


def test_sending_warns_of_an_open_referral_for_the_same_woman_to_the_same_partner(
    app, session, protocols, network, clock
):
    earlier = referral_in("sent", session, protocols, network, clock)
    # The same woman, typed another way: the name in capitals, the phone without dashes.
    again = PersonDetails(name=PERSON.name.upper(), phone="(450) 555 0199")
    draft = referral_in("draft", session, protocols, network, clock, person=again)
    record_consent(
        session, draft.id, network.womens_centre.caseworker, method="verbal", shared_with="x", purpose="y"
    )
    client = signed_in(app, network.womens_centre.caseworker, session)
    warned = client.post(
        f"/referrals/{draft.id}/actions", data={"trigger": "send", "send-version": draft.version}
    )
    assert warned.status_code == 200
    assert "She may already be referred there" in warned.text
    assert f"/referrals/{earlier.id}" in warned.text
    session.expire_all()
    assert session.get(Referral, draft.id).state == "draft"
    sent = client.post(
        f"/referrals/{draft.id}/actions",
        data={"trigger": "send", "send-version": draft.version, "send-confirm_duplicate": "1"},
    )
    assert sent.status_code == 303
    session.expire_all()
    assert session.get(Referral, draft.id).state == "sent"


def test_no_warning_for_a_finished_referral_or_another_organizations(app, session, protocols, network, clock):
    referral_in("declined", session, protocols, network, clock)
    referral_in("sent", session, protocols, network, clock, sender=network.legal_aid.caseworker)
    draft = referral_in("draft", session, protocols, network, clock)
    record_consent(
        session, draft.id, network.womens_centre.caseworker, method="verbal", shared_with="x", purpose="y"
    )
    client = signed_in(app, network.womens_centre.caseworker, session)
    response = client.post(
        f"/referrals/{draft.id}/actions", data={"trigger": "send", "send-version": draft.version}
    )
    assert response.status_code == 303
    shelter = network.shelter.organization.name
    assert f"Referral no. {draft.id} sent to {shelter}." in client.get(response.headers["Location"]).text


# The referral page ---------------------------------------------------------------------


def test_the_referral_page_shows_where_it_stands_and_her_safety_first(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    client = signed_in(app, network.shelter.caseworker, session)
    page = client.get(f"/referrals/{referral.id}")
    assert page.status_code == 200
    html = page.text
    assert "<strong>Sent</strong>" in html  # the state, in words
    assert "Standard referral, version 1" in html
    # Two business days on, in Montréal.
    assert "Acknowledge receipt, by December 1, 2026 at 10:00 a.m." in html
    assert 'name="trigger" value="acknowledge"' in html
    assert f"{network.shelter.organization.name} <strong>(your organization)</strong>" in html
    assert html.index('class="safety"') < html.index('id="status-title"')
    safety = html[html.index('class="safety"') : html.index('id="status-title"')]
    assert "Pas de message vocal" in safety.replace("&#39;", "'")
    assert PERSON.name in html
    assert PERSON.name not in title_of(html)
    assert f"Referral no. {referral.id}" in title_of(html)
    [read] = person_reads(session, referral)
    assert (read.user_id, read.organization_id) == (
        network.shelter.caseworker.user_id,
        network.shelter.organization.id,
    )
    client.get(f"/referrals/{referral.id}")
    assert len(person_reads(session, referral)) == 2  # every showing is a read


def cancel_button(html: str) -> str:
    form = html[html.index('name="trigger" value="cancel"') :]
    form = form[: form.index("</form>")]
    [label] = re.findall(r"<button[^>]*>(.*?)</button>", form, re.S)
    return " ".join(label.split())


def test_the_timeline_says_what_happened_and_the_cancel_button_what_it_cancels(
    app, session, protocols, network, clock
):
    referral = referral_in("received", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session, language="fr")
    french = client.get(f"/referrals/{referral.id}").text
    timeline = french[french.index('id="timeline-title"') :]
    done = [" ".join(m.split()) for m in re.findall(r"<strong>(.*?)</strong>", timeline, re.S)]
    assert "Envoyé" in done
    assert "Réception accusée" in done
    assert "Envoyer" not in done
    assert "Accuser réception" not in done
    assert cancel_button(french) == "Annuler le référencement"
    english = client.get(f"/referrals/{referral.id}?lang=en").text
    assert "Receipt acknowledged" in english[english.index('id="timeline-title"') :]
    assert cancel_button(english) == "Cancel the referral"


def test_a_reminder_in_the_timeline_reads_as_french_writes_after_a_colon(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    clock.advance(days=5)
    assert run_due_deadline(session, protocols, referral.id, clock=clock)
    client = signed_in(app, network.shelter.caseworker, session, language="fr")
    french = client.get(f"/referrals/{referral.id}?lang=fr").text
    timeline = " ".join(french[french.index('id="timeline-title"') :].split())
    assert "Rappel : accuser réception" in timeline
    assert "Rappel : Accuser" not in timeline


def test_the_page_speaks_french_by_default_and_english_on_request(app, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    client = signed_in(app, network.shelter.caseworker, session, language="fr")
    french = client.get(f"/referrals/{referral.id}").text
    assert "<strong>Envoyé</strong>" in french
    assert "Référencement standard, version 1" in french
    assert "Accuser réception" in french
    assert "1er décembre 2026 à 10 h" in french  # French dates, Montréal time, Québec usage
    assert "27 novembre 2026 à 10 h" in french  # sent at 15:00 UTC
    english = client.get(f"/referrals/{referral.id}?lang=en").text
    assert "Standard referral, version 1" in english
    assert "<strong>Sent</strong>" in english
    assert "Acknowledge receipt" in english
    assert "Envoyé" not in english
    assert "<td>Sent</td>" in client.get("/?lang=en").text  # the dashboard's state column too


def test_the_page_offers_only_what_this_person_may_do_now(app, session, protocols, network, clock):
    referral = referral_in("received", session, protocols, network, clock)
    receiver = signed_in(app, network.shelter.caseworker, session).get(f"/referrals/{referral.id}").text
    for trigger in ("accept", "decline", "redirect"):
        assert f'name="trigger" value="{trigger}"' in receiver
    assert 'value="cancel"' not in receiver
    assert 'value="acknowledge"' not in receiver
    sender = signed_in(app, network.womens_centre.caseworker, session).get(f"/referrals/{referral.id}").text
    assert 'name="trigger" value="cancel"' in sender
    assert 'name="trigger" value="accept"' not in sender
    # The cancel form asks for a coded reason from the protocol.
    assert '<option value="consent_withdrawn">Consent withdrawn</option>' in sender


def test_the_receiver_acknowledges_and_the_sender_sees_it_in_the_timeline(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    receiver = signed_in(app, network.shelter.caseworker, session)
    response = receiver.post(
        f"/referrals/{referral.id}/actions",
        data={"trigger": "acknowledge", "acknowledge-version": referral.version},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert "The referral is now: Received." in receiver.get(response.headers["Location"]).text
    timeline = signed_in(app, network.womens_centre.caseworker, session).get(f"/referrals/{referral.id}").text
    log = timeline[timeline.index('id="timeline-title"') :]
    assert "Receipt acknowledged" in log  # what happened, not the button's verb
    assert "State: Received" in log
    assert "caseworker Maison Fictive du Phare (Maison Fictive du Phare)" in log  # who: her name, her side


def test_declining_needs_a_reason_and_may_suggest_another_resource(app, session, protocols, network, clock):
    referral = referral_in("received", session, protocols, network, clock)
    client = signed_in(app, network.shelter.caseworker, session)
    url = f"/referrals/{referral.id}/actions"
    no_reason = client.post(url, data={"trigger": "decline", "decline-version": referral.version})
    assert no_reason.status_code == 200
    assert "Choose a reason." in no_reason.text
    assert 'id="error-summary"' in no_reason.text
    other = client.post(
        url, data={"trigger": "decline", "decline-version": referral.version, "decline-reason": "other"}
    )
    assert "Explain the reason in a comment." in other.text
    legal_aid = network.legal_aid.organization
    done = client.post(
        url,
        data={
            "trigger": "decline",
            "decline-version": referral.version,
            "decline-reason": "no_capacity",
            "decline-comment": "Plus de place cette semaine.",
            "decline-target_organization": str(legal_aid.id),
        },
    )
    assert done.status_code == 303
    session.expire_all()
    referral = session.get(Referral, referral.id)
    assert referral.state == "declined"
    last = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert (last.reason_code, last.target_organization_id) == ("no_capacity", legal_aid.id)
    assert session.scalars(select(Referral).where(Referral.redirected_from_id == referral.id)).all() == []
    log = signed_in(app, network.womens_centre.caseworker, session).get(f"/referrals/{referral.id}").text
    assert f"Suggested resource: {legal_aid.name}" in log
    assert "Reason: No capacity" in log
    assert "Plus de place cette semaine." in log


def test_redirecting_opens_a_linked_draft_for_the_sender_to_confirm(app, session, protocols, network, clock):
    referral = referral_in("received", session, protocols, network, clock)
    receiver = signed_in(app, network.shelter.caseworker, session)
    url = f"/referrals/{referral.id}/actions"
    missing = receiver.post(
        url,
        data={"trigger": "redirect", "redirect-version": referral.version, "redirect-reason": "better_fit"},
    )
    assert "Choose the organization that can help her." in missing.text
    legal_aid = network.legal_aid.organization
    done = receiver.post(
        url,
        data={
            "trigger": "redirect",
            "redirect-version": referral.version,
            "redirect-reason": "better_fit",
            "redirect-target_organization": str(legal_aid.id),
        },
    )
    assert done.status_code == 303
    [linked] = session.scalars(select(Referral).where(Referral.redirected_from_id == referral.id))
    assert (linked.state, linked.sender_organization_id, linked.receiver_organization_id) == (
        "draft",
        network.womens_centre.organization.id,
        legal_aid.id,
    )
    # The shelter does not learn where the woman's new referral is, beyond the name it chose.
    after = receiver.get(f"/referrals/{referral.id}").text
    assert f"/referrals/{linked.id}" not in after
    assert receiver.get(f"/referrals/{linked.id}").status_code == 404
    # The centre sees both, linked both ways; the new draft needs her consent anew.
    sender = signed_in(app, network.womens_centre.caseworker, session)
    original_page = sender.get(f"/referrals/{referral.id}").text
    assert f'href="/referrals/{linked.id}"' in original_page
    linked_page = sender.get(f"/referrals/{linked.id}").text
    assert f'href="/referrals/{referral.id}"' in linked_page
    assert "Her consent is not recorded yet." in linked_page
    assert PERSON.name in linked_page
    # Legal aid sees nothing before it is sent.
    assert (
        signed_in(app, network.legal_aid.caseworker, session).get(f"/referrals/{linked.id}").status_code
        == 404
    )


def test_acting_on_an_old_page_says_the_referral_changed(app, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    stale = referral.version
    client = signed_in(app, network.shelter.caseworker, session)
    fire(session, protocols, referral.id, "acknowledge", network.shelter.coordinator, clock=clock)
    # The same button again: no longer possible in this state.
    again = client.post(
        f"/referrals/{referral.id}/actions", data={"trigger": "acknowledge", "acknowledge-version": stale}
    )
    assert again.status_code == 303
    assert "changed in the meantime" in client.get(again.headers["Location"]).text
    # Another button, but from the page of before.
    late = client.post(
        f"/referrals/{referral.id}/actions", data={"trigger": "accept", "accept-version": stale}
    )
    assert late.status_code == 303
    assert "changed in the meantime" in client.get(late.headers["Location"]).text
    session.expire_all()
    assert session.get(Referral, referral.id).state == "received"


def test_a_button_of_the_other_side_is_forbidden_and_an_unknown_one_refused(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    sender = signed_in(app, network.womens_centre.caseworker, session)
    url = f"/referrals/{referral.id}/actions"
    assert (
        sender.post(url, data={"trigger": "acknowledge", "acknowledge-version": referral.version}).status_code
        == 403
    )
    assert sender.post(url, data={"trigger": "nonsense"}).status_code == 400
    session.expire_all()
    assert session.get(Referral, referral.id).state == "sent"


def test_the_receiver_never_sees_a_draft_nor_her_details_without_consent(
    app, session, protocols, network, clock
):
    draft = referral_in("draft", session, protocols, network, clock)
    receiver = signed_in(app, network.shelter.caseworker, session)
    assert receiver.get(f"/referrals/{draft.id}").status_code == 404
    sent = referral_in("sent", session, protocols, network, clock)
    for consent in session.get(Referral, sent.id).consents:
        consent.withdrawn_at = clock.now
    session.commit()
    page = receiver.get(f"/referrals/{sent.id}")
    assert page.status_code == 200
    assert_nothing_of_her(page)
    assert person_reads(session, sent) == []


def test_what_is_said_of_her_stays_off_titles_and_addresses(
    app, session, protocols, network, clock, partners
):
    client = signed_in(app, network.womens_centre.caseworker, session)
    created = client.post("/referrals/new", data=intake_data(partner=str(network.shelter.organization.id)))
    assert_nothing_of_her(created)
    referral = session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    for path in (
        "/",
        "/referrals/received",
        f"/referrals/{referral.id}",
        f"/referrals/{referral.id}/edit",
        f"/referrals/{referral.id}/consent",
        "/referrals/new",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        for secret in HER:
            assert secret not in title_of(response.text), path
    for path in ("/", "/referrals/received"):
        assert_nothing_of_her(client.get(path))


def test_every_action_form_carries_its_csrf_token_and_a_post_without_it_is_refused(
    app, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    client = signed_in(app, network.shelter.caseworker, session)
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"/referrals/{referral.id}/actions"
    data = {"trigger": "acknowledge", "acknowledge-version": referral.version}
    assert client.post(url, data=data).status_code == 400
    page = client.get(f"/referrals/{referral.id}").text
    token = re.search(r'name="acknowledge-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(url, data={**data, "acknowledge-csrf_token": token})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Referral, referral.id).state == "received"


def test_choosing_another_organization_for_a_draft_asks_for_her_consent_again(
    app, session, protocols, network, clock
):
    draft = referral_in("draft", session, protocols, network, clock)
    record_consent(
        session, draft.id, network.womens_centre.caseworker, method="verbal", shared_with="x", purpose="y"
    )
    client = signed_in(app, network.womens_centre.caseworker, session)
    data = intake_data(other_partner=str(network.legal_aid.organization.id), version=str(draft.version))
    response = client.post(f"/referrals/{draft.id}/edit", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{draft.id}/consent"
    assert "record it again for this one" in client.get(response.headers["Location"]).text
    session.expire_all()
    assert not session.get(Referral, draft.id).has_valid_consent(clock.now)

"""The directory's pages, clicked through by each role, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from flask_babel import force_locale
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.directory.agreements import current_agreement
from service.directory.agreements import partnership_between
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.directory.operations import AgreementTerms
from service.directory.operations import PartnershipTerms
from service.directory.operations import ServiceDetails
from service.directory.operations import add_partnership_note
from service.directory.operations import add_service
from service.directory.operations import create_partnership
from service.directory.operations import propose_agreement
from service.directory.wording import bounds_words
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user

FRIDAY = date(2026, 11, 27)


@pytest.fixture
def web(app, clock):
    """The app, on the tests' clock."""
    return app


@pytest.fixture
def admin(session, clock):
    return make_user(session, Role.REGIONAL_ADMIN, None, clock)


@pytest.fixture
def partner_contact(session, network, clock):
    return make_user(session, Role.PARTNER_CONTACT, network.shelter.organization, clock)


@pytest.fixture
def as_(web, session):
    """A browser signed in as `actor`."""

    def signed_in(actor):
        return sign_in(web.test_client(), actor, session)

    return signed_in


@pytest.fixture
def tie(session, network, clock) -> Partnership:
    shelter, centre = network.shelter, network.womens_centre
    return create_partnership(
        session,
        shelter.coordinator,
        shelter.organization.id,
        centre.organization.id,
        PartnershipTerms(kinds=("yearly_presentation",)),
        clock=clock,
    )


@pytest.fixture
def shelter_service(session, network, clock) -> Service:
    return add_service(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        ServiceDetails(name="Hébergement d'urgence", need_codes=("shelter_emergency",)),
        clock=clock,
    )


def everyone(network, admin, partner_contact):
    return [
        network.shelter.caseworker,
        network.shelter.coordinator,
        network.legal_aid.caseworker,
        partner_contact,
        admin,
    ]


def is_selected(page: str, value: str) -> bool:
    """Whether the page has the option `value` selected, whatever the attributes' order."""
    return any(f'value="{value}"' in tag and "selected" in tag for tag in re.findall(r"<option[^>]*>", page))


def organization_form(name: str, **changes: str) -> dict[str, str]:
    return {"name": name, "capacity_status": "", "languages": "fr, en"} | changes


def partnership_form(**changes) -> dict:
    return {"kinds": ["team_sessions"], "formal": "informal", "review_every_months": "12"} | changes


def agreement_form(**changes) -> dict:
    values = {
        "urgent_protocol": "urgent",
        "effective_on": "2026-11-30",
        "parameter_receipt_deadline": "3",
        "parameter_receipt_escalation": "4",
        "parameter_decision_deadline": "5",
        "parameter_first_contact_deadline": "10",
        "parameter_follow_up_delay": "30",
        "first_contact": "Accueil",
        "second_contact": "Coordination",
        "information_needed": "Langue parlée",
    }
    return values | changes


# Reading -----------------------------------------------------------------------------------


def test_strangers_are_sent_to_sign_in(web, network, tie):
    for url in (
        "/directory/",
        f"/directory/organizations/{network.shelter.organization.id}",
        "/directory/partnerships",
    ):
        response = web.test_client().get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")


def test_every_role_reads_the_directory(as_, network, admin, partner_contact, tie, shelter_service):
    shelter = network.shelter.organization
    for actor in everyone(network, admin, partner_contact):
        browser = as_(actor)
        index = browser.get("/directory/")
        assert index.status_code == 200
        assert shelter.name in index.text
        page = browser.get(f"/directory/organizations/{shelter.id}")
        assert page.status_code == 200
        assert "Hébergement d'urgence (maison d'hébergement)" in unescape(page.text)  # the need, in French
        assert browser.get(f"/directory/partnerships/{tie.id}").status_code == 200
        assert browser.get("/directory/partnerships").status_code == 200


def test_unknown_ids_are_not_found(as_, network):
    browser = as_(network.shelter.coordinator)
    for url in (
        "/directory/organizations/999999",
        "/directory/organizations/999999/edit",
        "/directory/services/999999/edit",
        "/directory/partnerships/999999",
        "/directory/partnerships/999999/agreements/new",
    ):
        assert browser.get(url).status_code == 404, url
    assert browser.post("/directory/partnerships/999999/agreements/1/confirm").status_code == 404


def test_searching_by_need_and_by_words(as_, network, shelter_service):
    browser = as_(network.legal_aid.caseworker)
    shelter, legal = network.shelter.organization, network.legal_aid.organization
    by_need = browser.get("/directory/?need=shelter_emergency")
    assert shelter.name in by_need.text
    assert legal.name not in by_need.text
    assert is_selected(by_need.text, "shelter_emergency")
    by_words = browser.get("/directory/?q=HEBERGEMENT")
    assert shelter.name in by_words.text
    assert legal.name not in by_words.text
    nothing = browser.get("/directory/?q=introuvable&need=legal_aid")
    assert shelter.name not in nothing.text
    english = browser.get("/directory/?lang=en")
    assert "Emergency shelter" in english.text  # the need select speaks the page's language


def test_the_organization_page_shows_capacity_in_words_and_its_partnerships(as_, session, network, tie):
    shelter = session.get(Organization, network.shelter.organization.id)
    shelter.capacity_status = "waitlist"
    session.commit()
    page = as_(network.legal_aid.caseworker).get(f"/directory/organizations/{shelter.id}?lang=en")
    assert "Waiting list" in page.text
    assert network.womens_centre.organization.name in page.text
    assert page.text.count("<h1") == 1


# Organizations and services ---------------------------------------------------------------


def test_a_coordinator_edits_her_own_organization(as_, session, network):
    shelter = network.shelter.organization
    browser = as_(network.shelter.coordinator)
    assert browser.get(f"/directory/organizations/{shelter.id}/edit").status_code == 200
    response = browser.post(
        f"/directory/organizations/{shelter.id}/edit",
        data=organization_form(
            "Maison Fictive du Phare",
            capacity_status="full",
            hours="24 h sur 24",
            clienteles="Femmes victimes de violence et leurs enfants",
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/directory/organizations/{shelter.id}"
    saved = session.get(Organization, shelter.id)
    assert (saved.capacity_status, saved.hours, saved.languages) == ("full", "24 h sur 24", ["fr", "en"])
    assert saved.clienteles == "Femmes victimes de violence et leurs enfants"
    page = browser.get(f"/directory/organizations/{shelter.id}").text
    assert "Femmes victimes de violence et leurs enfants" in page


def test_bad_organization_details_are_shown_again_with_the_errors(as_, network):
    shelter = network.shelter.organization
    browser = as_(network.shelter.coordinator)
    response = browser.post(
        f"/directory/organizations/{shelter.id}/edit",
        data=organization_form("", referral_email="pas une adresse", hours="Lundi au vendredi"),
    )
    assert response.status_code == 200
    assert "error-summary" in response.text
    assert "Lundi au vendredi" in response.text  # what she typed is kept
    taken = browser.post(
        f"/directory/organizations/{shelter.id}/edit",
        data=organization_form(network.legal_aid.organization.name),
    )
    assert taken.status_code == 200
    assert "error-summary" in taken.text


def test_only_her_own_coordinator_and_the_regional_admin_edit_an_organization(
    as_, session, network, admin, partner_contact
):
    shelter = network.shelter.organization
    url = f"/directory/organizations/{shelter.id}/edit"
    for outsider in (
        network.shelter.caseworker,
        partner_contact,
        network.legal_aid.coordinator,
        network.womens_centre.caseworker,
    ):
        browser = as_(outsider)
        assert browser.get(url).status_code == 403
        assert browser.post(url, data=organization_form("Piraté")).status_code == 403
        assert browser.get(f"/directory/organizations/{shelter.id}/services/new").status_code == 403
    assert session.get(Organization, shelter.id).name == "Maison Fictive du Phare"
    response = as_(admin).post(url, data=organization_form("Maison du Phare"))
    assert response.status_code == 303
    assert session.get(Organization, shelter.id).name == "Maison du Phare"


def test_the_regional_admin_adds_an_organization(as_, session, network, admin):
    assert as_(network.shelter.coordinator).get("/directory/organizations/new").status_code == 403
    assert (
        as_(network.shelter.coordinator)
        .post("/directory/organizations/new", data=organization_form("X"))
        .status_code
        == 403
    )
    browser = as_(admin)
    assert browser.get("/directory/organizations/new").status_code == 200
    response = browser.post(
        "/directory/organizations/new", data=organization_form("Carrefour Fictif", capacity_status="open")
    )
    assert response.status_code == 303
    added = session.scalar(select(Organization).where(Organization.name == "Carrefour Fictif"))
    assert added.capacity_status == "open"
    assert response.headers["Location"] == f"/directory/organizations/{added.id}"


def test_a_coordinator_adds_edits_and_removes_her_services(as_, session, network):
    shelter = network.shelter.organization
    browser = as_(network.shelter.coordinator)
    assert browser.get(f"/directory/organizations/{shelter.id}/services/new").status_code == 200
    added = browser.post(
        f"/directory/organizations/{shelter.id}/services/new",
        data={"name": "Hébergement", "description": "", "needs": ["shelter_emergency", "safety_plan"]},
    )
    assert added.status_code == 303
    service = session.scalar(select(Service).where(Service.organization_id == shelter.id))
    assert {n.code for n in service.needs} == {"shelter_emergency", "safety_plan"}
    assert browser.get(f"/directory/services/{service.id}/edit").status_code == 200
    edited = browser.post(
        f"/directory/services/{service.id}/edit", data={"name": "Hébergement", "needs": ["housing"]}
    )
    assert edited.status_code == 303
    assert [n.code for n in session.get(Service, service.id).needs] == ["housing"]
    unnamed = browser.post(f"/directory/services/{service.id}/edit", data={"name": "", "needs": ["housing"]})
    assert unnamed.status_code == 200
    assert "error-summary" in unnamed.text

    outsider = as_(network.legal_aid.coordinator)
    assert outsider.get(f"/directory/services/{service.id}/edit").status_code == 403
    assert outsider.post(f"/directory/services/{service.id}/remove").status_code == 403
    assert as_(network.shelter.caseworker).post(f"/directory/services/{service.id}/remove").status_code == 403
    removed = browser.post(f"/directory/services/{service.id}/remove")
    assert removed.status_code == 303
    assert session.get(Service, service.id) is None


# Partnerships -------------------------------------------------------------------------------


def test_a_coordinator_records_a_partnership_with_another_organization(as_, session, network):
    legal, shelter = network.legal_aid.organization, network.shelter.organization
    browser = as_(network.legal_aid.coordinator)
    form = browser.get(f"/directory/partnerships/new?partner={shelter.id}")
    assert form.status_code == 200
    assert is_selected(form.text, str(shelter.id))
    response = browser.post(
        "/directory/partnerships/new",
        data=partnership_form(
            partner=str(shelter.id),
            kinds=["team_sessions", "joint_mobilization"],
            formal="formal",
            organization_contact="Avocate de garde",
        ),
    )
    assert response.status_code == 303
    made = partnership_between(session, legal.id, shelter.id)
    assert (made.first_organization_id, made.second_organization_id) == tuple(sorted((legal.id, shelter.id)))
    assert made.formal
    assert made.kinds == ["team_sessions", "joint_mobilization"]
    assert "Avocate de garde" in (made.first_contact, made.second_contact)
    assert response.headers["Location"] == f"/directory/partnerships/{made.id}"
    again = browser.post("/directory/partnerships/new", data=partnership_form(partner=str(shelter.id)))
    assert again.status_code == 200
    assert "error-summary" in again.text
    low, high = sorted((legal.id, shelter.id))
    pair = (Partnership.first_organization_id == low) & (Partnership.second_organization_id == high)
    assert session.scalar(select(func.count()).where(pair)) == 1
    no_kind = browser.post(
        "/directory/partnerships/new", data=partnership_form(partner=str(shelter.id), kinds=[])
    )
    assert "error-summary" in no_kind.text


def test_caseworkers_and_partner_contacts_do_not_record_partnerships(as_, session, network, partner_contact):
    for actor in (network.shelter.caseworker, partner_contact):
        browser = as_(actor)
        assert browser.get("/directory/partnerships/new").status_code == 403
        data = partnership_form(partner=str(network.legal_aid.organization.id))
        assert browser.post("/directory/partnerships/new", data=data).status_code == 403
    assert (
        partnership_between(session, network.shelter.organization.id, network.legal_aid.organization.id)
        is None
    )


def test_the_regional_admin_records_a_partnership_between_two_organizations(as_, session, network, admin):
    shelter, legal = network.shelter.organization, network.legal_aid.organization
    response = as_(admin).post(
        "/directory/partnerships/new",
        data=partnership_form(organization=str(legal.id), partner=str(shelter.id)),
    )
    assert response.status_code == 303
    assert partnership_between(session, shelter.id, legal.id).first_organization_id == min(
        shelter.id, legal.id
    )


def test_either_sides_coordinator_edits_the_partnership_and_no_one_else(as_, session, network, admin, tie):
    url = f"/directory/partnerships/{tie.id}/edit"
    for outsider in (
        network.legal_aid.coordinator,
        network.shelter.caseworker,
        network.womens_centre.caseworker,
    ):
        browser = as_(outsider)
        assert browser.get(url).status_code == 403
        assert browser.post(url, data=partnership_form()).status_code == 403
    browser = as_(network.womens_centre.coordinator)
    assert browser.get(url).status_code == 200
    response = browser.post(url, data=partnership_form(kinds=["shared_premises"], review_every_months="6"))
    assert response.status_code == 303
    saved = session.get(Partnership, tie.id)
    assert (saved.kinds, saved.review_every_months, saved.active) == (
        ["shared_premises"],
        6,
        False,
    )  # unticked
    assert browser.post(url, data=partnership_form(review_every_months="0")).status_code == 200
    assert as_(admin).post(url, data=partnership_form(active="y")).status_code == 303


def test_my_organizations_partnerships_list_only_hers(as_, session, network, admin, tie, clock):
    create_partnership(
        session,
        network.legal_aid.coordinator,
        network.legal_aid.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(kinds=("team_sessions",)),
        clock=clock,
    )
    mine = as_(network.shelter.caseworker).get("/directory/partnerships")
    assert network.womens_centre.organization.name in mine.text
    assert network.legal_aid.organization.name not in mine.text
    everything = as_(admin).get("/directory/partnerships")
    assert network.legal_aid.organization.name in everything.text


# Traces ---------------------------------------------------------------------------------------


def test_staff_of_either_side_add_traces_shown_newest_first(as_, session, network, tie, clock):
    shelter_side = as_(network.shelter.caseworker)
    response = shelter_side.post(
        f"/directory/partnerships/{tie.id}/notes",
        data={"kind": "meeting", "text": "Visite des locaux du Phare"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/directory/partnerships/{tie.id}#traces"
    clock.advance(days=1)
    as_(network.womens_centre.coordinator).post(
        f"/directory/partnerships/{tie.id}/notes", data={"kind": "review", "text": "Bilan annuel"}
    )
    shelter_side = as_(network.shelter.caseworker)  # a day later her first session has ended
    page = shelter_side.get(f"/directory/partnerships/{tie.id}").text
    assert page.index("Bilan annuel") < page.index("Visite des locaux du Phare")
    assert network.womens_centre.organization.name in page
    empty = shelter_side.post(f"/directory/partnerships/{tie.id}/notes", data={"kind": "note", "text": ""})
    assert empty.status_code == 200
    assert "error-summary" in empty.text


def test_outsiders_neither_add_nor_read_traces(as_, session, network, admin, partner_contact, tie, clock):
    add_partnership_note(
        session, network.shelter.caseworker, tie.id, kind="note", text="Trace interne", clock=clock
    )
    for outsider in (network.legal_aid.coordinator, admin, partner_contact):
        response = as_(outsider).post(
            f"/directory/partnerships/{tie.id}/notes", data={"kind": "note", "text": "X"}
        )
        assert response.status_code == 403
    assert (
        "Trace interne" not in as_(network.legal_aid.caseworker).get(f"/directory/partnerships/{tie.id}").text
    )
    assert "Trace interne" in as_(admin).get(f"/directory/partnerships/{tie.id}").text
    assert session.scalar(select(func.count()).where(PartnershipNote.partnership_id == tie.id)) == 1


# Referral agreements ----------------------------------------------------------------------------


def test_the_agreement_form_shows_each_parameter_with_its_bounds(as_, network, tie):
    browser = as_(network.womens_centre.coordinator)
    page = browser.get(f"/directory/partnerships/{tie.id}/agreements/new")
    assert page.status_code == 200
    assert "Délai d'accusé de réception" in unescape(page.text)
    assert 'name="parameter_receipt_deadline"' in page.text
    accompanied = browser.get(f"/directory/partnerships/{tie.id}/agreements/new?protocol=accompanied&lang=en")
    assert "Deadline to hold the meeting" in accompanied.text
    assert "between 2 and 15 business days" in accompanied.text
    assert browser.get(f"/directory/partnerships/{tie.id}/agreements/new?protocol=nope").status_code == 404


def test_a_coordinator_proposes_and_the_other_side_confirms(as_, session, network, tie, clock):
    shelter, centre = network.shelter, network.womens_centre
    proposer = as_(centre.coordinator)
    response = proposer.post(
        f"/directory/partnerships/{tie.id}/agreements/new?protocol=standard", data=agreement_form()
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/directory/partnerships/{tie.id}#agreements"
    agreement = session.scalar(select(ReferralAgreement).where(ReferralAgreement.partnership_id == tie.id))
    assert (agreement.version, agreement.confirmed_at) == (1, None)
    assert agreement.parameters["receipt_deadline"] == "3 business days"
    assert "referral_protocol" in session.get(Partnership, tie.id).kinds

    # The proposing side sees no confirm button and may not confirm by hand either.
    assert "/confirm" not in proposer.get(f"/directory/partnerships/{tie.id}").text
    refused = proposer.post(f"/directory/partnerships/{tie.id}/agreements/1/confirm")
    assert refused.status_code == 303
    assert session.get(ReferralAgreement, agreement.id).confirmed_at is None
    for outsider in (shelter.caseworker, network.legal_aid.coordinator):
        assert as_(outsider).post(f"/directory/partnerships/{tie.id}/agreements/1/confirm").status_code == 403

    confirmer = as_(shelter.coordinator)
    page = confirmer.get(f"/directory/partnerships/{tie.id}")
    assert f"/directory/partnerships/{tie.id}/agreements/1/confirm" in page.text
    confirmed = confirmer.post(f"/directory/partnerships/{tie.id}/agreements/1/confirm")
    assert confirmed.status_code == 303
    assert session.get(ReferralAgreement, agreement.id).confirmed_by_id == shelter.coordinator.user_id
    # The referral intake then finds it from the day it takes effect.
    assert current_agreement(session, centre.organization.id, shelter.organization.id, FRIDAY) is None
    found = current_agreement(session, centre.organization.id, shelter.organization.id, date(2026, 11, 30))
    assert found.id == agreement.id
    english = unescape(confirmer.get(f"/directory/partnerships/{tie.id}?lang=en").text)
    assert "Version 1 — Confirmed, not in effect yet" in english  # it takes effect on Monday
    assert "Receipt deadline: 3 business days" in english


def test_out_of_bounds_parameters_are_refused_in_french(as_, session, web, network, tie):
    browser = as_(network.womens_centre.coordinator)
    response = browser.post(
        f"/directory/partnerships/{tie.id}/agreements/new?protocol=standard",
        data=agreement_form(parameter_receipt_deadline="9", information_needed="Ce que j'ai écrit"),
    )
    assert response.status_code == 200
    assert 'lang="fr"' in response.text
    with web.test_request_context(), force_locale("fr"):
        bounds = bounds_words("1 business day", "5 business days")
    assert bounds in response.text
    assert "Délai d'accusé de réception" in unescape(response.text)  # the field's French title
    assert 'aria-invalid="true"' in response.text
    assert "Ce que j'ai écrit" in unescape(response.text)  # what she typed is kept
    crossed = browser.post(
        f"/directory/partnerships/{tie.id}/agreements/new?protocol=standard",
        data=agreement_form(parameter_receipt_deadline="5", parameter_receipt_escalation="3"),
    )
    assert crossed.status_code == 200
    assert "error-summary" in crossed.text
    past = browser.post(
        f"/directory/partnerships/{tie.id}/agreements/new?protocol=standard",
        data=agreement_form(effective_on="2026-11-01"),
    )
    assert "error-summary" in past.text
    assert session.scalar(select(func.count()).where(ReferralAgreement.partnership_id == tie.id)) == 0


def test_only_coordinators_of_either_side_propose_agreements(as_, session, network, admin, tie):
    url = f"/directory/partnerships/{tie.id}/agreements/new?protocol=standard"
    for outsider in (network.womens_centre.caseworker, network.legal_aid.coordinator, admin):
        browser = as_(outsider)
        assert browser.get(url).status_code == 403
        assert browser.post(url, data=agreement_form()).status_code == 403
    assert session.scalar(select(func.count()).where(ReferralAgreement.partnership_id == tie.id)) == 0


def test_the_partnership_page_lists_versions_with_their_status(as_, session, network, tie, clock, protocols):
    centre, shelter = network.womens_centre, network.shelter
    terms = AgreementTerms(protocol_name="standard", effective_on=FRIDAY)
    propose_agreement(session, protocols, centre.coordinator, tie.id, terms, clock=clock)
    as_(shelter.coordinator).post(f"/directory/partnerships/{tie.id}/agreements/1/confirm")
    propose_agreement(session, protocols, shelter.coordinator, tie.id, terms, clock=clock)
    page = as_(network.legal_aid.caseworker).get(f"/directory/partnerships/{tie.id}?lang=en").text
    assert "Version 2 — Proposed, waiting for confirmation" in page
    assert "Version 1 — In effect" in page
    assert f"Waiting for the coordinator of {centre.organization.name} to confirm it." in page


def test_a_stale_confirmation_is_refused_with_a_message(as_, session, network, tie, clock, protocols):
    terms = AgreementTerms(protocol_name="standard", effective_on=FRIDAY)
    for _ in range(2):  # a second proposal made while the shelter's coordinator had the page open
        propose_agreement(session, protocols, network.womens_centre.coordinator, tie.id, terms, clock=clock)
    response = as_(network.shelter.coordinator).post(
        f"/directory/partnerships/{tie.id}/agreements/1/confirm?lang=en", follow_redirects=True
    )
    assert "only the newest version can be confirmed" in response.text
    confirmed = ReferralAgreement.confirmed_at.is_not(None) & (ReferralAgreement.partnership_id == tie.id)
    assert session.scalar(select(func.count()).where(confirmed)) == 0


def test_an_organizations_kind_shows_in_words_not_as_its_code(as_, session, network):
    network.legal_aid.organization.kind = "legal_aid"
    network.shelter.organization.kind = "Maison pour femmes aînées"  # typed in the form: shown as typed
    session.commit()
    browser = as_(network.shelter.caseworker)
    legal_aid = network.legal_aid.organization.id
    for path in ("/directory/", f"/directory/organizations/{legal_aid}"):
        french = browser.get(f"{path}?lang=fr").text
        assert '<p class="dir-kind">Aide juridique</p>' in french
        assert 'dir-kind">legal_aid<' not in french
        assert '<p class="dir-kind">Legal aid</p>' in browser.get(f"{path}?lang=en").text
    assert "Maison pour femmes aînées" in browser.get("/directory/?lang=fr").text

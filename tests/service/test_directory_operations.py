"""Stories of the directory changed through its operations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.agreements import current_agreement
from service.directory.agreements import partnership_between
from service.directory.errors import DirectoryNotAllowed
from service.directory.errors import DirectoryNotFound
from service.directory.errors import RuleBroken
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import ReferralAgreement
from service.directory.operations import AgreementTerms
from service.directory.operations import OrganizationDetails
from service.directory.operations import PartnershipTerms
from service.directory.operations import ServiceDetails
from service.directory.operations import add_partnership_note
from service.directory.operations import add_service
from service.directory.operations import confirm_agreement
from service.directory.operations import create_organization
from service.directory.operations import create_partnership
from service.directory.operations import propose_agreement
from service.directory.operations import remove_service
from service.directory.operations import update_organization
from service.directory.operations import update_partnership
from service.directory.operations import update_service
from service.directory.queries import agreement_versions
from service.directory.queries import partnership_notes
from service.directory.queries import search_organizations
from service.directory.queries import search_services
from service.errors import NotAllowed
from service.errors import ParameterError
from service.referrals.actors import Actor
from service.referrals.operations import open_referral
from tests.conftest import PASSWORD_HASH

FRIDAY = date(2026, 11, 27)  # the clock fixture's day in Montréal


def make_user(session, role: Role, organization: Organization | None, clock) -> Actor:
    user = User(
        email=f"{role}-{organization.id if organization else 'region'}@extra.example.org",
        name=f"{role} extra",
        organization_id=organization.id if organization else None,
        role=role,
        password_hash=PASSWORD_HASH,
        created_at=clock.now,
    )
    session.add(user)
    session.commit()
    return Actor(user_id=user.id, organization_id=user.organization_id, role=role)


@pytest.fixture
def admin(session, clock) -> Actor:
    return make_user(session, Role.REGIONAL_ADMIN, None, clock)


@pytest.fixture
def tie(session, network, clock) -> Partnership:
    """The women's centre and the shelter, partners for presentations, recorded by the shelter."""
    shelter, centre = network.shelter, network.womens_centre
    return create_partnership(
        session,
        shelter.coordinator,
        shelter.organization.id,
        centre.organization.id,
        PartnershipTerms(
            kinds=("yearly_presentation",),
            contacts={
                shelter.organization.id: "Intervenante de garde",
                centre.organization.id: "Coordonnatrice",
            },
        ),
        clock=clock,
    )


def terms(**changes) -> AgreementTerms:
    values = {
        "protocol_name": "standard",
        "effective_on": FRIDAY,
        "parameters": {"receipt_deadline": "3 business days"},
    }
    return AgreementTerms(**(values | changes))


# Organizations and services -----------------------------------------------------------


def test_a_coordinator_edits_her_own_organization_and_no_other(session, network, clock):
    shelter = network.shelter
    details = OrganizationDetails(
        name="Maison Fictive du Phare", languages=("fr", "en"), capacity_status="waitlist"
    )
    update_organization(session, shelter.coordinator, shelter.organization.id, details, clock=clock)
    assert session.get(Organization, shelter.organization.id).capacity_status == "waitlist"
    assert session.get(Organization, shelter.organization.id).languages == ["fr", "en"]
    with pytest.raises(DirectoryNotAllowed):
        update_organization(
            session, shelter.coordinator, network.legal_aid.organization.id, details, clock=clock
        )
    with pytest.raises(NotAllowed):  # the 403 every page already maps
        update_organization(session, shelter.caseworker, shelter.organization.id, details, clock=clock)


def test_the_regional_admin_adds_organizations_with_names_of_their_own(session, network, admin, clock):
    added = create_organization(session, admin, OrganizationDetails(name="Carrefour Fictif"), clock=clock)
    assert added.created_at == clock.now
    with pytest.raises(RuleBroken) as refused:
        create_organization(session, admin, OrganizationDetails(name="maison fictive du phare"), clock=clock)
    assert refused.value.rule == "name_taken"
    with pytest.raises(DirectoryNotAllowed):
        create_organization(
            session, network.shelter.coordinator, OrganizationDetails(name="Autre"), clock=clock
        )
    update_organization(
        session, admin, network.legal_aid.organization.id, OrganizationDetails(name="Aide juridique")
    )
    assert session.get(Organization, network.legal_aid.organization.id).name == "Aide juridique"


def test_services_cover_needs_and_searching_finds_them_by_need_or_by_words(session, network, clock):
    shelter, legal = network.shelter, network.legal_aid
    ours = {shelter.organization.id, network.womens_centre.organization.id, legal.organization.id}

    def found(**query) -> set[int]:
        """The network's organizations the search finds (the database may hold others)."""
        return {o.id for o in search_organizations(session, **query)} & ours

    service = add_service(
        session,
        shelter.coordinator,
        shelter.organization.id,
        ServiceDetails(
            name="Hébergement d'urgence", description="24 h sur 24", need_codes=("shelter_emergency",)
        ),
    )
    assert found(need_code="shelter_emergency") == {shelter.organization.id}
    assert found(need_code="legal_aid") == set()
    # Accents and case never hide a match; every word must match.
    assert found(text="HEBERGEMENT urgence") == {shelter.organization.id}
    assert found(text="hébergement juridique") == set()
    assert found(text="fictive") == {shelter.organization.id, legal.organization.id}
    # The services themselves are searched the same way, on their own name and description.
    assert [s.id for s in search_services(session, need_code="shelter_emergency")] == [service.id]
    assert service in search_services(session, text="HEBERGEMENT 24")
    assert service not in search_services(session, text="hebergement", need_code="legal_aid")
    update_service(
        session, shelter.coordinator, service.id, ServiceDetails(name="Hébergement", need_codes=("housing",))
    )
    assert found(need_code="shelter_emergency") == set()
    with pytest.raises(DirectoryNotAllowed):
        remove_service(session, legal.coordinator, service.id)
    remove_service(session, shelter.coordinator, service.id)
    assert found(need_code="housing") == set()
    with pytest.raises(DirectoryNotFound):
        remove_service(session, shelter.coordinator, service.id)


# Partnerships and traces -------------------------------------------------------------------


def test_a_partnership_is_stored_once_per_pair_in_id_order(session, network, tie, clock):
    shelter, centre = network.shelter.organization, network.womens_centre.organization
    low, high = sorted((shelter.id, centre.id))
    assert (tie.first_organization_id, tie.second_organization_id) == (low, high)
    assert tie.first_contact == ("Intervenante de garde" if low == shelter.id else "Coordonnatrice")
    assert partnership_between(session, centre.id, shelter.id).id == tie.id
    with pytest.raises(RuleBroken) as twice:
        create_partnership(
            session, network.womens_centre.coordinator, centre.id, shelter.id, PartnershipTerms(kinds=())
        )
    assert twice.value.rule == "already_partners"
    with pytest.raises(RuleBroken) as alone:
        create_partnership(
            session, network.womens_centre.coordinator, centre.id, centre.id, PartnershipTerms(kinds=())
        )
    assert alone.value.rule == "same_organization"
    assert session.scalar(select(func.count()).where(Partnership.first_organization_id.in_((low, high)))) == 1


def test_only_a_coordinator_of_either_side_or_the_regional_admin_records_a_partnership(
    session, network, admin, clock
):
    shelter, legal = network.shelter.organization.id, network.legal_aid.organization.id
    for outsider in (network.shelter.caseworker, network.womens_centre.coordinator):
        with pytest.raises(DirectoryNotAllowed):
            create_partnership(session, outsider, shelter, legal, PartnershipTerms(kinds=("team_sessions",)))
    made = create_partnership(
        session, admin, legal, shelter, PartnershipTerms(kinds=("team_sessions",)), clock=clock
    )
    assert made.kinds == ["team_sessions"]


def test_either_sides_coordinator_edits_the_partnership(session, network, tie, clock):
    centre = network.womens_centre
    update_partnership(
        session,
        centre.coordinator,
        tie.id,
        PartnershipTerms(
            kinds=("shared_premises", "yearly_presentation"), formal=True, review_every_months=6
        ),
    )
    assert (tie.kinds, tie.formal, tie.review_every_months) == (
        ["shared_premises", "yearly_presentation"],
        True,
        6,
    )
    with pytest.raises(DirectoryNotAllowed):
        update_partnership(
            session, network.legal_aid.coordinator, tie.id, PartnershipTerms(kinds=("team_sessions",))
        )
    with pytest.raises(DirectoryNotAllowed):
        update_partnership(session, centre.caseworker, tie.id, PartnershipTerms(kinds=("team_sessions",)))


def test_traces_are_kept_newest_first_with_who_and_which_organization(session, network, admin, tie, clock):
    add_partnership_note(
        session, network.shelter.caseworker, tie.id, kind="meeting", text="Rencontre", clock=clock
    )
    clock.advance(days=30)
    add_partnership_note(
        session, network.womens_centre.coordinator, tie.id, kind="review", text="Bilan", clock=clock
    )
    rows = partnership_notes(session, tie)
    assert [(r.note.text, r.organization) for r in rows] == [
        ("Bilan", network.womens_centre.organization.name),
        ("Rencontre", network.shelter.organization.name),
    ]
    assert rows[0].author == "coordinator Centre de femmes Fictif des Rivières"
    for outsider in (network.legal_aid.caseworker, admin):
        with pytest.raises(DirectoryNotAllowed):
            add_partnership_note(session, outsider, tie.id, kind="note", text="Intrusion")
    with pytest.raises(RuleBroken):
        add_partnership_note(session, network.shelter.caseworker, tie.id, kind="note", text="   ")


# Referral agreements -----------------------------------------------------------------------


def test_an_agreement_applies_once_the_other_side_confirms_it(session, network, tie, clock, protocols):
    shelter, centre = network.shelter, network.womens_centre
    proposed = propose_agreement(session, protocols, centre.coordinator, tie.id, terms(), clock=clock)
    assert (proposed.version, proposed.confirmed_at) == (1, None)
    assert proposed.parameters["receipt_deadline"] == "3 business days"
    assert proposed.parameters["follow_up_delay"] == "30 days"  # stored complete, with the defaults
    assert "referral_protocol" in tie.kinds  # agreeing on a protocol makes it that kind of partnership
    assert current_agreement(session, shelter.organization.id, centre.organization.id, FRIDAY) is None

    with pytest.raises(RuleBroken) as own:
        confirm_agreement(session, centre.coordinator, tie.id, 1, clock=clock)
    assert own.value.rule == "own_proposal"
    with pytest.raises(DirectoryNotAllowed):
        confirm_agreement(session, shelter.caseworker, tie.id, 1, clock=clock)
    with pytest.raises(DirectoryNotAllowed):
        confirm_agreement(session, network.legal_aid.coordinator, tie.id, 1, clock=clock)

    confirm_agreement(session, shelter.coordinator, tie.id, 1, clock=clock)
    assert proposed.confirmed_by_id == shelter.coordinator.user_id
    assert (
        current_agreement(session, centre.organization.id, shelter.organization.id, FRIDAY).id == proposed.id
    )
    with pytest.raises(RuleBroken) as again:
        confirm_agreement(session, shelter.coordinator, tie.id, 1, clock=clock)
    assert again.value.rule == "already_confirmed"


def test_a_new_version_leaves_the_one_in_effect_until_confirmed_and_dated(
    session, network, tie, clock, protocols
):
    shelter, centre = network.shelter, network.womens_centre
    propose_agreement(session, protocols, centre.coordinator, tie.id, terms(), clock=clock)
    first = confirm_agreement(session, shelter.coordinator, tie.id, 1, clock=clock)
    later = date(2027, 1, 4)
    second = propose_agreement(
        session,
        protocols,
        shelter.coordinator,
        tie.id,
        terms(protocol_name="accompanied", effective_on=later),
        clock=clock,
    )
    assert second.version == 2
    assert [v.status for v in agreement_versions(session, tie, FRIDAY)] == ["proposed", "in_effect"]
    confirm_agreement(session, centre.coordinator, tie.id, 2, clock=clock)
    assert [v.status for v in agreement_versions(session, tie, FRIDAY)] == ["confirmed", "in_effect"]
    assert current_agreement(session, shelter.organization.id, centre.organization.id, FRIDAY).id == first.id
    assert current_agreement(session, shelter.organization.id, centre.organization.id, later).id == second.id
    assert [v.status for v in agreement_versions(session, tie, later)] == ["in_effect", "superseded"]


def test_only_the_newest_proposal_can_be_confirmed(session, network, tie, clock, protocols):
    centre = network.womens_centre
    propose_agreement(session, protocols, centre.coordinator, tie.id, terms(), clock=clock)
    propose_agreement(
        session, protocols, centre.coordinator, tie.id, terms(information_needed="Langue"), clock=clock
    )
    with pytest.raises(RuleBroken) as old:
        confirm_agreement(session, network.shelter.coordinator, tie.id, 1, clock=clock)
    assert old.value.rule == "not_newest"
    assert [v.status for v in agreement_versions(session, tie, FRIDAY)] == ["proposed", "superseded"]
    with pytest.raises(DirectoryNotFound):
        confirm_agreement(session, network.shelter.coordinator, tie.id, 9, clock=clock)


def test_parameters_outside_the_protocols_bounds_are_refused_and_nothing_is_stored(
    session, network, tie, clock, protocols
):
    centre = network.womens_centre
    for wrong in ("6 business days", "0 business days", "4 hours", "soon"):
        with pytest.raises(ParameterError) as refused:
            propose_agreement(
                session,
                protocols,
                centre.coordinator,
                tie.id,
                terms(parameters={"receipt_deadline": wrong}),
                clock=clock,
            )
        assert refused.value.parameter == "receipt_deadline"
    # Within bounds one by one, but the escalation would come before the reminder.
    crossed = {"receipt_deadline": "5 business days", "receipt_escalation": "3 business days"}
    with pytest.raises(ParameterError) as order:
        propose_agreement(
            session, protocols, centre.coordinator, tie.id, terms(parameters=crossed), clock=clock
        )
    assert order.value.parameter == "receipt_escalation"
    assert session.scalar(select(func.count()).where(ReferralAgreement.partnership_id == tie.id)) == 0
    assert "referral_protocol" not in tie.kinds


def test_agreements_need_an_active_partnership_a_present_date_and_a_coordinator(
    session, network, tie, clock, protocols
):
    centre = network.womens_centre
    with pytest.raises(RuleBroken) as past:
        propose_agreement(
            session,
            protocols,
            centre.coordinator,
            tie.id,
            terms(effective_on=date(2026, 11, 26)),
            clock=clock,
        )
    assert past.value.rule == "effective_in_past"
    for outsider in (centre.caseworker, network.legal_aid.coordinator):
        with pytest.raises(DirectoryNotAllowed):
            propose_agreement(session, protocols, outsider, tie.id, terms(), clock=clock)
    update_partnership(session, centre.coordinator, tie.id, PartnershipTerms(kinds=tie.kinds, active=False))
    with pytest.raises(RuleBroken) as inactive:
        propose_agreement(session, protocols, centre.coordinator, tie.id, terms(), clock=clock)
    assert inactive.value.rule == "partnership_inactive"


def test_a_partnership_with_an_agreement_keeps_its_referral_protocol_kind(
    session, network, tie, clock, protocols
):
    centre = network.womens_centre
    propose_agreement(session, protocols, centre.coordinator, tie.id, terms(), clock=clock)
    with pytest.raises(RuleBroken) as kept:
        update_partnership(
            session, centre.coordinator, tie.id, PartnershipTerms(kinds=("yearly_presentation",))
        )
    assert kept.value.rule == "kind_needed_by_agreement"
    assert "referral_protocol" in session.get(Partnership, tie.id).kinds


def test_a_referral_opened_after_confirmation_finds_the_agreement(session, network, tie, clock, protocols):
    shelter, centre = network.shelter, network.womens_centre
    propose_agreement(
        session,
        protocols,
        shelter.coordinator,
        tie.id,
        terms(protocol_name="accompanied", parameters={"receipt_deadline": "1 business day"}),
        clock=clock,
    )
    confirm_agreement(session, centre.coordinator, tie.id, 1, clock=clock)
    agreement = current_agreement(session, centre.organization.id, shelter.organization.id, FRIDAY)
    referral = open_referral(
        session,
        protocols,
        centre.caseworker,
        receiver_organization_id=shelter.organization.id,
        protocol_name=agreement.protocol_name,
        parameters=agreement.parameters,
        clock=clock,
    )
    assert (referral.protocol_name, referral.parameters["receipt_deadline"]) == (
        "accompanied",
        "1 business day",
    )

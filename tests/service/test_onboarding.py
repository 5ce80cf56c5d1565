"""A coordinator of a new organization sees, on her dashboard, its first steps in Maillage, each
ticked as soon as the data shows it done (nothing ticked by hand), each linking to where she does
it; the list leaves once all are done, or when she hides it. Nobody else sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import Service
from service.onboarding.checklist import checklist
from service.referrals.actors import Actor
from tests.conftest import PASSWORD_HASH
from tests.conftest import sign_in


@pytest.fixture
def newcomer(session, clock) -> Actor:
    """The lone coordinator of an organization that just joined: nothing filled in yet."""
    organization = Organization(name="Maison Fictive Nouvelle", created_at=clock.now)
    session.add(organization)
    session.flush()
    user = User(
        email="coordo@nouvelle.example.org",
        name="Coordo Nouvelle",
        organization_id=organization.id,
        role=Role.COORDINATOR,
        password_hash=PASSWORD_HASH,
        created_at=clock.now,
    )
    session.add(user)
    session.commit()
    return Actor(user_id=user.id, organization_id=organization.id, role=Role.COORDINATOR)


def done(session, actor: Actor) -> dict[str, bool]:
    return {item.name: item.done for item in checklist(session, actor.organization_id, actor.user_id).items}


def test_each_step_is_ticked_as_the_data_shows_it(session, newcomer, network, clock):
    assert done(session, newcomer) == dict.fromkeys(
        ("services", "capacity", "referral_contact", "team", "partnership"), False
    )
    organization = session.get(Organization, newcomer.organization_id)
    service = Service(organization_id=organization.id, name="Hébergement", description="")
    session.add(service)
    session.commit()
    assert not done(session, newcomer)["services"]  # a service covering no need matches no referral
    service.needs = [session.scalars(select(Need)).first()]
    organization.capacity_status = "waitlist"
    organization.referral_email = "accueil@nouvelle.example.org"
    session.commit()
    assert done(session, newcomer) == {
        "services": True,
        "capacity": True,
        "referral_contact": True,
        "team": False,
        "partnership": False,
    }
    session.add(
        User(
            email="invitee@nouvelle.example.org",
            name="Invitée",
            organization_id=organization.id,
            role=Role.CASEWORKER,
            password_hash=None,
            active=False,
            created_at=clock.now,
        )
    )
    session.add(
        Partnership(
            first_organization_id=organization.id,
            second_organization_id=network.shelter.organization.id,
            kinds=["referral"],
            created_at=clock.now,
        )
    )
    session.commit()
    assert all(done(session, newcomer).values())


def test_her_dashboard_lists_the_steps_in_french_with_links_until_done(
    client, session, newcomer, network, clock
):
    coordinator = sign_in(client, newcomer, session)
    page = coordinator.get("/").text
    assert "Premiers pas" in page
    assert "0 étape(s) faite(s) sur 5" in page
    organization_id = newcomer.organization_id
    assert f'href="/directory/organizations/{organization_id}/services/new"' in page
    assert f'href="/directory/organizations/{organization_id}/edit"' in page
    assert 'href="/team/invite"' in page
    assert 'href="/directory/partnerships/new"' in page
    organization = session.get(Organization, organization_id)
    organization.capacity_status = "open"
    session.commit()
    assert "1 étape(s) faite(s) sur 5" in coordinator.get("/").text


def test_hiding_the_list_keeps_it_hidden_for_her(client, session, newcomer):
    coordinator = sign_in(client, newcomer, session)
    assert coordinator.post("/onboarding/hide").status_code == 303
    assert "Premiers pas" not in coordinator.get("/").text


def test_a_caseworker_sees_no_list(app, session, network):
    caseworker = sign_in(app.test_client(), network.shelter.caseworker, session)
    assert "Premiers pas" not in caseworker.get("/").text

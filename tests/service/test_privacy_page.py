"""The public privacy page: anyone reads who is responsible, what is kept, why, for how long and where."""

from __future__ import annotations

from html import unescape

import pytest

from service.accounts.models import Role
from service.accounts.models import User
from service.config import settings
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user


@pytest.fixture
def configured(monkeypatch):
    """The platform operator's settings, read when the page is shown."""
    monkeypatch.setenv("MAILLAGE_PRIVACY_OFFICER_NAME", "Fictive Joséphine Tremblay")
    monkeypatch.setenv("MAILLAGE_PRIVACY_OFFICER_EMAIL", "vie.privee@operateur.example")
    monkeypatch.setenv("MAILLAGE_HOSTING_LOCATION", "Montréal, Québec, Canada")
    monkeypatch.setenv("MAILLAGE_RETENTION_MONTHS", "18")
    settings.cache_clear()


def text_of(response) -> str:
    return unescape(response.text)


def test_anyone_reads_the_privacy_page_without_signing_in(app, client, session, network, clock, configured):
    officer = make_user(session, Role.PRIVACY_OFFICER, network.shelter.organization, clock)
    network.shelter.organization.retention_months = 6
    network.legal_aid.organization.retention_months = 24  # over the maximum: the maximum applies
    session.commit()

    response = client.get("/privacy/?lang=en")
    assert response.status_code == 200
    page = text_of(response)
    assert "Fictive Joséphine Tremblay" in page
    assert "mailto:vie.privee@operateur.example" in page
    assert "Montréal, Québec, Canada" in page
    assert "erased after at most 18 months (the regional maximum)" in page
    assert session.get(User, officer.user_id).name in page
    rows = {
        organization.name: page.split(organization.name, 1)[1].split("</tr>", 1)[0]
        for organization in (network.shelter.organization, network.legal_aid.organization)
    }
    assert "6 months" in rows["Maison Fictive du Phare"]
    assert "The regional maximum" in rows["Aide juridique Fictive"]
    assert "24 months" not in page
    assert "Ask the organization" in rows["Aide juridique Fictive"]  # no privacy officer there


def test_the_page_is_french_by_default_and_a_deactivated_officer_is_not_named(
    client, session, network, clock, configured
):
    officer = make_user(session, Role.PRIVACY_OFFICER, network.shelter.organization, clock)
    user = session.get(User, officer.user_id)
    user.active = False
    session.commit()
    response = client.get("/privacy/")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert user.name not in text_of(response)


def test_the_hosting_location_has_a_default(client, monkeypatch):
    monkeypatch.delenv("MAILLAGE_HOSTING_LOCATION", raising=False)
    settings.cache_clear()
    assert "Québec, Canada" in text_of(client.get("/privacy/?lang=en"))


def test_every_page_links_to_it_in_its_footer(app, client, session, network):
    assert 'href="/privacy/"' in client.get("/sign-in").text
    assert 'href="/privacy/"' in client.get("/does-not-exist").text  # error pages too
    sign_in(client, network.shelter.caseworker, session)
    assert 'href="/privacy/"' in client.get("/").text


def test_the_organization_page_leads_coordinators_and_officers_to_the_register_only(
    app, session, network, clock
):
    officer = make_user(session, Role.PRIVACY_OFFICER, network.shelter.organization, clock)
    for actor, shown in (
        (officer, True),
        (network.shelter.coordinator, True),
        (network.shelter.caseworker, False),
    ):
        client = sign_in(app.test_client(), actor, session)
        assert ('href="/privacy/incidents/"' in client.get("/organization").text) is shown, actor.role

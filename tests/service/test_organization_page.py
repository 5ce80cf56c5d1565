"""The organization's page gathers the tools of coordinators and privacy officers; the menu stays short."""

from __future__ import annotations

import re

import pytest

from service.accounts.models import Role
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import signed_in


def links_of(html: str) -> set[str]:
    return set(re.findall(r'<h2><a href="([^"]+)"', html))


@pytest.mark.parametrize(
    ("role", "tools"),
    [
        (
            Role.COORDINATOR,
            {
                "/people",
                "/referrals/emergencies",
                "/privacy/incidents/",
                "/privacy/retention",
                "/audit",
                "/notifications/failed/",
                "/organization/api-keys/",
            },
        ),
        (
            Role.PRIVACY_OFFICER,
            {"/people", "/referrals/emergencies", "/privacy/incidents/", "/privacy/retention", "/audit"},
        ),
    ],
)
def test_each_role_finds_its_tools_and_every_one_opens(app, session, network, clock, role, tools):
    person = make_user(session, network.shelter.organization.id, role, clock)
    client = signed_in(app, person, session)
    page = client.get("/organization")
    assert page.status_code == 200
    assert links_of(page.text) == tools
    for path in tools:
        assert client.get(path).status_code == 200, path
    assert 'href="/organization"' in page.text, "in the menu"


def test_a_caseworker_has_no_such_page_nor_menu_entry(app, session, network):
    client = signed_in(app, network.shelter.caseworker, session)
    assert client.get("/organization").status_code == 403
    assert 'href="/organization"' not in client.get("/").text


def test_a_privacy_officer_lands_on_it_and_her_menu_has_no_referrals(app, session, network, clock):
    officer = make_user(session, network.shelter.organization.id, Role.PRIVACY_OFFICER, clock)
    client = signed_in(app, officer, session)
    home = client.get("/")
    assert (home.status_code, home.headers["Location"]) == (302, "/organization")
    menu = client.get("/organization").text.split("</nav>")[0]
    assert 'href="/referrals/received"' not in menu
    assert 'href="/referrals/new"' not in menu

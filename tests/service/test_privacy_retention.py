"""Retention per organization within the regional maximum: each organization may keep her data
for less time, never more, and a referral goes after the shorter period of its two organizations."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.config import settings
from service.directory.models import Organization
from service.privacy.errors import PrivacyNotAllowed
from service.privacy.errors import RetentionRefused
from service.privacy.operations import set_retention
from service.referrals.models import ReferralPerson
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.retention import purge_closed
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user
from tests.service.test_periodic import HER


def closed_referral(session, protocols, network, clock, receiver) -> int:
    """The women's centre refers a woman to `receiver`, with her consent, then cancels: closed now."""
    sender = network.womens_centre.caseworker
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=receiver.organization.id,
        protocol_name="standard",
        person=HER,
        clock=clock,
    )
    record_consent(
        session, draft.id, sender, method="verbal", shared_with="Fictive", purpose="aide", clock=clock
    )
    fire(session, protocols, draft.id, "send", sender, clock=clock)
    fire(session, protocols, draft.id, "cancel", sender, reason="other", comment="Fictive", clock=clock)
    return draft.id


def keeps_her_data(session, referral_id: int) -> bool:
    session.expire_all()
    return session.get(ReferralPerson, referral_id) is not None


def period(session, organization: Organization, months: int | None) -> None:
    organization.retention_months = months
    session.commit()


# The purge, on a moved clock -----------------------------------------------------------


def test_a_referral_goes_after_the_shorter_period_of_its_two_organizations(
    session, protocols, network, clock
):
    period(session, network.shelter.organization, 3)  # the receiver keeps 3 months
    to_shelter = closed_referral(session, protocols, network, clock, network.shelter)
    to_legal_aid = closed_referral(session, protocols, network, clock, network.legal_aid)

    clock.advance(days=88)
    assert purge_closed(session, protocols, months=12, clock=clock) == 0
    clock.advance(days=5)  # 93 days: past three months
    assert purge_closed(session, protocols, months=12, clock=clock) == 1
    assert not keeps_her_data(session, to_shelter)
    assert keeps_her_data(session, to_legal_aid)  # neither side chose less than the maximum

    clock.advance(days=275)  # a year and a bit after closing
    assert purge_closed(session, protocols, months=12, clock=clock) == 1
    assert not keeps_her_data(session, to_legal_aid)


def test_the_senders_shorter_period_counts_as_much_as_the_receivers(session, protocols, network, clock):
    period(session, network.womens_centre.organization, 2)
    period(session, network.shelter.organization, 6)
    referral_id = closed_referral(session, protocols, network, clock, network.shelter)
    clock.advance(days=58)
    assert purge_closed(session, protocols, months=12, clock=clock) == 0
    clock.advance(days=4)
    assert purge_closed(session, protocols, months=12, clock=clock) == 1
    assert not keeps_her_data(session, referral_id)


def test_a_lowered_regional_maximum_wins_over_a_longer_period_chosen_before(
    session, protocols, network, clock
):
    period(session, network.shelter.organization, 10)
    referral_id = closed_referral(session, protocols, network, clock, network.shelter)
    clock.advance(days=190)  # past six months, short of ten
    assert purge_closed(session, protocols, months=12, clock=clock) == 0
    assert purge_closed(session, protocols, months=6, clock=clock) == 1
    assert not keeps_her_data(session, referral_id)


# Setting the period -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.PRIVACY_OFFICER])
def test_a_coordinator_or_the_privacy_officer_sets_a_shorter_period_audited(session, network, clock, role):
    shelter = network.shelter.organization
    actor = (
        network.shelter.coordinator if role == Role.COORDINATOR else make_user(session, role, shelter, clock)
    )
    set_retention(session, actor, shelter.id, 6, maximum=12, clock=clock)
    assert session.get(Organization, shelter.id).retention_months == 6
    set_retention(session, actor, shelter.id, None, maximum=12, clock=clock)
    assert session.get(Organization, shelter.id).retention_months is None
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.changed")).all()
    assert [(e.user_id, e.organization_id) for e in entries] == [(actor.user_id, shelter.id)] * 2


@pytest.mark.parametrize(("months", "rule"), [(13, "too_long"), (0, "too_short"), (-1, "too_short")])
def test_a_period_over_the_maximum_or_under_a_month_is_refused(session, network, clock, months, rule):
    shelter = network.shelter.organization
    with pytest.raises(RetentionRefused) as refused:
        set_retention(session, network.shelter.coordinator, shelter.id, months, maximum=12, clock=clock)
    assert (refused.value.rule, refused.value.maximum) == (rule, 12)
    assert session.get(Organization, shelter.id).retention_months is None


def test_nobody_else_sets_an_organizations_period(session, network, clock):
    shelter = network.shelter.organization
    for actor in (
        network.shelter.caseworker,
        network.legal_aid.coordinator,
        make_user(session, Role.PRIVACY_OFFICER, network.legal_aid.organization, clock),
        make_user(session, Role.PARTNER_CONTACT, shelter, clock),
        make_user(session, Role.REGIONAL_ADMIN, None, clock),
    ):
        with pytest.raises(PrivacyNotAllowed):
            set_retention(session, actor, shelter.id, 3, maximum=12, clock=clock)
    assert session.get(Organization, shelter.id).retention_months is None


# The settings page -----------------------------------------------------------------------


@pytest.fixture
def web(app, clock):
    return app


def test_the_settings_page_saves_a_shorter_period_and_explains_a_refusal(web, session, network, monkeypatch):
    monkeypatch.setenv("MAILLAGE_RETENTION_MONTHS", "9")
    settings.cache_clear()
    client = sign_in(web.test_client(), network.shelter.coordinator, session)
    page = client.get("/privacy/retention?lang=en")
    assert page.status_code == 200
    assert "9 months" in page.text

    refused = client.post("/privacy/retention", data={"months": "10"})
    assert refused.status_code == 200
    assert "The regional maximum is 9 months: enter 9 or fewer, or leave it empty." in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert session.get(Organization, network.shelter.organization.id).retention_months is None

    saved = client.post("/privacy/retention", data={"months": "4"})
    assert saved.status_code == 303
    session.expire_all()
    assert session.get(Organization, network.shelter.organization.id).retention_months == 4
    assert "4 months" in client.get("/privacy/retention").text

    assert client.post("/privacy/retention", data={"months": ""}).status_code == 303
    session.expire_all()
    assert session.get(Organization, network.shelter.organization.id).retention_months is None
    assert client.post("/privacy/retention", data={"months": "six"}).status_code == 200


def test_only_her_organizations_coordinator_and_officer_reach_the_settings_page(web, session, network, clock):
    shelter = network.shelter.organization
    answers = {}
    for who, actor in {
        "coordinator": network.shelter.coordinator,
        "officer": make_user(session, Role.PRIVACY_OFFICER, shelter, clock),
        "caseworker": network.shelter.caseworker,
        "partner contact": make_user(session, Role.PARTNER_CONTACT, shelter, clock),
        "region": make_user(session, Role.REGIONAL_ADMIN, None, clock),
    }.items():
        client = sign_in(web.test_client(), actor, session)
        answers[who] = (
            client.get("/privacy/retention").status_code,
            client.post("/privacy/retention", data={"months": "1"}).status_code,
        )
    assert answers == {
        "coordinator": (200, 303),
        "officer": (200, 303),
        "caseworker": (403, 403),
        "partner contact": (403, 403),
        "region": (403, 403),
    }

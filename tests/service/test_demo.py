"""The demo network: rich enough to try everything, fictional, made by the domain operations, loaded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.operations import check_sign_in
from service.demo import DEMO_PASSWORD
from service.demo import ORGANIZATIONS
from service.demo import load_demo
from service.demo import path_to
from service.directory.models import PARTNERSHIP_KINDS
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.wording import ORGANIZATION_KIND_LABELS
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson


@pytest.fixture
def demo(session, protocols, clock):
    return load_demo(session, protocols, now=clock.now)


def demo_referrals(session) -> list[Referral]:
    names = [seed.name for seed in ORGANIZATIONS]
    ids = select(Organization.id).where(Organization.name.in_(names))
    return list(session.scalars(select(Referral).where(Referral.sender_organization_id.in_(ids))))


def test_every_state_of_every_protocol_has_a_referral(session, protocols, demo):
    referrals = demo_referrals(session)
    for protocol in protocols.latest():
        shown = {r.state for r in referrals if r.protocol_name == protocol.name}
        assert shown >= set(protocol.states), (protocol.name, set(protocol.states) - shown)


def test_every_referral_log_replays_to_its_state_and_never_runs_ahead_of_now(session, protocols, clock, demo):
    for referral in demo_referrals(session):
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        query = (
            select(ReferralEvent).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.seq)
        )
        log = list(session.scalars(query))
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert (log[0].kind, log[0].from_state, log[0].to_state) == ("opened", None, protocol.initial)
        state = protocol.initial
        for event in log[1:]:
            assert event.from_state == state, (referral.id, event.seq)
            state = event.to_state
        assert state == referral.state
        times = [e.at for e in log]
        assert times == sorted(times)
        assert times[-1] <= clock.now


def test_the_timelines_spread_over_weeks_with_reminders_and_overdue_items(session, clock, demo):
    referrals = demo_referrals(session)
    assert min(r.created_at for r in referrals) <= clock.now - timedelta(days=21)
    assert any(r.due_at is not None and r.due_at < clock.now for r in referrals)
    kinds = set(
        session.scalars(
            select(ReferralEvent.kind).where(ReferralEvent.referral_id.in_([r.id for r in referrals]))
        )
    )
    assert {"reminder", "escalation"} <= kinds


def test_the_network_is_fictional_and_complete(session, protocols, demo):
    organizations = session.scalars(
        select(Organization).where(Organization.name.in_([s.name for s in ORGANIZATIONS]))
    )
    organizations = list(organizations)
    assert len(organizations) >= 8
    assert all("Fictif" in o.name or "Fictive" in o.name for o in organizations)
    assert all(o.services and all(s.needs for s in o.services) for o in organizations)
    assert {"open", "waitlist", "full"} <= {o.capacity_status for o in organizations}
    ids = [o.id for o in organizations]
    people = session.scalars(
        select(ReferralPerson.name).join(Referral).where(Referral.sender_organization_id.in_(ids))
    )
    assert all(name.startswith("Personne Fictive ") for name in people)

    partnerships = list(
        session.scalars(select(Partnership).where(Partnership.first_organization_id.in_(ids)))
    )
    kinds = {kind for p in partnerships for kind in p.kinds}
    assert kinds <= set(PARTNERSHIP_KINDS)
    assert len(kinds) >= 5
    notes = session.scalar(
        select(func.count(PartnershipNote.id)).where(
            PartnershipNote.partnership_id.in_([p.id for p in partnerships])
        )
    )
    assert notes >= 3

    confirmed = session.scalars(
        select(ReferralAgreement).where(
            ReferralAgreement.partnership_id.in_([p.id for p in partnerships]),
            ReferralAgreement.confirmed_at.is_not(None),
        )
    ).all()
    tuned = [a for a in confirmed if a.parameters != protocols.get(a.protocol_name).resolve_parameters({})]
    assert len(tuned) >= 2
    assert any(r.agreement_id is not None for r in demo_referrals(session))


def test_every_role_can_sign_in_with_the_printed_password(session, demo):
    assert {login.role for login in demo.logins} == set(Role)
    for role in Role:
        login = next(login for login in demo.logins if login.role == role)
        assert login.password == DEMO_PASSWORD
        assert check_sign_in(session, login.email, login.password) is not None


def test_loading_twice_adds_nothing(session, protocols, clock, demo):
    def counts() -> tuple[int, ...]:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Organization, User, Referral)
        )

    before = counts()
    again = load_demo(session, protocols, now=clock.now + timedelta(days=1))
    assert again.already_loaded
    assert again.logins == demo.logins
    assert counts() == before


def test_a_path_reaches_each_state_without_discarding_drafts(protocols):
    for protocol in protocols.latest():
        for state in protocol.states:
            path = path_to(protocol, state)
            assert (path[-1].dest if path else protocol.initial) == state
            if state == "cancelled":
                assert path[-1].trigger == "cancel"


def test_demo_people_and_kinds_read_as_words_on_the_pages(session, demo):
    organizations = list(
        session.scalars(select(Organization).where(Organization.name.in_([s.name for s in ORGANIZATIONS])))
    )
    staff = session.scalars(
        select(User.name).where(User.organization_id.in_([o.id for o in organizations]))
    ).all()
    # The timeline shows "name (organization)": a name with parentheses doubles them.
    assert not any("(" in name or ")" in name for name in staff)
    assert "Intervenante fictive Balance" in staff
    assert all(o.kind in ORGANIZATION_KIND_LABELS for o in organizations), "a kind the pages show as a code"

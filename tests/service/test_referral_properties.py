"""Property: whatever people and the clock do to a stored referral, its state
stays in its protocol, terminal states stay terminal, and the event log
replays to the stored state."""

from __future__ import annotations

from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.errors import ReferralError
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline


def draw_fire(data, machine, referral, network):
    """A person of a random organization fires, most often, something the protocol offers her."""
    side = data.draw(st.sampled_from(["shelter", "womens_centre", "legal_aid"]))
    actor = getattr(getattr(network, side), data.draw(st.sampled_from(["caseworker", "coordinator"])))
    offered = machine.available(referral.state, actor.parties(referral))
    # Walking forward more often than giving up, so runs reach the protocol's far end.
    offered = [t for t in offered if t.trigger not in {"discard", "cancel"}] or offered
    every = sorted({t.trigger for t in machine.transitions})
    follow_protocol = offered and data.draw(st.integers(0, 9)) < 9
    transition = data.draw(st.sampled_from(offered)) if follow_protocol else None
    trigger = transition.trigger if transition else data.draw(st.sampled_from(every))
    codes = sorted(machine.reasons[transition.reason]) if transition and transition.reason else ["other"]
    return actor, {
        "trigger": trigger,
        "reason": data.draw(st.sampled_from([None, *codes])),
        "comment": data.draw(st.sampled_from([None, "", "Précision."])),
        "target_organization_id": data.draw(st.sampled_from([None, network.legal_aid.organization.id])),
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(protocol=st.sampled_from(["standard", "urgent", "accompanied"]), data=st.data())
def test_any_sequence_of_actions_keeps_the_referral_consistent(
    session, protocols, network, clock, protocol, data
):
    sender = network.womens_centre.caseworker
    referral = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name=protocol,
        clock=clock,
    )
    machine = protocols.get(protocol)
    for _ in range(data.draw(st.integers(0, 30))):
        was_terminal = machine.is_terminal(referral.state)
        before = referral.state
        action = data.draw(st.sampled_from(["fire", "fire", "fire", "consent", "wait"]))
        if action == "consent":
            record_consent(session, referral.id, sender, method="verbal", shared_with="x", purpose="y")
        elif action == "wait":
            clock.advance(hours=data.draw(st.integers(1, 24 * 20)))
            while run_due_deadline(session, protocols, referral.id, clock=clock):
                pass
        else:
            actor, attempt = draw_fire(data, machine, referral, network)
            try:
                referral = fire(session, protocols, referral.id, actor=actor, clock=clock, **attempt)
            except ReferralError:
                session.expire_all()
                referral = session.get(Referral, referral.id)
                assert referral.state == before
        assert referral.state in machine.states
        if was_terminal:
            assert referral.state == before
        if machine.is_terminal(referral.state):
            assert referral.due_at is None

    event(f"ended {referral.state}")
    log = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.seq)
    ).all()
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    replayed = None
    for entry in log:
        assert entry.from_state == replayed
        replayed = entry.to_state
    assert replayed == referral.state

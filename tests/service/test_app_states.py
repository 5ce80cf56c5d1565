"""The app driven through random stories: organizations open, send and answer referrals, time
passes and deadlines fire, people of every organization try to read every referral. After each
step: no organization reads another's referral, a finished referral stays finished, and each
referral's event log replays to its state.

Hypothesis's stateful testing (`RuleBasedStateMachine`) writes the stories; each runs in a
transaction of its own, rolled back afterwards, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
from datetime import UTC
from datetime import datetime

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import rule
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.accounts.operations import start_session
from service.app import create_app
from service.config import settings as maillage_settings
from service.errors import ReferralError
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import PersonDetails
from service.referrals.operations import due_referral_ids
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from service.referrals.operations import was_sent
from tests.conftest import Clock
from tests.conftest import Side
from tests.conftest import make_side

ORGANIZATIONS = ("centre", "shelter", "legal_aid")
PROTOCOLS = ("standard", "urgent", "accompanied")
ENDINGS = frozenset({"discard", "cancel", "decline", "redirect"})
EVERY_PARTY = frozenset({"sender", "sender_coordinator", "receiver", "receiver_coordinator"})
# Enough steps to reach the end of a protocol and beyond, few enough to stay well under a minute on both
# databases; derandomized, so CI replays the same stories.
STORIES = settings(
    max_examples=40,
    stateful_step_count=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def story_app(engine, tmp_path, monkeypatch) -> Flask:
    """One app for all the stories; each story plugs its own rolled-back session into it."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
    maillage_settings.cache_clear()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    yield app
    maillage_settings.cache_clear()


def test_no_story_breaks_isolation_finality_or_the_event_log(engine, protocols, story_app):
    class Story(RuleBasedStateMachine):
        referrals = Bundle("referrals")

        def __init__(self) -> None:
            super().__init__()
            self.connection = engine.connect()
            self.transaction = self.connection.begin()
            self.session = Session(
                bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            self.clock = Clock(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
            self.sides: dict[str, Side] = {
                name: make_side(self.session, f"Organisme fictif {name}", self.clock.now)
                for name in ORGANIZATIONS
            }
            self.session.commit()
            # Ids, not rows: the app's requests close the shared session, which detaches its rows.
            self.organization_ids = {name: side.organization.id for name, side in self.sides.items()}
            story_app.extensions["maillage.sessions"] = lambda: self.session
            story_app.config["CLOCK"] = self.clock
            self.clients: dict[str, object] = {}
            self.finished: dict[int, str] = {}
            self.names: dict[int, str] = {}

        def teardown(self) -> None:
            self.session.close()
            self.transaction.rollback()
            self.connection.close()

        def client(self, organization: str):
            """A browser signed in as the organization's caseworker (a server-side session, no form:
            hashing the password each story would cost a second)."""
            if organization not in self.clients:
                user = self.session.get(User, self.sides[organization].caseworker.user_id)
                token = start_session(self.session, user, self.clock)
                client = story_app.test_client()
                with client.session_transaction() as cookie:
                    cookie["_user_id"] = token
                    cookie["_fresh"] = True
                self.clients[organization] = client
            return self.clients[organization]

        # Steps --------------------------------------------------------------------------

        @rule(
            target=referrals,
            sender=st.sampled_from(ORGANIZATIONS),
            receiver=st.sampled_from(ORGANIZATIONS),
            protocol=st.sampled_from(PROTOCOLS),
        )
        def open(self, sender: str, receiver: str, protocol: str) -> int:
            assume(sender != receiver)
            name = f"Personne Fictive {len(self.names) + 1}"
            referral = open_referral(
                self.session,
                protocols,
                self.sides[sender].caseworker,
                receiver_organization_id=self.organization_ids[receiver],
                protocol_name=protocol,
                need_codes=["shelter_emergency"],
                person=PersonDetails(name=name, phone="450-555-0100"),
                clock=self.clock,
            )
            self.names[referral.id] = name
            return referral.id

        @rule(referral_id=referrals)
        def consent(self, referral_id: int) -> None:
            referral = self.session.get(Referral, referral_id)
            sender = self.side_of(referral.sender_organization_id)
            try:
                record_consent(
                    self.session,
                    referral_id,
                    sender.caseworker,
                    method="verbal",
                    shared_with="Nom et téléphone",
                    purpose="Hébergement",
                    clock=self.clock,
                )
            except ReferralError:
                self.session.rollback()

        @rule(
            referral_id=referrals,
            trigger=st.sampled_from(
                [
                    "send",
                    "discard",
                    "acknowledge",
                    "accept",
                    "decline",
                    "redirect",
                    "plan_meeting",
                    "reschedule_meeting",
                    "record_meeting",
                    "record_first_contact",
                    "record_follow_up",
                    "close",
                    "cancel",
                ]
            ),
            organization=st.sampled_from(ORGANIZATIONS),
            coordinator=st.booleans(),
        )
        def act(self, referral_id: int, trigger: str, organization: str, coordinator: bool) -> None:
            side = self.sides[organization]
            actor = side.coordinator if coordinator else side.caseworker
            self.session.expire_all()
            referral = self.session.get(Referral, referral_id)
            before = (referral.state, referral.last_seq)
            protocol = protocols.get(referral.protocol_name, referral.protocol_version)
            transition = next((t for t in protocol.transitions if t.trigger == trigger), None)
            reason = (
                next(iter(protocol.reasons[transition.reason])) if transition and transition.reason else None
            )
            others = list(self.organization_ids.values())
            target = next(
                i
                for i in others
                if i not in (referral.sender_organization_id, referral.receiver_organization_id)
            )
            try:
                fire(
                    self.session,
                    protocols,
                    referral_id,
                    trigger,
                    actor,
                    reason=reason,
                    comment="Commentaire fictif",
                    target_organization_id=target if trigger == "redirect" else None,
                    clock=self.clock,
                )
            except ReferralError:
                self.session.expire_all()
                after = self.session.get(Referral, referral_id)
                assert (after.state, after.last_seq) == before, "a refused action changed nothing"
                return
            # It went through: then the actor was one of its two organizations.
            assert actor.parties(referral), f"{organization} acted on another organization's referral"
            event(f"fired {trigger}")

        @rule(referral_id=referrals, data=st.data(), steps=st.integers(min_value=1, max_value=6))
        def advance(self, referral_id: int, data: st.DataObject, steps: int) -> None:
            """A few of the actions each state offers, each by the side it belongs to: the stories
            get to the end of their protocol, not only to refusals."""
            for _ in range(steps):
                self.session.expire_all()
                referral = self.session.get(Referral, referral_id)
                protocol = protocols.get(referral.protocol_name, referral.protocol_version)
                offered = protocol.available(referral.state, EVERY_PARTY)
                if not offered:
                    return
                # Mostly forward: ending a story early (discard, cancel, decline) is one step of five.
                forward = [t for t in offered if t.trigger not in ENDINGS]
                if forward and data.draw(st.integers(min_value=0, max_value=4)):
                    offered = forward
                transition = data.draw(st.sampled_from(offered))
                sender = self.side_of(referral.sender_organization_id)
                receiver = self.side_of(referral.receiver_organization_id)
                actor = {
                    "sender": sender.caseworker,
                    "sender_coordinator": sender.coordinator,
                    "receiver": receiver.caseworker,
                    "receiver_coordinator": receiver.coordinator,
                }[min(transition.parties)]
                if transition.trigger == "send":
                    self.consent(referral_id)
                target = next(
                    i
                    for i in self.organization_ids.values()
                    if i not in (referral.sender_organization_id, referral.receiver_organization_id)
                )
                try:
                    fire(
                        self.session,
                        protocols,
                        referral_id,
                        transition.trigger,
                        actor,
                        reason=next(iter(protocol.reasons[transition.reason])) if transition.reason else None,
                        comment="Commentaire fictif",
                        target_organization_id=target
                        if "target_organization_given" in transition.guards
                        else None,
                        clock=self.clock,
                    )
                except ReferralError:
                    self.session.rollback()
                    return
                event(f"advanced by {transition.trigger}")

        @rule(days=st.integers(min_value=1, max_value=10))
        def time_passes(self, days: int) -> None:
            self.clock.advance(days=days)
            # The sweep, as the worker runs it: the due steps of the deadline, each once.
            for referral_id in due_referral_ids(self.session, self.clock()):
                run_due_deadline(self.session, protocols, referral_id, clock=self.clock)
            self.clients.clear()  # sessions end when unused this long; sign in again

        @rule(referral_id=referrals, organization=st.sampled_from(ORGANIZATIONS))
        def read(self, referral_id: int, organization: str) -> None:
            referral = self.session.get(Referral, referral_id)
            organization_id = self.organization_ids[organization]
            page = self.client(organization).get(f"/referrals/{referral_id}")
            sender = organization_id == referral.sender_organization_id
            receiver = organization_id == referral.receiver_organization_id
            if sender or (receiver and was_sent(self.session, referral_id)):
                assert page.status_code == 200, (organization, page.status_code)
                event("read by a party")
            else:
                event("read refused to a non-party")
                assert page.status_code in (403, 404), (organization, page.status_code)
                assert self.names[referral_id] not in page.text

        # After every step -----------------------------------------------------------------

        @invariant()
        def finished_referrals_stay_finished(self) -> None:
            self.session.expire_all()
            for referral in self.session.scalars(select(Referral)):
                protocol = protocols.get(referral.protocol_name, referral.protocol_version)
                if referral.id in self.finished:
                    assert referral.state == self.finished[referral.id], f"referral {referral.id} reopened"
                elif protocol.is_terminal(referral.state):
                    self.finished[referral.id] = referral.state

        @invariant()
        def each_event_log_replays_to_its_state(self) -> None:
            events: dict[int, list[ReferralEvent]] = {}
            for row in self.session.scalars(select(ReferralEvent).order_by(ReferralEvent.seq)):
                events.setdefault(row.referral_id, []).append(row)
            for referral in self.session.scalars(select(Referral)):
                log = events[referral.id]
                assert [e.seq for e in log] == list(range(1, len(log) + 1)), f"referral {referral.id}: gaps"
                assert referral.last_seq == len(log)
                assert log[-1].to_state == referral.state, f"referral {referral.id}: log and state differ"
                for earlier, later in itertools.pairwise(log):
                    if later.from_state is not None:
                        assert later.from_state == earlier.to_state, f"referral {referral.id}: a jump"

        def side_of(self, organization_id: int) -> Side:
            return next(self.sides[n] for n, i in self.organization_ids.items() if i == organization_id)

    run_state_machine_as_test(Story, settings=STORIES)

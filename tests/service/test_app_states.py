"""The app driven through random stories: organizations open, send and answer referrals, time
passes and deadlines fire, people of every role (and the organizations' API keys) try to read and
move every referral. After each step: no one sees a referral her organization did not send or, once
sent, receive, and privacy officers and the regional admin see none, on every path that shows
referrals (the access rule of the pages and the API, the dashboard, the inbox); a finished referral
stays finished; and each referral's event log replays to its state.

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

from service.accounts.mfa import mfa_required
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.operations import start_session
from service.api.keys import create_key
from service.app import create_app
from service.config import settings as maillage_settings
from service.errors import ReferralError
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.operations import PersonDetails
from service.referrals.operations import due_referral_ids
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import parties_seeing
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from service.referrals.queries import dashboard
from service.referrals.queries import inbox
from tests.conftest import PASSWORD_HASH
from tests.conftest import Clock
from tests.conftest import Side
from tests.conftest import enrol_in_mfa
from tests.conftest import make_side

ORGANIZATIONS = ("centre", "shelter", "legal_aid")
PROTOCOLS = ("standard", "urgent", "accompanied")
ENDINGS = frozenset({"discard", "cancel", "decline", "redirect"})
EVERY_PARTY = frozenset({"sender", "sender_coordinator", "receiver", "receiver_coordinator"})
# Everyone who signs in: each organization's people of every role, and the region's admin.
REGION = "region"
PEOPLE = (
    *((o, r) for o in ORGANIZATIONS for r in (Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT)),
    *((o, Role.PRIVACY_OFFICER) for o in ORGANIZATIONS),
    (REGION, Role.REGIONAL_ADMIN),
)
# Those whose work is referrals; a privacy officer and a regional admin must see none.
READING_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT})
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
            self.people: dict[tuple[str, str], Actor] = {}
            for name, side in self.sides.items():
                self.people[name, Role.CASEWORKER] = side.caseworker
                self.people[name, Role.COORDINATOR] = side.coordinator
                for role in (Role.PARTNER_CONTACT, Role.PRIVACY_OFFICER):
                    self.people[name, role] = self.add_person(side.organization.id, role)
            self.people[REGION, Role.REGIONAL_ADMIN] = self.add_person(None, Role.REGIONAL_ADMIN)
            for actor in self.people.values():
                # Whose role requires a second factor has one, or every page sends her to set it up.
                user = self.session.get(User, actor.user_id)
                if mfa_required(user.role):
                    enrol_in_mfa(self.session, user, self.clock.now)
            # Each organization's records system reads through the API with a caseworker's key.
            self.tokens = {
                name: create_key(
                    self.session,
                    side.coordinator,
                    name="Système fictif",
                    role=Role.CASEWORKER,
                    clock=self.clock,
                ).token
                for name, side in self.sides.items()
            }
            self.session.commit()
            # Ids, not rows: the app's requests close the shared session, which detaches its rows.
            self.organization_ids = {name: side.organization.id for name, side in self.sides.items()}
            story_app.extensions["maillage.sessions"] = lambda: self.session
            story_app.config["CLOCK"] = self.clock
            self.clients: dict[tuple[str, str], object] = {}
            self.finished: dict[int, str] = {}
            self.names: dict[int, str] = {}
            # The test's own record of each referral's two organizations and of those sent, kept from
            # what it did, not read back from the app's access rule.
            self.hands: dict[int, tuple[int, int]] = {}
            self.sent: set[int] = set()

        def teardown(self) -> None:
            self.session.close()
            self.transaction.rollback()
            self.connection.close()

        def add_person(self, organization_id: int | None, role: str) -> Actor:
            user = User(
                email=f"{role}@{organization_id or REGION}.example.org",
                name=f"{role} {organization_id or REGION}",
                organization_id=organization_id,
                role=role,
                password_hash=PASSWORD_HASH,
                created_at=self.clock.now,
            )
            self.session.add(user)
            self.session.flush()
            return Actor(user_id=user.id, organization_id=organization_id, role=role)

        def client(self, person: tuple[str, str]):
            """A browser signed in as this person (a server-side session, no form: hashing the
            password and typing a code each story would cost a second)."""
            if person not in self.clients:
                user = self.session.get(User, self.people[person].user_id)
                token = start_session(self.session, user, self.clock)
                client = story_app.test_client()
                with client.session_transaction() as cookie:
                    cookie["_user_id"] = token
                    cookie["_fresh"] = True
                self.clients[person] = client
            return self.clients[person]

        def sees(self, actor: Actor, referral_id: int) -> bool:
            """What the rules let `actor` see: what her organization sent, or received once sent."""
            if actor.role not in READING_ROLES:
                return False
            sender, receiver = self.hands[referral_id]
            return actor.organization_id == sender or (
                actor.organization_id == receiver and referral_id in self.sent
            )

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
            self.hands[referral.id] = (self.organization_ids[sender], self.organization_ids[receiver])
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
            person=st.sampled_from(PEOPLE),
        )
        def act(self, referral_id: int, trigger: str, person: tuple[str, str]) -> None:
            actor = self.people[person]
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
            # It went through: then the actor was one of its two organizations, and could see it.
            assert self.sees(actor, referral_id), f"{person} acted on a referral not hers"
            self.sent |= {referral_id} if trigger == "send" else set()
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
                self.sent |= {referral_id} if transition.trigger == "send" else set()
                event(f"advanced by {transition.trigger}")

        @rule(days=st.integers(min_value=1, max_value=10))
        def time_passes(self, days: int) -> None:
            self.clock.advance(days=days)
            # The sweep, as the worker runs it: the due steps of the deadline, each once.
            for referral_id in due_referral_ids(self.session, self.clock()):
                run_due_deadline(self.session, protocols, referral_id, clock=self.clock)
            self.clients.clear()  # sessions end when unused this long; sign in again

        @rule(referral_id=referrals, person=st.sampled_from(PEOPLE))
        def read(self, referral_id: int, person: tuple[str, str]) -> None:
            self.check_dashboard(person)
            self.check_inbox(person)
            page = self.client(person).get(f"/referrals/{referral_id}")
            if self.sees(self.people[person], referral_id):
                assert page.status_code == 200, (person, page.status_code)
                event("read by a party")
            else:
                event(f"read refused to a {person[1]} not a party")
                assert page.status_code == 404, (person, page.status_code)
                assert self.names[referral_id] not in page.text

        @rule(referral_id=referrals, organization=st.sampled_from(ORGANIZATIONS))
        def read_through_the_api(self, referral_id: int, organization: str) -> None:
            key = Actor(
                user_id=None, organization_id=self.organization_ids[organization], role=Role.CASEWORKER
            )
            headers = {"Authorization": f"Bearer {self.tokens[organization]}"}
            api = story_app.test_client()
            one = api.get(f"/api/v1/referrals/{referral_id}", headers=headers)
            if self.sees(key, referral_id):
                assert one.status_code == 200, (organization, one.status_code)
            else:
                event("API read refused to a non-party")
                assert one.status_code == 404, (organization, one.status_code)
                assert self.names[referral_id] not in one.text
            listed = api.get("/api/v1/referrals?limit=100", headers=headers)
            assert listed.status_code == 200, listed.text
            theirs = {i for i in self.hands if self.sees(key, i)}
            assert {item["id"] for item in listed.json["items"]} == theirs, organization

        # After every step -----------------------------------------------------------------

        @invariant()
        def no_one_sees_a_referral_not_hers(self) -> None:
            """Every person against every referral, through the access rule of the pages and the API:
            she sees what the rules let her see, and nothing else. And each organization's whole list,
            its coordinator's dashboard, is what the organization may see (none for the others)."""
            self.session.expire_all()
            referrals = list(self.session.scalars(select(Referral)))
            for referral in referrals:
                hands = (referral.sender_organization_id, referral.receiver_organization_id)
                if referral.id not in self.hands:
                    # Opened by a redirect: the original sender's new draft to another organization.
                    origin = referral.redirected_from_id
                    assert origin in self.hands, f"referral {referral.id} opened from nowhere"
                    assert hands[0] == self.hands[origin][0], f"referral {referral.id} opened for another"
                    self.hands[referral.id] = hands
                assert hands == self.hands[referral.id], f"referral {referral.id} changed hands"
            for person, actor in self.people.items():
                for referral in referrals:
                    seen = bool(parties_seeing(self.session, referral, actor) - {"system"})
                    assert seen == self.sees(actor, referral.id), (person, referral.id, seen)
                if actor.role not in (Role.CASEWORKER, Role.PARTNER_CONTACT):
                    # Hers is a part of her coordinator's dashboard: checked when she reads.
                    self.check_dashboard(person)

        def check_dashboard(self, person: tuple[str, str]) -> None:
            """Her dashboard lists only what she may see; a coordinator's, all of it."""
            actor, hers = self.people[person], self.hers(person)
            board = dashboard(self.session, protocols, actor, language="fr", now=self.clock())
            listed = {row.id for listing in board.parts.values() for row in listing.rows}
            assert listed <= hers, (person, listed - hers)
            finished = board.parts["finished"]
            if actor.role == Role.COORDINATOR and finished.total == len(finished.rows):
                assert listed == hers, (person, hers - listed)  # all of it, unless finished ones are cut

        def check_inbox(self, person: tuple[str, str]) -> None:
            """Her inbox lists what her organization received, once sent."""
            actor = self.people[person]
            received = {i for i in self.hers(person) if self.hands[i][1] == actor.organization_id}
            listed = inbox(self.session, protocols, actor, language="fr", now=self.clock())
            assert {row.id for row in listed.rows} == received, person

        def hers(self, person: tuple[str, str]) -> set[int]:
            return {i for i in self.hands if self.sees(self.people[person], i)}

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
                # The seeing rule and the lists read when it was sent on the referral: the log's first 'send'.
                sendings = [e.at for e in log if e.trigger == SHARING_TRIGGER]
                assert referral.sent_at == (sendings[0] if sendings else None), (
                    f"referral {referral.id}: sent_at"
                )
                for earlier, later in itertools.pairwise(log):
                    if later.from_state is not None:
                        assert later.from_state == earlier.to_state, f"referral {referral.id}: a jump"

        def side_of(self, organization_id: int) -> Side:
            return next(self.sides[n] for n, i in self.organization_ids.items() if i == organization_id)

    run_state_machine_as_test(Story, settings=STORIES)

"""Two people, or two sweeps, acting on one request between organizations at the same moment: one wins,
nothing is doubled. PostgreSQL only, with the races of `test_concurrency` (each contender on its own
connection, committing for real; "queued" rounds make the overlap certain)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import Clock
from service.db import session_factory
from service.errors import ConcurrentUpdate
from service.errors import InvalidTransition
from service.notifications.models import OutboxMessage
from service.partnership_requests import operations
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.referrals.actors import Actor
from tests.conftest import make_side
from tests.service.test_concurrency import ACTED_AT
from tests.service.test_concurrency import ROUNDS
from tests.service.test_concurrency import SENT_AT
from tests.service.test_concurrency import Operation
from tests.service.test_concurrency import Partners
from tests.service.test_concurrency import assert_queued_if_forced
from tests.service.test_concurrency import monitor  # noqa: F401 - a fixture of this module too
from tests.service.test_concurrency import postgresql_url  # noqa: F401 - a fixture of this module too
from tests.service.test_concurrency import race
from tests.service.test_concurrency import racing_engine  # noqa: F401 - a fixture of this module too
from workflows.loader import ProtocolLibrary

pytestmark = pytest.mark.postgresql

LOAN = {"what": "Salle", "starts_at": "2026-12-07T18:00", "ends_at": "2026-12-07T21:00"}


@pytest.fixture(scope="module")
def partners(racing_engine: Engine) -> Partners:  # noqa: F811 - the fixture imported above
    tag = uuid.uuid4().hex[:8]
    with session_factory(racing_engine)() as session:
        partners = Partners(
            sender=make_side(session, f"Centre de femmes Fictif {tag}", SENT_AT),
            receiver=make_side(session, f"Maison Fictive {tag}", SENT_AT),
        )
        session.commit()
    return partners


def new_loan(engine: Engine, protocols: ProtocolLibrary, partners: Partners) -> int:
    with session_factory(engine)() as session:
        return operations.ask(
            session,
            protocols,
            partners.sender.caseworker,
            protocol_name="loan",
            answering_organization_id=partners.receiver.organization.id,
            fields=LOAN,
            clock=lambda: SENT_AT,
        ).id


def firing(
    protocols: ProtocolLibrary, request_id: int, trigger: str, actor: Actor, **options: Any
) -> Operation:
    def operation(session: Session, clock: Clock) -> object:
        return operations.fire(session, protocols, request_id, trigger, actor, clock=clock, **options).state

    return operation


def journal(engine: Engine, request_id: int) -> list[tuple[str, str | None, str | None, str]]:
    query = (
        select(PartnershipRequestEvent)
        .where(PartnershipRequestEvent.partnership_request_id == request_id)
        .order_by(PartnershipRequestEvent.seq)
    )
    with Session(engine) as session:
        return [(e.kind, e.trigger, e.from_state, e.to_state) for e in session.scalars(query)]


def outbox(engine: Engine, request_id: int) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [m.template for m in rows if (m.payload or {}).get("partnership_request_id") == request_id]


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_accept_and_decline_at_once_one_wins_and_only_its_message_goes_out(
    racing_engine,  # noqa: F811 - the fixture imported above
    monitor,  # noqa: F811 - the fixture imported above
    protocols,
    partners,
    mode,
):
    dest = {"accept": "accepted", "decline": "declined"}
    for _ in range(ROUNDS[mode]):
        request_id = new_loan(racing_engine, protocols, partners)
        before, sent_before = journal(racing_engine, request_id), outbox(racing_engine, request_id)
        receiver = partners.receiver
        outcome = race(
            racing_engine,
            monitor,
            {
                "accept": firing(protocols, request_id, "accept", receiver.caseworker),
                "decline": firing(
                    protocols, request_id, "decline", receiver.coordinator, reason="not_available"
                ),
            },
            now=ACTED_AT,
            mode=mode,
        )
        winner, loser = outcome.winner_and_loser()
        error = outcome.attempts[loser].error
        assert isinstance(error, ConcurrentUpdate | InvalidTransition), repr(error)
        assert outcome.attempts[winner].result == dest[winner]
        assert journal(racing_engine, request_id) == [*before, ("transition", winner, "asked", dest[winner])]
        assert outbox(racing_engine, request_id) == [*sent_before, "partnership_request_changed"]
        assert_queued_if_forced(outcome, mode)


@pytest.mark.parametrize("mode", ["free", "queued"])
def test_two_sweeps_at_once_remind_once(
    racing_engine,  # noqa: F811 - the fixture imported above
    monitor,  # noqa: F811 - the fixture imported above
    protocols,
    partners,
    mode,
):
    for _ in range(ROUNDS[mode] // 2 or 1):
        request_id = new_loan(racing_engine, protocols, partners)
        with Session(racing_engine) as session:
            due = session.get_one(PartnershipRequest, request_id).due_at

        def sweeping(session: Session, clock: Clock, request_id: int = request_id) -> object:
            return operations.run_due_deadline(session, protocols, request_id, clock=clock)

        outcome = race(racing_engine, monitor, {"one": sweeping, "two": sweeping}, now=due, mode=mode)
        results = sorted(
            (a.result if a.error is None else type(a.error).__name__) for a in outcome.attempts.values()
        )
        assert results in ([False, True], ["ConcurrentUpdate", True]), results
        assert [kind for kind, *_ in journal(racing_engine, request_id)] == ["transition", "reminder"]
        assert outbox(racing_engine, request_id) == [
            "partnership_request_asked",
            "partnership_request_reminder",
        ]
        assert_queued_if_forced(outcome, mode)

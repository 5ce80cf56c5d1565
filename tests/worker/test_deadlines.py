"""Deadlines with a frozen, then advanced clock: the reminder once after 2 business days (the
Fête nationale shifts it), the escalation once after 4; a second sweep sends nothing more."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC
from datetime import datetime

from sqlalchemy import select

from service.accounts.models import User
from service.referrals.models import ReferralEvent
from tests.worker.conftest import wait_until
from tests.worker.test_notifications import assert_nothing_about_her
from tests.worker.test_notifications import send_referral
from worker.app import SWEEP


def sweep_at(publisher, worker_process, moment: datetime) -> int:
    """Run the sweep in the worker as if it were `moment`; returns how many steps it carried out."""
    task_id = str(uuid.uuid4())
    publisher.send_task(SWEEP, kwargs={"at": moment.isoformat()}, task_id=task_id)
    done = re.compile(rf"Task {SWEEP}\[{task_id}\] succeeded in [\d.e-]+s: (\d+)")
    found: list[int] = []

    def finished() -> bool:
        match = done.search(worker_process.logs())
        if match:
            found.append(int(match.group(1)))
        return bool(match)

    wait_until(finished, what=f"the sweep at {moment}")
    return found[0]


def steps(session, referral_id: int) -> list[str]:
    session.rollback()
    query = (
        select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.seq)
    )
    return [kind for kind in session.scalars(query) if kind in ("reminder", "escalation")]


def test_reminder_after_two_business_days_escalation_after_four_each_once(
    session, protocols, world, sink, worker_process, publisher, run_relay, clock
):
    # Sent on Friday 20 June 2025 at 11:00 in Montréal; Tuesday 24 June is the Fête nationale.
    referral_id = send_referral(session, protocols, world, clock)
    worker_process.start()
    run_relay()
    sink.wait_for(2)

    # Tuesday evening would be two business days without the holiday: nothing yet.
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 24, 23, 0, tzinfo=UTC)) == 0
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 25, 14, 59, tzinfo=UTC)) == 0
    assert steps(session, referral_id) == []

    # Wednesday 25 June, 11:00 in Montréal: the reminder, once however often the sweep runs.
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 25, 15, 0, tzinfo=UTC)) == 1
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 25, 15, 0, tzinfo=UTC)) == 0
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 26, 12, 0, tzinfo=UTC)) == 0
    assert steps(session, referral_id) == ["reminder"]

    # Four business days (Mon 23, Wed 25, Thu 26, Fri 27): the escalation, once.
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 27, 14, 59, tzinfo=UTC)) == 0
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 27, 15, 0, tzinfo=UTC)) == 1
    assert sweep_at(publisher, worker_process, datetime(2025, 6, 30, 15, 0, tzinfo=UTC)) == 0
    assert steps(session, referral_id) == ["reminder", "escalation"]

    session.rollback()
    system = session.scalars(
        select(ReferralEvent.actor_party).where(ReferralEvent.kind.in_(["reminder", "escalation"]))
    ).all()
    assert system == ["system", "system"]

    run_relay()
    run_relay()
    received = sink.wait_for(6)
    sink.wait_for(7, timeout=2)
    assert len(sink.messages()) == 6
    emails = {
        user_id: session.get(User, user_id).email
        for user_id in (
            world.shelter.caseworker.user_id,
            world.shelter.coordinator.user_id,
            world.centre.caseworker.user_id,
        )
    }
    who = Counter(address for address, _m in received)
    assert who == Counter(
        {
            emails[world.shelter.caseworker.user_id]: 2,  # the referral, then the reminder
            emails[world.shelter.coordinator.user_id]: 3,  # the referral, the reminder, the escalation
            emails[world.centre.caseworker.user_id]: 1,  # the overdue notice
        }
    )
    for _address, message in received:
        assert_nothing_about_her(message)

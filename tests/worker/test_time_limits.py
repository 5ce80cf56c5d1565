"""Every task has a soft and a hard time limit; a task that reaches its soft limit stops cleanly,
says so, and leaves its work to be taken up again."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from service.notifications.models import OutboxMessage
from tests.worker.conftest import CANARY_STRINGS
from tests.worker.conftest import wait_until
from tests.worker.test_notifications import send_referral
from worker.app import SEND_BATCH
from worker.app import TIME_LIMITS
from worker.app import celery


def test_every_task_of_ours_has_a_soft_limit_under_its_hard_limit() -> None:
    import worker.tasks  # noqa: F401 - registers the tasks

    ours = sorted(name for name in celery.tasks if name.startswith("maillage."))
    assert ours == sorted(TIME_LIMITS)
    for name in ours:
        task = celery.tasks[name]
        assert task.soft_time_limit is not None, name
        assert task.time_limit is not None, name
        assert 0 < task.soft_time_limit < task.time_limit, name
    # A batch of emails stops before its messages' lease (120 s by default) ends.
    assert celery.tasks[SEND_BATCH].time_limit <= 120


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A mail server that takes the connection and never says a word (its greeting never comes)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"smtp://127.0.0.1:{listener.getsockname()[1]}"


def test_a_batch_stuck_on_a_silent_server_stops_at_its_soft_limit_and_is_sent_later(
    session, sessions, protocols, world, clock, sink, silent_server, worker_env, worker_process, run_relay
) -> None:
    send_referral(session, protocols, world, clock)
    session.commit()

    # The mail server hangs (smtplib would wait 30 s for it); the batch's soft limit is 1 s here.
    worker_env["MAILLAGE_SMTP_URL"] = silent_server
    worker_env["MAILLAGE_TASK_TIME_LIMITS"] = json.dumps({SEND_BATCH: [1, 20]})
    worker_process.start(pool="prefork")
    assert run_relay(lease=2) == 1
    # Celery's own warning comes first, from the main process; the task's line, from the child
    # that stopped, a moment later: wait for the task's.
    stopped = f"task {SEND_BATCH} stopped at its soft time limit (1.0 s)"
    wait_until(lambda: stopped in worker_process.logs(), timeout=30, what="the batch to stop at its limit")
    log = worker_process.logs()
    assert "Hard time limit" not in log, log
    assert worker_process.process.poll() is None, "the worker goes on"
    with sessions() as check:
        message = check.scalars(select(OutboxMessage)).one()
        # Not counted against the message: nothing was refused, the time was up.
        assert (message.status, message.attempts) == ("pending", 0)

    # The server answers again: when the lease ends, the relay hands the message out again. The
    # worker is back to its usual limits (1 s would cut a send on a loaded machine, maybe after the
    # server took it: a second send).
    worker_process.stop()
    worker_env["MAILLAGE_SMTP_URL"] = sink.url
    del worker_env["MAILLAGE_TASK_TIME_LIMITS"]
    worker_process.start(pool="prefork")

    # Its first lease (2 s) ended long ago: one relay pass hands it out again, with the usual lease.
    # (Passing it again every 2 s while waiting would hand it out twice when a loaded machine takes
    # longer than that to send it, and the test would count its own doing.)
    assert run_relay() == 1

    def sent() -> bool:
        with sessions() as check:
            return check.scalars(select(OutboxMessage.status)).one() == "sent"

    wait_until(sent, timeout=30, what="the message to be sent once its lease ended")
    addresses = [address for address, _email in sink.messages()]
    assert addresses
    assert len(addresses) == len(set(addresses)), "each of its recipients has it once"
    log = worker_process.logs()
    assert not [canary for canary in CANARY_STRINGS if canary in log]

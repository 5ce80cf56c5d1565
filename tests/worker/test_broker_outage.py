"""Redis down while messages wait: referrals are still opened and sent (the outbox takes the
messages), and everything is delivered once Redis is back. The Redis stopped here is one
this test starts on a port of its own, never the machine's."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func
from sqlalchemy import select

from service.notifications.models import OutboxMessage
from tests.conftest import IN_CI
from tests.worker.conftest import free_port
from tests.worker.conftest import wait_until
from tests.worker.test_notifications import send_referral


class ThrowawayRedis:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed arguments
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), timeout=10, what="the throwaway Redis")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is not installed, and CI must run this test")
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(worker_env: dict[str, str], throwaway_redis: ThrowawayRedis) -> dict[str, str]:
    return {**worker_env, "MAILLAGE_BROKER_URL": throwaway_redis.url}


def pending(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))


def test_with_redis_down_referrals_go_on_and_every_email_leaves_once_it_is_back(
    session, sessions, protocols, world, sink, worker_process, run_relay, throwaway_redis, clock
):
    worker_process.start()
    send_referral(session, protocols, world, clock)
    run_relay(lease=2)
    sink.wait_for(2)

    throwaway_redis.stop()
    # The web's operations need only the database: referrals are opened and sent meanwhile.
    for _ in range(10):
        send_referral(session, protocols, world, clock)
    assert pending(sessions) == 10
    # The lease outlasts the failed publishing (bounded just below) by a margin that a
    # loaded CI machine cannot eat, so the second pass must find them all still claimed.
    lease = 20
    started = time.monotonic()
    assert run_relay(lease=lease) == 10, "the relay claims them, then fails to publish"
    assert time.monotonic() - started < 10, "a broker down does not hang the relay"
    assert run_relay(lease=lease) == 0, "claimed: not published again before the lease ends"
    time.sleep(1)
    assert len(sink.messages()) == 2

    throwaway_redis.start()  # same port: the worker reconnects by itself
    time.sleep(max(0.0, started + lease - time.monotonic()))  # their lease ends

    def delivered() -> bool:
        if pending(sessions) == 0:
            return True
        run_relay(lease=2)
        time.sleep(0.5)
        return False

    wait_until(delivered, timeout=60, what="the messages to leave after Redis came back")
    received = sink.wait_for(22)
    sink.wait_for(23, timeout=2)
    assert len(sink.messages()) == 22
    assert len({(address, m["Message-ID"]) for address, m in received}) == 22

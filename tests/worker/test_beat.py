"""Exactly one beat sends the ticks, however many are started: the others wait for its lock in
Redis, and one of them takes over when the running beat dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.worker.conftest import ROOT
from tests.worker.conftest import wait_until

MAILLAGE = Path(sys.executable).parent / "maillage"
LOCK_SECONDS = 3
TICK = "Sending due task"


@dataclass
class Beat:
    """`maillage beat` in a process of its own, as on a host of its own, its log in a file."""

    log: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ticks(self) -> int:
        return self.text().count(TICK)


@pytest.fixture
def beat_env(redis_url: str, queue: str) -> dict[str, str]:
    """The test's Redis prefix, a lock of a few seconds, and periodic jobs due every second (their
    ticks are logged; the relay's are not)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(
        MAILLAGE_BROKER_URL=redis_url,
        MAILLAGE_QUEUE=queue,
        MAILLAGE_BROKER_KEY_PREFIX=f"{queue}:",
        MAILLAGE_ENV="production",
        MAILLAGE_SECRET_KEY="test-only",
        MAILLAGE_BEAT_LOCK_SECONDS=str(LOCK_SECONDS),
        MAILLAGE_PERIODIC_INTERVAL="1",
        MAILLAGE_SWEEP_INTERVAL="0",
    )
    return env


@pytest.fixture
def start_beat(beat_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Beat]]:
    started: list[Beat] = []

    def start(name: str) -> Beat:
        log = tmp_path / f"{name}.log"
        # A data folder each, as on two machines: nothing is shared but Redis.
        env = {**beat_env, "MAILLAGE_DATA_DIR": str(tmp_path / name)}
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                [MAILLAGE, "beat"], env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
            )
        beat = Beat(log=log, process=process)
        started.append(beat)
        return beat

    yield start
    for beat in started:
        if beat.process.poll() is None:
            beat.process.terminate()
            try:
                beat.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                beat.process.kill()
                beat.process.wait()


def test_a_second_beat_waits_and_takes_over_when_the_first_dies(start_beat: Callable[[str], Beat]) -> None:
    first = start_beat("first")
    wait_until(lambda: first.ticks() >= 4, what="the first beat to send its ticks")

    # Started on another host by mistake (or by a second replica): it starts, and waits.
    second = start_beat("second")
    wait_until(lambda: "beat: Starting..." in second.text(), what="the second beat to start")
    sent_before = first.ticks()
    # The first goes on sending its ticks for several seconds (every job is due each second),
    # long enough for the second to have sent some had it not been waiting.
    wait_until(lambda: first.ticks() >= sent_before + 12, what="the first beat to go on")
    assert second.process.poll() is None, second.text()
    assert second.ticks() == 0, second.text()
    assert "Acquired lock" in first.text()
    assert "Acquired lock" not in second.text()

    # The first dies without a word: its lock ends when nobody renews it, and the second takes over.
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    killed = time.monotonic()
    wait_until(lambda: second.ticks() > 0, timeout=LOCK_SECONDS + 15, what="the second beat to take over")
    took = time.monotonic() - killed
    assert "Acquired lock" in second.text()
    print(
        f"the second beat's first tick came {took:.1f} s after the first was killed (lock: {LOCK_SECONDS} s)"
    )

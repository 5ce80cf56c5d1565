"""On SQLite, a web request that reads and then writes is not refused because the worker wrote meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.db import make_engine


def read_then_write_while_another_process_writes(url: str, *, write_at_begin: bool) -> list[str]:
    """A request reads, the worker commits a write, the request writes: what each managed to do."""
    request = make_engine(url, write_at_begin=write_at_begin)
    worker = make_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
    with worker.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS notes (who TEXT)"))
    done: list[str] = []
    read = threading.Event()

    def work() -> None:
        read.wait()
        with worker.begin() as connection:
            connection.execute(text("INSERT INTO notes VALUES ('worker')"))
        done.append("worker")

    thread = threading.Thread(target=work)
    thread.start()
    try:
        with request.begin() as connection:
            connection.execute(text("SELECT count(*) FROM notes")).scalar_one()
            read.set()
            # Let the worker try to commit before the request writes.
            thread.join(timeout=0.5)
            connection.execute(text("INSERT INTO notes VALUES ('request')"))
        done.append("request")
    finally:
        read.set()
        thread.join()
        request.dispose()
        worker.dispose()
    return done


def test_a_request_that_takes_the_write_lock_first_waits_for_no_one_and_the_worker_waits_its_turn(
    tmp_path: Path,
):
    done = read_then_write_while_another_process_writes(
        f"sqlite:///{tmp_path / 'maillage.db'}", write_at_begin=True
    )
    assert done == ["request", "worker"]


def test_without_it_the_request_would_be_refused(tmp_path: Path):
    # The failure `write_at_begin` prevents: SQLite does not let a stale reader write.
    with pytest.raises(OperationalError, match="database is locked"):
        read_then_write_while_another_process_writes(
            f"sqlite:///{tmp_path / 'maillage.db'}", write_at_begin=False
        )

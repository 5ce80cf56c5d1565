"""`maillage worker` and `maillage beat`: the Celery worker and its scheduler.

The same as `celery -A worker.app worker -Q maillage` and `celery -A worker.app beat`;
options these commands do not know are passed on to Celery. Beat starts the
outbox relay and the deadline sweep; on Redis it holds a lock there (see
`worker.app.single_beat`), so a second one started waits instead of ticking too.
"""

from __future__ import annotations

import subprocess
import sys

import click

from service.cli.language import Command
from service.cli.language import Option
from service.cli.language import _l
from service.config import settings

PASS_ON = {"ignore_unknown_options": True, "allow_extra_args": True}


def worker_arguments(
    *, beat: bool, loglevel: str, extra: tuple[str, ...] | list[str] = (), beat_in_thread: bool = False
) -> list[str]:
    """`celery worker`'s arguments for Maillage's queue; the scheduler in a thread of the worker
    rather than a process of its own when `beat_in_thread` (see `worker.app.BeatInThread`)."""
    arguments = ["worker", "--queues", settings().queue, "--loglevel", loglevel]
    if beat:
        arguments.append("--beat-thread" if beat_in_thread else "--beat")
    if not settings().broker_url and not {"-P", "--pool"} & {a.split("=")[0] for a in extra}:
        # The embedded default is one machine and SQLite, which has one writer at a time.
        arguments += ["--pool", "solo"]
    return [*arguments, *extra]


LOGLEVEL_HELP = _l("Celery's log level.")


def banner_options() -> list[str]:
    """Celery's options before the command: no banner when logs are JSON, where it is no JSON line."""
    return ["--quiet"] if settings().log_format == "json" else []


@click.command(
    cls=Command,
    context_settings=PASS_ON,
    help=_l(
        "Run a worker: relays the outbox, sends the emails, carries out due deadlines. "
        "The broker is MAILLAGE_BROKER_URL (a folder in MAILLAGE_DATA_DIR when unset); "
        "emails go to MAILLAGE_SMTP_URL (the mailbox folder when unset). Other "
        "options are passed to `celery worker`, e.g. `maillage worker --concurrency 4`."
    ),
)
@click.option(
    "--beat",
    "-B",
    cls=Option,
    is_flag=True,
    help=_l("Also run the scheduler here (only one in a deployment)."),
)
@click.option("--loglevel", "-l", cls=Option, default="INFO", show_default=True, help=LOGLEVEL_HELP)
@click.pass_context
def worker(ctx: click.Context, beat: bool, loglevel: str) -> None:
    from worker.app import celery

    celery.start([*banner_options(), *worker_arguments(beat=beat, loglevel=loglevel, extra=ctx.args)])


@click.command(
    cls=Command,
    context_settings=PASS_ON,
    help=_l(
        "Run the scheduler: the outbox relay every MAILLAGE_RELAY_INTERVAL seconds, the deadline "
        "sweep every MAILLAGE_SWEEP_INTERVAL seconds. On Redis, a second beat waits for the first's "
        "lock and takes over when it stops."
    ),
)
@click.option("--loglevel", "-l", cls=Option, default="INFO", show_default=True, help=LOGLEVEL_HELP)
@click.pass_context
def beat(ctx: click.Context, loglevel: str) -> None:
    from worker.app import celery

    celery.start([*banner_options(), "beat", "--loglevel", loglevel, *ctx.args])


def start_worker_process(*, beat: bool = True) -> subprocess.Popen[bytes]:
    """A worker (with its scheduler) in a process of its own, as `maillage run` starts beside the web."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        "worker.app",
        # No banner: `maillage run` says itself where it runs.
        "--quiet",
        # One process for both: the memory of one machine's `maillage run` (bench/footprint.py).
        *worker_arguments(beat=beat, loglevel="INFO", beat_in_thread=True),
    ]
    return subprocess.Popen(command)  # noqa: S603 - our own interpreter and fixed arguments

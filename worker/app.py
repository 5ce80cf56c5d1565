"""The Celery app: `celery -A worker.app worker` (or `maillage worker`) runs its tasks.

Configured from the `MAILLAGE_*` settings. Every choice below is made for the
outbox: the database, not the broker, is what guarantees that a notification
is sent, so the broker only ever carries ids and may lose a message without
harm (the relay publishes it again when its lease ends).
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

import click
from celery import Celery
from celery import Task
from celery import bootsteps
from celery.exceptions import SecurityWarning
from celery.exceptions import SoftTimeLimitExceeded

from service.config import Settings
from service.config import settings
from worker import logs  # noqa: F401 - its signal receivers put the worker's lines in JSON when asked

RELAY = "maillage.relay_outbox"
SEND_BATCH = "maillage.send_batch"
SWEEP = "maillage.sweep_deadlines"
DIGEST = "maillage.queue_digests"
REVIEWS = "maillage.queue_review_reminders"
CONSENT_EXPIRY = "maillage.remind_lapsed_consents"
RETENTION = "maillage.purge_closed"
# The periodic jobs: each does its work once per period (a day, a review cycle, a lapse),
# however often it runs, so beat only has to run them often enough.
PERIODIC = (DIGEST, REVIEWS, CONSENT_EXPIRY, RETENTION)

# Every task's soft and hard time limits, in seconds (`MAILLAGE_TASK_TIME_LIMITS` replaces some).
# At the soft limit a task stops where it is (see `StopsCleanly`) and what it left undone is
# taken up again: unsent messages by the relay when their lease ends, due deadlines and
# periodic work by the next run, each task being idempotent. The hard limit, some time after,
# kills the worker process for a task stuck where the soft one cannot reach it (a C call).
# Limits apply under the prefork pool (production); the embedded default's solo pool runs tasks
# in the worker's own process, where Celery enforces none.
TIME_LIMITS: dict[str, tuple[float, float]] = {
    # A pass claims and publishes ids, at most 10,000 of them: well under a second.
    RELAY: (25, 30),
    # 50 emails over one connection take a second or two; a server that stalls is given up
    # before the messages' lease (120 s by default) ends and the relay publishes them again.
    SEND_BATCH: (100, 120),
    # At most 20 batches of due referrals, each step a short transaction of its own.
    SWEEP: (240, 300),
    # One digest per person with referrals waiting: a whole region's staff at once.
    DIGEST: (540, 600),
    REVIEWS: (240, 300),
    CONSENT_EXPIRY: (240, 300),
    # Erasing a year's closed referrals after a long outage: the longest of our tasks.
    RETENTION: (1500, 1800),
}


class StopsCleanly(Task):
    """The base of our tasks: one that reaches its soft time limit says so and ends, its
    message acknowledged; its transactions are rolled back, and its work is taken up again
    (see `TIME_LIMITS`) instead of the same message being run again and stopped again."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SoftTimeLimitExceeded:
            # The task's name and limit only: its arguments are ids, but say nothing useful here.
            logging.getLogger(__name__).warning(
                "task %s stopped at its soft time limit (%s s); what it left undone is taken up again later",
                self.name,
                self.soft_time_limit,
            )
            return None


# The embedded broker's polling interval, in seconds (see `broker`).
POLLING_SECONDS = 0.2


def broker(config: Settings) -> tuple[str, dict[str, Any]]:
    """The broker URL and its transport options: Redis when configured, else a folder in `data_dir`."""
    if config.broker_url:
        # A message taken by a worker that dies unacknowledged is handed out again
        # after this long. It must be longer than any countdown or ETA we use (we
        # use none beyond a few minutes: deadlines are database rows), or Redis
        # would hand a waiting task to a second worker.
        options: dict[str, Any] = {"visibility_timeout": 3600}
        if config.broker_key_prefix:
            options["global_keyprefix"] = config.broker_key_prefix
        return config.broker_url, options
    # kombu's filesystem transport needs no server (checked with Celery 5.7, see
    # ../shared/FACTS.md): one folder both ways, processed messages deleted, and
    # the control folder named, since it otherwise lands in the current directory.
    folder = config.broker_folder()
    messages, control = folder / "messages", folder / "control"
    for path in (messages, control, folder / "processed"):
        path.mkdir(parents=True, exist_ok=True)
    # A host named, though the transport uses none: kombu warns at every connection otherwise.
    return "filesystem://localhost/", {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(control),
        # How often the worker looks into the folder for a message: kombu's default, a second, was
        # most of an email's wait once the web publishes at commit (bench/latency.py, embedded: p50
        # 0.57 s, p99 1.0 s). At a fifth of a second an idle worker with its beat uses 0.23 % of a core
        # (0.1 % at one second, 0.33 % at a tenth; CPU time over 30 s on this machine).
        "polling_interval": POLLING_SECONDS,
    }


class RoutineTicks(logging.Filter):
    """Drops Celery's INFO lines about beat's ticks of the relay and the sweep, sent, received and
    done every few seconds whether or not there was anything to do: the tasks say themselves what
    they did. Their warnings and errors pass, and so does the end of a sweep run by hand for a
    moment of its own (`at`), which is no tick."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        task = record.args if isinstance(record.args, dict) else {}
        if task.get("kwargs") not in (None, "{}"):
            return True
        text = record.getMessage()
        return RELAY not in text and SWEEP not in text


# The loggers of beat ("Sending due task"), of the worker ("received", and "Discarding revoked task"
# for a tick that expired unrun, replaced by the next) and of a task's end ("succeeded").
for _name in ("celery.beat", "celery.worker.strategy", "celery.worker.request", "celery.app.trace"):
    logging.getLogger(_name).addFilter(RoutineTicks())

# Celery warns a worker run as root that a pickled message could run code as root; this app
# accepts JSON only (below), the case in which Celery itself lets root run without C_FORCE_ROOT.
warnings.filterwarnings(
    "ignore", message="You're running the worker with superuser", category=SecurityWarning
)


class BeatInThread(bootsteps.StartStopStep):
    """`celery worker --beat-thread`: the scheduler in a thread of the worker, where `--beat`
    forks a process of its own for it. `maillage run` starts it so: one machine's worker and
    beat in one process, which saves the forked process's ~60 MB (PSS, `bench/footprint.py`).
    Beat only publishes ids; the tasks run in the worker as before. It wakes every second (Celery's
    threaded beat does, to stop promptly), which changes no schedule."""

    label = "BeatInThread"
    conditional = True

    def __init__(self, worker: Any, beat_thread: bool = False, **kwargs: Any) -> None:
        self.enabled = beat_thread
        super().__init__(worker, **kwargs)

    def create(self, worker: Any) -> Any:
        # Here, not at the top: the web imports this module to publish, and needs no scheduler.
        from celery.beat import EmbeddedService

        return EmbeddedService(
            worker.app,
            thread=True,
            schedule_filename=worker.schedule_filename,
            scheduler_cls=worker.scheduler,
        )


BEAT_THREAD_OPTION = click.Option(
    ["--beat-thread"],
    is_flag=True,
    default=False,
    help="Run the scheduler in a thread of this worker (as --beat does, without a process of its own).",
)


def make_celery(config: Settings) -> Celery:
    unknown = set(config.task_time_limits) - set(TIME_LIMITS)
    if unknown:
        raise ValueError(f"MAILLAGE_TASK_TIME_LIMITS names no task of ours: {', '.join(sorted(unknown))}")
    limits = TIME_LIMITS | config.task_time_limits
    app = Celery("maillage", include=["worker.tasks"], task_cls=StopsCleanly)
    app.steps["worker"].add(BeatInThread)
    app.user_options["worker"].add(BEAT_THREAD_OPTION)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    url, transport_options = broker(config)
    schedule: dict[str, dict[str, Any]] = {
        "relay-outbox": {
            "task": RELAY,
            "schedule": timedelta(seconds=config.relay_interval),
            # A tick nobody ran in time is replaced by the next one, not queued behind it.
            "options": {"expires": config.relay_interval},
        }
    }
    if config.sweep_interval > 0:
        schedule["sweep-deadlines"] = {
            "task": SWEEP,
            "schedule": timedelta(seconds=config.sweep_interval),
            "options": {"expires": config.sweep_interval},
        }
    if config.periodic_interval > 0:
        for task in PERIODIC:
            schedule[task.removeprefix("maillage.").replace("_", "-")] = {
                "task": task,
                "schedule": timedelta(seconds=config.periodic_interval),
                "options": {"expires": config.periodic_interval},
            }
    app.conf.update(
        broker_url=url,
        broker_transport_options=transport_options,
        # JSON only: tasks take ids, and a pickle from a broker is code we would run.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # Nobody waits for a result: the outbox row says what happened.
        task_ignore_result=True,
        result_backend=None,
        # Acknowledge a task when it has run, not when it was received, and hand it
        # out again if the worker process dies under it: the send task is idempotent
        # (each message is locked and checked "pending" before it is sent).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message reserved at a time: a killed worker strands no prefetched batch,
        # and a long batch does not hold back messages another worker could take.
        worker_prefetch_multiplier=1,
        task_default_queue=config.queue,
        # A broker down must not hang the relay: publishing gives up after about
        # two seconds, and the rows it claimed come back when their lease ends.
        broker_connection_timeout=5,
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        broker_connection_retry_on_startup=True,
        # The worker keeps trying to reach a broker that went away, for as long as it takes.
        broker_connection_max_retries=None,
        task_annotations={
            task: {"soft_time_limit": soft, "time_limit": hard} for task, (soft, hard) in limits.items()
        },
        beat_schedule=schedule,
        beat_schedule_filename=str((config.data_dir / "beat-schedule").resolve()),
        timezone="America/Montreal",
        enable_utc=True,
    )
    if url.startswith(("redis://", "rediss://")):
        app.conf.update(single_beat(url, config))
    return app


def single_beat(url: str, config: Settings) -> dict[str, Any]:
    """Beat's settings on Redis: RedBeat's scheduler, which keeps the schedule in Redis and runs
    only while it holds a lock there.

    The running beat renews the lock at each tick (at least every sixth of its lifetime); a second
    beat waits for it, and takes over when a beat that died stops renewing it. One that lost its
    lock (Redis gone longer than that) stops, to be restarted, and waits its turn. The embedded
    default (a broker folder, one `maillage run` on one machine) keeps Celery's own scheduler and
    its file in `data_dir`: a single process starts its single beat there.
    """
    return {
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "redbeat_redis_url": url,
        "redbeat_redis_options": {"socket_connect_timeout": 5, "socket_timeout": 5},
        # Under the deployment's (or test's) prefix, as Celery's own keys are.
        "redbeat_key_prefix": f"{config.broker_key_prefix}redbeat:",
        "redbeat_lock_timeout": config.beat_lock_seconds,
        # How often beat wakes at the least: to renew the lock, or to try to take it.
        "beat_max_loop_interval": config.beat_lock_seconds / 6,
    }


celery = make_celery(settings())

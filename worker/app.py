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

from celery import Celery
from celery.exceptions import SecurityWarning

from service.config import Settings
from service.config import settings

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


def make_celery(config: Settings) -> Celery:
    app = Celery("maillage", include=["worker.tasks"])
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
        beat_schedule=schedule,
        beat_schedule_filename=str((config.data_dir / "beat-schedule").resolve()),
        timezone="America/Montreal",
        enable_utc=True,
    )
    return app


celery = make_celery(settings())

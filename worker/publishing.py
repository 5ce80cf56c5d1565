"""The send task published right after a commit that queued emails (see `service.notifications.publishing`).

The web app, the worker's own tasks (a deadline step, a digest) and the command
line all hand the ids they queued to a `SendAtOnce`, built from their settings.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from service.config import Settings

if TYPE_CHECKING:
    from celery import Celery

# Seconds a person's request may wait for the broker before the relay is left to publish.
PATIENCE = 1.0
# The send task's name, as `worker.app` names it; that module is imported only when first needed.
SEND_BATCH = "maillage.send_batch"

log = logging.getLogger(__name__)


class SendAtOnce:
    """Publishes `send_batch` for the ids of messages just committed, in batches; never raises.

    Its Celery app, its own, is made on first use: a web process that queues no
    email never imports Celery. Publishing is tried once, within `PATIENCE`,
    without the retries the relay allows itself: the person who acted is
    waiting, and a message not published now is claimed by the periodic relay
    a few seconds later (`MAILLAGE_RELAY_INTERVAL`).
    """

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.celery: Celery | None = None
        self.lock = threading.Lock()

    def __call__(self, ids: list[int]) -> None:
        size = self.config.outbox_batch_size
        try:
            app = self._app()
            for start in range(0, len(ids), size):
                app.send_task(SEND_BATCH, args=[ids[start : start + size]], retry=False)
        except Exception as error:
            # Whatever went wrong, the change is committed: nothing may turn it into an error now.
            # Counts and the error's class only: the ids are not personal, but say nothing useful here.
            log.warning(
                "broker unavailable (%s): %d outbox messages wait for the periodic relay",
                type(error).__name__,
                len(ids),
            )

    def _app(self) -> Celery:
        with self.lock:
            if self.celery is None:
                # Imported here: Celery costs a web process memory and start-up time it may never need.
                from worker.app import make_celery

                app = make_celery(self.config)
                # One try to connect, within a second: kombu's default retries until the connection
                # timeout, 6 s measured against a closed port, which the person would wait for.
                app.conf.broker_transport_options = {**app.conf.broker_transport_options, "max_retries": 0}
                app.conf.broker_connection_timeout = PATIENCE
                self.celery = app
            return self.celery

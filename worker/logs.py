"""The worker's and beat's log lines in JSON when `MAILLAGE_LOG_FORMAT=json` (`service.logs`).

Celery sets up its own handlers, on the root logger and on its task logger, when a worker or
beat starts; these receivers give them the JSON formatter once it has. A line written while an
email is sent carries the id of the web request that queued it (`worker.sending`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import after_setup_logger
from celery.signals import after_setup_task_logger

from service.config import settings
from service.logs import use_json


@after_setup_logger.connect
@after_setup_task_logger.connect
def write_json_lines(logger: logging.Logger, **_: Any) -> None:
    if settings().log_format == "json":
        use_json([logger])

"""gunicorn's logger for Maillage: `gunicorn --logger-class=service.web.gunicorn_logs.Logger`.

With `MAILLAGE_LOG_FORMAT=json`, gunicorn's error and access logs are JSON from the master's
first line (the app factory, which runs later in each worker, would miss the master's), and each
access line carries the request's id, which gunicorn writes after the app has answered.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from service.config import settings
from service.logs import acting_for
from service.logs import use_json
from service.web.request_ids import ENVIRON_KEY


class Logger(glogging.Logger):
    """gunicorn's own logger, its lines in JSON when asked, its access lines with the request id."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if settings().log_format == "json":
            use_json([self.error_log, self.access_log])

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        with acting_for(environ.get(ENVIRON_KEY)):
            super().access(resp, req, environ, request_time)

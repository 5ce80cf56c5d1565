"""The Celery worker: `celery -A worker worker` (or `maillage worker`) runs it; see `worker.app`."""

from worker.app import celery

__all__ = ["celery"]

"""What Prometheus reads at `/metrics`: counters the processes keep, and gauges read from the database.

Counters and histograms live in the process that moves them (a web request, a
worker's send) and are Prometheus' own (`prometheus_client`). Under several
processes (gunicorn's workers, Celery's prefork pool, the embedded `maillage run`)
each writes its values into `PROMETHEUS_MULTIPROC_DIR` and `/metrics` adds them up
(`exposition_registry`). What the database knows (the outbox's backlog, deadlines
waiting, referrals overdue) is counted when Prometheus asks, by a few aggregate
queries (`DatabaseCollector`): right whichever host sends or sweeps, and never a
name, only counts and ages. Domain code: no Flask.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Connection
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from service.notifications.models import OutboxMessage
from service.notifications.outbox import PENDING
from service.referrals.models import Referral

MULTIPROCESS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "maillage_http_request_duration_seconds",
    "Time to answer a request, by route (the view's name, never the path: paths hold ids and "
    "signed links' tokens) and status class (2xx, 3xx, 4xx, 5xx).",
    ["route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

EMAILS_SENT = Counter("maillage_emails_sent", "Emails the mail server took.")

EMAILS_FAILED = Counter(
    "maillage_emails_failed",
    "Emails that did not leave, by reason: refused (the mail server said no; retried with a "
    "backoff, then given up), connection (no mail server, or the connection broke; sent again "
    "later), unsendable (an outbox message that could not be made into an email).",
    ["reason"],
)
for reason in ("refused", "connection", "unsendable"):
    EMAILS_FAILED.labels(reason)  # each reason shows from the start, at 0


class DatabaseCollector(Collector):
    """The gauges the database answers, counted at each scrape on `connection`, as of `now`."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending, oldest = self.connection.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
        ).one()
        yield GaugeMetricFamily(
            "maillage_outbox_pending_messages", "Outbox messages waiting to be sent.", value=pending
        )
        yield GaugeMetricFamily(
            "maillage_outbox_oldest_pending_age_seconds",
            "How long the oldest outbox message waiting to be sent has waited (0 when none waits).",
            value=self._age(oldest),
        )
        # The sweep carries out every deadline step whose `due_at` has come: the oldest one still
        # there says how far behind it is, whichever host runs it (or none).
        oldest_due = self.connection.scalar(
            select(func.min(Referral.due_at)).where(Referral.due_at <= self.now)
        )
        yield GaugeMetricFamily(
            "maillage_deadline_sweep_lag_seconds",
            "How long the oldest deadline step that has come has waited for the sweep (0 when none "
            "waits). Above MAILLAGE_SWEEP_INTERVAL for long: beat or every worker is down.",
            value=self._age(oldest_due),
        )
        overdue = GaugeMetricFamily(
            "maillage_referrals_overdue",
            "Referrals waiting in a state past its deadline, by protocol and state.",
            labels=["protocol", "state"],
        )
        # Past the first step of the state's deadline: the sweep moved on (a step > 0), or it is due.
        rows = self.connection.execute(
            select(Referral.protocol_name, Referral.state, func.count())
            .where(or_(Referral.deadline_step > 0, Referral.due_at <= self.now))
            .group_by(Referral.protocol_name, Referral.state)
            .order_by(Referral.protocol_name, Referral.state)
        )
        for protocol, state, count in rows:
            overdue.add_metric([protocol, state], count)
        yield overdue

    def _age(self, since: datetime | None) -> float:
        if since is None:
            return 0.0
        return max((self.now - since).total_seconds(), 0.0)


class _ThisProcess(Collector):
    """The counters of this process alone, when it is the only one (no multiprocess folder)."""

    def collect(self) -> Iterator:
        return REGISTRY.collect()


def exposition_registry(connection: Connection, now: datetime) -> CollectorRegistry:
    """What one scrape shows: the processes' counters (every process's, added up, when
    `PROMETHEUS_MULTIPROC_DIR` is set) and the database's gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_FOLDER):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(connection, now))
    return registry

"""The worker's tasks: relay the outbox, send batches of emails, sweep due deadlines, periodic jobs.

Tasks take ids (or nothing), never ORM objects, and each is safe to run twice:
the outbox row's status and the referral's `due_at` say what is left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from functools import cache

from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from service.clock import Clock
from service.clock import utcnow
from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.directory.reviews import queue_review_reminders
from service.errors import ConcurrentUpdate
from service.health.heartbeats import BEAT
from service.health.heartbeats import note_seen
from service.join_requests import operations as join_requests
from service.join_requests.retention import forget_declined_contacts
from service.notifications.cleanup import forget_old_messages
from service.notifications.digest import queue_digests
from service.notifications.outbox import claim_due
from service.notifications.publishing import publish_after_commit
from service.partnership_requests import operations as partnership_requests
from service.protocols import protocol_library
from service.referrals.consent_expiry import remind_lapsed_consents
from service.referrals.message_digest import queue_message_digests
from service.referrals.operations import due_referral_ids
from service.referrals.operations import run_due_deadline
from service.referrals.retention import purge_closed
from worker.app import CONSENT_EXPIRY
from worker.app import DIGEST
from worker.app import RELAY
from worker.app import RETENTION
from worker.app import REVIEWS
from worker.app import SEND_BATCH
from worker.app import SWEEP
from worker.app import celery
from worker.publishing import SendAtOnce
from worker.sending import deliver
from workflows.loader import ProtocolLibrary

log = logging.getLogger(__name__)

# A sweep handles at most this many batches of due referrals per run; the next run takes the rest.
SWEEP_BATCHES = 20


@cache
def sessions() -> sessionmaker[Session]:
    """This process's sessions, on the configured database (made on first use, after any fork).

    What a task queues (a deadline step's emails, a digest) is published to `send_batch` as soon
    as the task commits, as the web does, rather than at beat's next relay tick.
    """
    factory = session_factory(make_engine(settings().resolved_database_url()))
    publish_after_commit(factory, SendAtOnce(settings()))
    return factory


@celery.task(name=RELAY, acks_late=False)
def relay_outbox() -> int:
    """Publish the due pending messages to `send_batch`, in chunks; returns how many were claimed.

    Beat sends this task every `relay_interval`: it leaves beat's heartbeat, which `/readyz` reads.
    Messages are published at once when their transaction commits (`worker.publishing`); this
    pass is the safety net for those that were not (a broker away then, a process killed between).
    """
    config = settings()
    with sessions()() as session:
        note_seen(session, BEAT, utcnow())
        session.commit()
    return relay(
        sessions(),
        publish=send_batch.delay,
        lease=timedelta(seconds=config.outbox_lease_seconds),
        batch_size=config.outbox_batch_size,
    )


CLAIM_LIMIT = 500
MAX_CLAIMS_PER_PASS = 20


def relay(
    factory: sessionmaker[Session],
    *,
    publish: Callable[[list[int]], object],
    lease: timedelta,
    batch_size: int,
    clock: Clock = utcnow,
) -> int:
    """Claim due messages (see `claim_due`), then publish their ids in chunks of `batch_size`.

    If the broker is down, publishing stops; nothing is lost: the claimed rows
    come back to a later pass when their lease ends.
    """
    claimed = 0
    # A full claim means more may wait: keep going (within bounds), so the beat
    # interval does not cap the sending rate at CLAIM_LIMIT per tick.
    for _ in range(MAX_CLAIMS_PER_PASS):
        with factory() as session:
            ids = claim_due(session, now=clock(), lease=lease, limit=CLAIM_LIMIT)
        claimed += len(ids)
        for start in range(0, len(ids), batch_size):
            try:
                publish(ids[start : start + batch_size])
            except BrokerUnavailable as error:
                log.warning(
                    "broker unavailable (%s): %d outbox messages wait for their lease to end",
                    type(error).__name__,
                    len(ids) - start,
                )
                return claimed
        if len(ids) < CLAIM_LIMIT:
            break
    if claimed:
        log.info("outbox: %d messages handed to the sender", claimed)
    return claimed


@celery.task(name=SEND_BATCH, acks_late=True, reject_on_worker_lost=True)
def send_batch(ids: list[int]) -> None:
    """Send these outbox messages over one SMTP connection; each is sent only if still pending."""
    deliver([int(i) for i in ids], sessions=sessions(), protocols=protocol_library(), config=settings())


@celery.task(name=SWEEP, acks_late=False)
def sweep_deadlines(at: str | None = None) -> int:
    """Run the deadline steps that are due; `at` (ISO 8601) stands for now, for tests moving time."""
    clock = utcnow if at is None else _frozen(datetime.fromisoformat(at))
    return sweep(sessions(), clock=clock)


def _frozen(moment: datetime) -> Clock:
    return lambda: moment


def sweep(factory: sessionmaker[Session], *, clock: Clock = utcnow) -> int:
    """Carry out every due deadline step through `run_due_deadline`, the operation itself.

    Idempotent: a step already done is no longer due, so a second sweep (or two
    sweeps at once) does nothing more. Returns the number of steps carried out.
    """
    protocols = protocol_library()
    done = sum(
        _sweep_subject(factory, protocols, clock, due_ids, run_due)
        for due_ids, run_due in (
            (due_referral_ids, run_due_deadline),
            (join_requests.due_request_ids, join_requests.run_due_deadline),
            (partnership_requests.due_request_ids, partnership_requests.run_due_deadline),
        )
    )
    if done:
        log.info("deadlines: %d steps carried out", done)
    return done


def _sweep_subject(
    factory: sessionmaker[Session],
    protocols: ProtocolLibrary,
    clock: Clock,
    due_ids: Callable[[Session, datetime], list[int]],
    run_due: Callable[..., bool],
) -> int:
    """The due steps of one subject (referrals, requests to join, requests between organizations),
    a batch at a time until none is left or none moves."""
    done = 0
    with factory() as session:
        for _batch in range(SWEEP_BATCHES):
            ids = due_ids(session, clock())
            session.rollback()
            if not ids:
                break
            progressed = 0
            for subject_id in ids:
                try:
                    if run_due(session, protocols, subject_id, clock=clock):
                        progressed += 1
                except ConcurrentUpdate:
                    # Someone is acting on it right now; the next sweep sees what is left.
                    continue
            done += progressed
            if progressed == 0:
                break
    return done


# Periodic jobs: each commits what it did as it goes and finds nothing left to do when run
# again in the same period; `at` (ISO 8601) stands for now, for tests moving time.


def _clock(at: str | None) -> Clock:
    return utcnow if at is None else _frozen(datetime.fromisoformat(at))


@celery.task(name=DIGEST, acks_late=False)
def queue_digests_task(at: str | None = None) -> int:
    """Queue today's digest for each person with referrals waiting on her side, and yesterday's
    messages' digest for each organization they were written to."""
    hour, clock = settings().digest_hour, _clock(at)
    with sessions()() as session:
        waiting = queue_digests(session, protocol_library(), from_hour=hour, clock=clock)
        return waiting + queue_message_digests(session, from_hour=hour, clock=clock)


@celery.task(name=REVIEWS, acks_late=False)
def queue_review_reminders_task(at: str | None = None) -> int:
    """Remind both coordinators of each partnership review and yearly presentation that fell due."""
    with sessions()() as session:
        return queue_review_reminders(session, clock=_clock(at))


@celery.task(name=CONSENT_EXPIRY, acks_late=False)
def remind_lapsed_consents_task(at: str | None = None) -> int:
    """Ask the senders of referrals whose consent lapsed to renew it or close the referral."""
    with sessions()() as session:
        return remind_lapsed_consents(session, protocol_library(), clock=_clock(at))


@celery.task(name=RETENTION, acks_late=False)
def purge_closed_task(at: str | None = None) -> int:
    """Erase the personal data of referrals closed longer than the retention period; forget the
    outbox's old rows."""
    months, clock = settings().retention_months, _clock(at)
    with sessions()() as session:
        purged = purge_closed(session, protocol_library(), months=months, clock=clock)
        # Not a woman's data, but a person's all the same: a declined request's contact goes too.
        forget_declined_contacts(session, months=months, clock=clock)
        # And the outbox's rows of emails long sent, which would otherwise pile up for good.
        forget_old_messages(session, clock=clock)
        return purged

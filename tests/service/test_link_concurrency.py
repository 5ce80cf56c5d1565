"""Twenty people pressing the same signed link's button at once: one answer counts, nobody sees an error.

PostgreSQL only, through the real app: each browser is its own test client with its
own session cookie and CSRF token, each request its own database session, and every
request commits for real. A barrier releases the twenty POSTs together.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.app import create_app
from service.audit.models import AuditEntry
from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.links.operations import issue_link
from service.notifications.models import OutboxMessage
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.conftest import Side
from tests.conftest import make_side
from tests.conftest import new_postgresql_database
from tests.service.test_links import csrf_token
from workflows.loader import ProtocolLibrary

pytestmark = pytest.mark.postgresql

BROWSERS = 20
ROUNDS = 2
# Long enough for a slow CI machine; a request stuck past it is a deadlock or a bug.
WAIT = 30.0
THANKS = "Merci. Le référencement est maintenant"
CHANGED = "Ce référencement a changé entre-temps"


class TickingClock:
    """Real time's habit, without the calendar: every reading is a microsecond after the last one."""

    def __init__(self, start: datetime) -> None:
        self._ticks = itertools.count()
        self._start = start
        self._guard = threading.Lock()

    def __call__(self) -> datetime:
        with self._guard:
            return self._start + timedelta(microseconds=next(self._ticks))


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of this module's own: its requests commit for real."""
    with new_postgresql_database() as url:
        yield url


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def racing_app(database: str, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app as served: CSRF on, one database session per request; only the rate limit is off."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
    settings.cache_clear()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database,
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "CLOCK": TickingClock(clock.now),
        }
    )
    yield app
    app.extensions["maillage.sessions"].kw["bind"].dispose()
    settings.cache_clear()


def sent_referral_and_link(
    engine: Engine, protocols: ProtocolLibrary, now: datetime, tag: int
) -> tuple[int, str]:
    """A committed referral sent from a women's centre to a shelter, and the shelter's link to it."""
    with session_factory(engine)() as session:
        centre: Side = make_side(session, f"Centre de femmes Fictif {tag}", now)
        shelter: Side = make_side(session, f"Maison Fictive {tag}", now)
        session.commit()
        sender = centre.caseworker
        draft = open_referral(
            session,
            protocols,
            sender,
            receiver_organization_id=shelter.organization.id,
            protocol_name="standard",
            clock=lambda: now,
        )
        record_consent(
            session, draft.id, sender, method="verbal", shared_with="La maison", purpose="hébergement"
        )
        referral = fire(session, protocols, draft.id, "send", sender, clock=lambda: now)
        token = issue_link(session, referral.id, shelter.organization.id, clock=lambda: now)
        return referral.id, token


def press_together(app: Flask, token: str) -> tuple[list[int], list[str]]:
    """Twenty browsers open the link, then press "acknowledge" at once; their answers and next pages."""
    browsers: list[FlaskClient] = [app.test_client() for _ in range(BROWSERS)]
    forms = []
    for browser in browsers:
        page = browser.get(f"/link/{token}")
        assert page.status_code == 200
        version = re.search(r'name="acknowledge-version" type="hidden" value="(\d+)"', page.text).group(1)
        forms.append(
            {
                "trigger": "acknowledge",
                "acknowledge-version": version,
                "acknowledge-csrf_token": csrf_token(page.text, "acknowledge"),
            }
        )
    statuses: list[int] = [0] * BROWSERS
    barrier = threading.Barrier(BROWSERS, timeout=WAIT)

    def press(index: int) -> None:
        barrier.wait()
        statuses[index] = browsers[index].post(f"/link/{token}", data=forms[index]).status_code

    threads = [threading.Thread(target=press, args=(i,), daemon=True) for i in range(BROWSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads), "a request is stuck: deadlock?"
    # Each browser follows its redirect: the page it lands on says what became of its press.
    after = [browser.get(f"/link/{token}").text for browser in browsers]
    return statuses, after


def count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery()))


def test_twenty_presses_of_one_link_at_once_acknowledge_once_and_fail_nobody(
    racing_app, engine, protocols, clock
):
    for round_ in range(ROUNDS):
        referral_id, token = sent_referral_and_link(
            engine, protocols, clock.now + timedelta(days=round_), round_
        )

        statuses, pages = press_together(racing_app, token)

        assert statuses == [303] * BROWSERS, statuses
        assert sum(THANKS in page for page in pages) == 1
        assert sum(CHANGED in page for page in pages) == BROWSERS - 1
        with Session(engine) as session:
            acknowledged = select(ReferralEvent).where(
                ReferralEvent.referral_id == referral_id, ReferralEvent.trigger == "acknowledge"
            )
            assert count(session, acknowledged) == 1
            told = select(OutboxMessage).where(
                OutboxMessage.referral_id == referral_id, OutboxMessage.template == "referral_received"
            )
            assert count(session, told) == 1
            uses = select(AuditEntry.action).where(
                AuditEntry.referral_id == referral_id, AuditEntry.action.in_(["link.acted", "link.refused"])
            )
            # Presses that came once it had changed are refused; those that came later still are
            # told so by the view, before any attempt.
            assert list(session.scalars(uses)).count("link.acted") == 1
            assert session.scalar(
                select(func.count()).where(ReferralEvent.referral_id == referral_id)
            ) == len(["opened", "send", "acknowledge"])

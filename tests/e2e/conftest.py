"""End-to-end fixtures: Maillage served on loopback from a real SQLite file, and
Debian's Chromium driven by Playwright (no browser download, no network)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from service import migrate
from service.accounts.models import User
from service.app import create_app
from service.config import settings
from service.db import make_engine
from service.directory.models import Need
from service.directory.models import Partnership
from service.directory.models import Service
from service.directory.needs import seed_needs
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.conftest import IN_CI
from tests.conftest import Clock
from tests.conftest import Network
from tests.conftest import enrol_in_mfa
from tests.conftest import make_side

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Checked on these machines (shared/FACTS.md): no sandbox as root, and nothing
# that reaches for Google's hosts from this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@dataclass
class LiveSite:
    url: str
    app: Flask
    network: Network
    partnership_id: int

    def session(self) -> Session:
        return self.app.extensions["maillage.sessions"]()

    def email(self, actor: Actor) -> str:
        with self.session() as session:
            return session.get_one(User, actor.user_id).email

    def set_language(self, actor: Actor, language: str) -> None:
        """The language of her pages once she is signed in (her profile's)."""
        with self.session() as session:
            session.get_one(User, actor.user_id).language = language
            session.commit()

    def sent_referral(self, person: PersonDetails | None = None) -> int:
        """A standard referral from the women's centre to the shelter, consented and sent; its id."""
        sender = self.network.womens_centre.caseworker
        protocols = protocol_library()
        with self.session() as session:
            referral = open_referral(
                session,
                protocols,
                sender,
                receiver_organization_id=self.network.shelter.organization.id,
                protocol_name="standard",
                need_codes=["shelter_emergency"],
                person=person or PersonDetails(),
            )
            record_consent(
                session,
                referral.id,
                sender,
                method="verbal",
                shared_with="Son nom et son téléphone, avec la maison d'hébergement",
                purpose="Trouver une place en hébergement",
            )
            fire(session, protocols, referral.id, "send", sender)
            return referral.id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """Maillage on a free loopback port, its own SQLite database, three organizations."""
    folder = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{folder / 'maillage.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    clock = Clock(__import__("datetime").datetime.now(__import__("datetime").UTC))
    with Session(engine, expire_on_commit=False) as session:
        seed_needs(session)
        network = Network(
            shelter=make_side(session, "Maison Fictive du Phare", clock.now),
            womens_centre=make_side(session, "Centre de femmes Fictif des Rivières", clock.now),
            legal_aid=make_side(session, "Aide juridique Fictive", clock.now),
        )
        partnership_id = _partners(session, network, clock.now)
        for side in (network.shelter, network.womens_centre, network.legal_aid):
            enrol_in_mfa(session, session.get_one(User, side.coordinator.user_id), clock.now)
        session.commit()
    engine.dispose()
    previous = {key: os.environ.get(key) for key in ("MAILLAGE_ENV", "MAILLAGE_DATA_DIR")}
    os.environ.update(MAILLAGE_ENV="development", MAILLAGE_DATA_DIR=str(folder))
    settings.cache_clear()
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveSite(f"http://127.0.0.1:{server.server_port}", app, network, partnership_id)
    server.shutdown()
    thread.join(timeout=10)
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    settings.cache_clear()


def _partners(session: Session, network: Network, now) -> int:
    """The women's centre and the shelter are partners, so the intake suggests the shelter.

    The shelter shelters (places available); legal aid covers a need too but is
    nobody's partner: it is found only in the list of all organizations.
    """
    centre, shelter = network.womens_centre.organization, network.shelter.organization
    low, high = sorted((centre.id, shelter.id))
    partnership = Partnership(
        first_organization_id=low,
        second_organization_id=high,
        kinds=["referral_protocol", "yearly_presentation"],
        formal=True,
        description="Entente fictive de référencement",
        active=True,
        created_at=now,
    )
    session.add(partnership)
    shelter.capacity_status = "open"
    session.add(
        Service(
            organization_id=shelter.id,
            name="Hébergement d'urgence fictif",
            needs=[session.get_one(Need, "shelter_emergency"), session.get_one(Need, "safety_plan")],
        )
    )
    session.add(
        Service(
            organization_id=network.legal_aid.organization.id,
            name="Consultation juridique fictive",
            needs=[session.get_one(Need, "legal_aid")],
        )
    )
    session.flush()
    return partnership.id


@pytest.fixture
def screenshot(page):
    """Save the page at desktop and phone widths under tests/e2e/screenshots/ for a person to look at."""

    def take(name: str, of: Page | None = None) -> None:
        """`of`: another page than the test's own (a partner's, in her own browser context)."""
        shown = of or page
        SCREENSHOTS.mkdir(exist_ok=True)
        for width, height in ((1280, 900), (390, 844)):
            shown.set_viewport_size({"width": width, "height": height})
            shown.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        shown.set_viewport_size({"width": 1280, "height": 900})

    return take


@pytest.fixture(autouse=True)
def _fail_fast(page) -> None:
    # A missing label should fail in seconds, not after Playwright's 30.
    page.set_default_timeout(8_000)

"""The development mailbox page lists what the embedded default "sent", and nothing in production."""

from __future__ import annotations

import pytest

from service.config import settings
from service.notifications.emails import Email
from service.notifications.emails import render
from service.notifications.views import blueprint
from worker.sending import Mailbox


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """The page reads no database: one SQLite copy is enough."""
    import shutil

    path = tmp_path / "maillage.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def mailbox_app(app):
    if "mailbox" not in app.blueprints:  # until the app registers it itself in development
        app.register_blueprint(blueprint)
    return app


def write_email(subject_sender: str) -> str:
    subject, text, page = render(
        "referral_sent",
        "en",
        sender=subject_sender,
        receiver="Maison Fictive",
        deadline="Acknowledge receipt",
        due="",
        link="https://maillage.example.org/referrals/1",
        signed=False,
        expires="",
    )
    email = Email("accueil@example.org", "en", subject, text, page, "<x@maillage.example.org>")
    Mailbox(settings().mailbox_folder()).send(email.as_bytes("Maillage <m@example.org>"), email.to)
    return subject


def test_the_mailbox_lists_the_emails_and_shows_each_in_both_versions(mailbox_app):
    client = mailbox_app.test_client()
    assert "No email yet" in client.get("/dev/mailbox/?lang=en").text
    subject = write_email("Centre Fictif")

    listing = client.get("/dev/mailbox/?lang=en")
    assert listing.status_code == 200
    assert subject in listing.text
    [name] = [p.name for p in settings().mailbox_folder().iterdir()]
    shown = client.get(f"/dev/mailbox/{name}?lang=en")
    assert "Centre Fictif has sent a referral" in shown.text
    html = client.get(f"/dev/mailbox/{name}/html")
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    assert "<!DOCTYPE html>" in html.text
    assert client.get("/dev/mailbox/..%2Fsecret_key").status_code == 404
    assert client.get("/dev/mailbox/nothing.eml").status_code == 404


def test_outside_development_there_is_no_mailbox(mailbox_app, monkeypatch):
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "test-only")
    settings.cache_clear()
    assert mailbox_app.test_client().get("/dev/mailbox/").status_code == 404

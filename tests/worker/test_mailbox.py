"""The development mailbox page lists what the embedded default "sent", and nothing in production."""

from __future__ import annotations

import pytest

from service.config import settings
from service.notifications import mailbox
from service.notifications.emails import Email
from service.notifications.emails import render
from service.notifications.views import blueprint
from tests.conftest import sign_in
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


def write_email(subject_sender: str, folder=None) -> str:
    subject, text, page = render(
        "referral_sent",
        "en",
        number=1,
        sender=subject_sender,
        receiver="Maison Fictive",
        deadline="Acknowledge receipt",
        due="",
        link="https://maillage.example.org/referrals/1",
        signed=False,
        expires="",
    )
    email = Email("accueil@example.org", "en", subject, text, page, "<x@maillage.example.org>")
    Mailbox(folder or settings().mailbox_folder()).send(email.as_bytes("Maillage <m@example.org>"), email.to)
    return subject


@pytest.fixture
def signed_in(mailbox_app, world, session):
    """A caseworker signed in at this computer (the test client's address is 127.0.0.1)."""
    return sign_in(mailbox_app.test_client(), world.centre.caseworker, session)


def test_the_mailbox_lists_the_emails_and_shows_each_in_both_versions(signed_in):
    client = signed_in
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


def test_the_mailbox_answers_only_a_signed_in_person_at_this_computer(mailbox_app, world, session):
    write_email("Centre Fictif")
    name = next(p.name for p in settings().mailbox_folder().iterdir())
    stranger = mailbox_app.test_client()
    assert stranger.get("/dev/mailbox/").status_code == 404
    assert stranger.get(f"/dev/mailbox/{name}").status_code == 404
    assert stranger.get(f"/dev/mailbox/{name}/html").status_code == 404

    client = sign_in(mailbox_app.test_client(), world.centre.caseworker, session)
    assert client.get("/dev/mailbox/").status_code == 200
    assert client.get("/dev/mailbox/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    # Signed in, but from another computer, or through a proxy that passes on someone else's request.
    for elsewhere in (
        {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}},
        {"headers": {"X-Forwarded-For": "192.0.2.7"}},
        {"headers": {"Forwarded": "for=192.0.2.7"}},
    ):
        assert client.get("/dev/mailbox/", **elsewhere).status_code == 404, elsewhere
        assert client.get(f"/dev/mailbox/{name}", **elsewhere).status_code == 404, elsewhere


def test_the_mailbox_shows_twenty_emails_a_page_newest_first_reading_only_those(signed_in, monkeypatch):
    folder = settings().mailbox_folder()
    folder.mkdir(parents=True, exist_ok=True)
    # 45 emails written one after the other: their names carry the time they were written.
    for number in range(45):
        write_email(f"Organisme numéro {number:02d}", folder)
    opened = []
    reading = mailbox.read_email
    monkeypatch.setattr(
        "service.notifications.mailbox.read_email", lambda *a: opened.append(a) or reading(*a)
    )

    first = signed_in.get("/dev/mailbox/?lang=en").text
    assert len(opened) == 20
    assert "Organisme numéro 44" in first
    assert "Organisme numéro 25" in first
    assert "Organisme numéro 24" not in first
    assert "Page 1 of 3" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first

    last = signed_in.get("/dev/mailbox/?page=3&lang=en").text
    assert "Organisme numéro 04" in last
    assert "Organisme numéro 00" in last
    assert "Organisme numéro 05" not in last
    assert 'rel="prev"' in last
    # A page that does not exist shows the nearest one.
    assert "Page 3 of 3" in signed_in.get("/dev/mailbox/?page=99&lang=en").text
    assert "Page 1 of 3" in signed_in.get("/dev/mailbox/?page=abc&lang=en").text


def test_the_plain_text_of_an_email_wraps(signed_in):
    write_email("Centre Fictif")
    [name] = [p.name for p in settings().mailbox_folder().iterdir()]
    assert 'class="email-text"' in signed_in.get(f"/dev/mailbox/{name}").text
    with signed_in.get("/static/maillage.css") as style:
        assert ".email-text { white-space: pre-wrap;" in style.text


def test_the_mailbox_shows_when_an_email_was_sent_as_people_in_quebec_read_it(signed_in):
    write_email("Centre Fictif")
    [path] = settings().mailbox_folder().iterdir()
    raw = path.read_bytes()
    start = raw.index(b"Date: ")
    end = raw.index(b"\r\n", start)
    path.write_bytes(raw[:start] + b"Date: Sun, 06 Dec 2026 05:05:17 -0500" + raw[end:])

    listing = signed_in.get("/dev/mailbox/").text
    assert "6 déc. 2026 à 5 h 05" in listing
    shown = signed_in.get(f"/dev/mailbox/{path.name}").text
    assert "6 décembre 2026 à 5 h 05 min 17 s" in shown
    assert "Sun, 06 Dec" not in shown
    assert "December 6, 2026 at 5:05:17 a.m." in signed_in.get(f"/dev/mailbox/{path.name}?lang=en").text

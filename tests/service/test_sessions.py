"""Sessions end by themselves when left unused or kept too long, and she can end one she left open."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from service.accounts.models import UserSession
from service.accounts.operations import deactivate_user
from service.cli import main
from service.config import settings
from tests.conftest import sign_in


def signed_in_at(app, client, network, session, clock):
    return sign_in(client, network.shelter.caseworker, session)


def test_a_session_unused_for_30_minutes_ends(app, client, network, session, clock):
    signed_in_at(app, client, network, session, clock)
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200  # in use: the idle limit starts again
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    row = session.scalar(select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id))
    assert row.ended_at == clock.now


def test_a_session_ends_12_hours_after_sign_in_even_in_use(app, client, network, session, clock):
    signed_in_at(app, client, network, session, clock)
    for _ in range(12 * 2):
        clock.advance(minutes=29)
        client.get("/")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 302


def test_the_limits_are_settings(app, client, network, session, clock):
    app.config["SESSION_IDLE_MINUTES"] = 5
    signed_in_at(app, client, network, session, clock)
    clock.advance(minutes=4)
    assert client.get("/").status_code == 200
    clock.advance(minutes=6)
    assert client.get("/").status_code == 302


def test_the_longest_a_session_lasts_is_a_setting(app, client, network, session, clock):
    app.config["SESSION_MAX_HOURS"] = 2
    signed_in_at(app, client, network, session, clock)
    for _ in range(4):  # in use every 29 minutes, never idle: 1 h 56 after signing in
        clock.advance(minutes=29)
        assert client.get("/").status_code == 200
    clock.advance(minutes=5)
    assert client.get("/").status_code == 302


def test_she_sees_her_sessions_and_ends_one_left_open_elsewhere(app, network, session, clock):
    office, home = app.test_client(), app.test_client()
    sign_in(office, network.shelter.caseworker, session)
    sign_in(home, network.shelter.caseworker, session)
    page = office.get("/account/sessions").text
    assert page.count("<tr>") == 3  # the heading row and two sessions
    other = session.scalar(
        select(UserSession)
        .where(UserSession.user_id == network.shelter.caseworker.user_id)
        .order_by(UserSession.id.desc())
    )
    response = office.post(f"/account/sessions/{other.id}/end")
    assert response.status_code == 303
    assert home.get("/").status_code == 302
    assert office.get("/").status_code == 200


def test_nobody_ends_someone_elses_session(app, network, session, clock):
    hers, mine = app.test_client(), app.test_client()
    sign_in(hers, network.shelter.caseworker, session)
    sign_in(mine, network.legal_aid.caseworker, session)
    theirs = session.scalar(
        select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id)
    )
    mine.post(f"/account/sessions/{theirs.id}/end")
    assert hers.get("/").status_code == 200


def test_deactivating_her_account_ends_every_session_at_once(app, network, session, clock):
    office, home = app.test_client(), app.test_client()
    sign_in(office, network.shelter.caseworker, session)
    sign_in(home, network.shelter.caseworker, session)
    sign_in(app.test_client(), network.shelter.coordinator, session)
    clock.advance(minutes=2)
    deactivate_user(session, network.shelter.caseworker.user_id, clock)
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id)
    )
    assert [row.ended_at for row in rows] == [clock.now, clock.now]
    assert office.get("/").status_code == 302
    assert home.get("/").status_code == 302
    # Her colleague is not touched.
    colleague = session.scalar(
        select(UserSession).where(UserSession.user_id == network.shelter.coordinator.user_id)
    )
    assert colleague.ended_at is None


def test_the_command_line_deactivates_an_account(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    settings.cache_clear()
    try:
        runner = CliRunner()
        runner.invoke(main, ["db", "upgrade"])
        created = runner.invoke(
            main,
            ["users", "create", "--email", "table@exemple.org", "--role", "regional_admin", "--generate"],
        )
        assert created.exit_code == 0, created.output
        done = runner.invoke(main, ["users", "deactivate", "--email", "TABLE@exemple.org"])
        assert done.exit_code == 0, done.output
        assert "Account deactivated: table@exemple.org; 0 open session(s) ended." in done.output
        unknown = runner.invoke(main, ["users", "deactivate", "--email", "personne@exemple.org"])
        assert unknown.exit_code == 1
        assert "there is no account with the email personne@exemple.org" in unknown.output
    finally:
        settings.cache_clear()

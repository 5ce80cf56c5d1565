"""Sessions end by themselves when left unused or kept too long, and she can end one she left open."""

from __future__ import annotations

from sqlalchemy import select

from service.accounts.models import UserSession
from tests.conftest import sign_in


def signed_in_at(app, client, network, session, clock):
    app.config["CLOCK"] = clock
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
    clock.advance(minutes=6)
    assert client.get("/").status_code == 302


def test_she_sees_her_sessions_and_ends_one_left_open_elsewhere(app, network, session, clock):
    app.config["CLOCK"] = clock
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
    app.config["CLOCK"] = clock
    hers, mine = app.test_client(), app.test_client()
    sign_in(hers, network.shelter.caseworker, session)
    sign_in(mine, network.legal_aid.caseworker, session)
    theirs = session.scalar(
        select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id)
    )
    mine.post(f"/account/sessions/{theirs.id}/end")
    assert hers.get("/").status_code == 200

"""Sensitive acts ask for her password again (and her code) when she last proved who she is
more than a few minutes ago; then she comes back where she was."""

from __future__ import annotations

from urllib.parse import quote

import pyotp
import pytest
from flask_login import login_required
from sqlalchemy import event
from sqlalchemy import select

from service.accounts.models import User
from service.accounts.models import UserSession
from service.accounts.reauth import fresh_authentication_required
from service.accounts.reauth import local_target
from service.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.conftest import TOTP_SECRET
from tests.conftest import sign_in
from tests.service.test_referral_pages import referral_in


@pytest.fixture
def sensitive(app, clock):
    """A stand-in for an export: a page that needs a fresh authentication."""

    @login_required
    @fresh_authentication_required
    def export() -> str:
        return "the whole file"

    app.add_url_rule("/test/export", "test_export", export, methods=["GET", "POST"])
    return app


def confirm_url(target: str) -> str:
    return f"/account/confirm?next={quote(target, safe='/?')}"


def test_signing_in_counts_for_five_minutes(sensitive, client, network, session, clock):
    sign_in(client, network.shelter.caseworker, session)
    clock.advance(minutes=4)
    assert client.get("/test/export").text == "the whole file"


def test_after_five_minutes_she_confirms_her_password_and_comes_back(
    sensitive, client, network, session, clock
):
    sign_in(client, network.shelter.caseworker, session)
    clock.advance(minutes=6)
    answer = client.get("/test/export?format=json")
    assert answer.status_code == 303
    assert answer.headers["Location"] == confirm_url("/test/export?format=json")
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert 'name="code"' not in page.text  # she has no second factor

    wrong = client.post(answer.headers["Location"], data={"password": "not her password at all"})
    assert wrong.status_code == 200
    assert "error-summary" in wrong.text
    assert client.get("/test/export").status_code == 303
    right = client.post(answer.headers["Location"], data={"password": PASSWORD})
    assert right.status_code == 303
    assert right.headers["Location"] == "/test/export?format=json"
    assert client.get("/test/export").text == "the whole file"
    row = session.scalar(select(UserSession).where(UserSession.user_id == network.shelter.caseworker.user_id))
    assert row.authenticated_at == clock.now
    logged = session.scalars(
        select(AuditEntry.action).where(AuditEntry.user_id == network.shelter.caseworker.user_id)
    )
    assert {"reauth.failed", "reauth.succeeded"} <= set(logged)


def test_with_mfa_she_gives_her_code_too(sensitive, client, network, session, clock):
    sign_in(client, network.shelter.coordinator, session)
    clock.advance(minutes=10)
    target = client.get("/test/export").headers["Location"]
    assert 'name="code"' in client.get(target).text
    password_only = client.post(target, data={"password": PASSWORD, "code": ""})
    assert password_only.status_code == 200
    wrong_code = client.post(target, data={"password": PASSWORD, "code": "000000"})
    assert wrong_code.status_code == 200
    code = pyotp.TOTP(TOTP_SECRET).at(clock.now)
    assert client.post(target, data={"password": PASSWORD, "code": code}).status_code == 303
    assert client.get("/test/export").text == "the whole file"


def test_a_confirmation_is_one_commit_and_a_failed_one_is_still_audited(
    sensitive, client, network, session, clock
):
    sign_in(client, network.shelter.coordinator, session)
    clock.advance(minutes=10)
    target = client.get("/test/export").headers["Location"]
    commits = []

    def committed(_session):
        commits.append(1)

    event.listen(session, "after_commit", committed)
    try:
        assert client.post(target, data={"password": PASSWORD, "code": "000000"}).status_code == 200
        assert len(commits) == 1
        code = pyotp.TOTP(TOTP_SECRET).at(clock.now)
        assert client.post(target, data={"password": PASSWORD, "code": code}).status_code == 303
        assert len(commits) == 2
    finally:
        event.remove(session, "after_commit", committed)
    logged = session.scalars(
        select(AuditEntry.action).where(AuditEntry.user_id == network.shelter.coordinator.user_id)
    )
    assert list(logged)[-2:] == ["reauth.failed", "reauth.succeeded"]
    # The code, spent with the confirmation, does not confirm twice.
    clock.advance(minutes=10)
    assert client.post(target, data={"password": PASSWORD, "code": code}).status_code == 200


def test_the_window_is_a_setting(sensitive, client, network, session, clock):
    sensitive.config["REAUTH_MINUTES"] = 1
    sign_in(client, network.shelter.caseworker, session)
    clock.advance(minutes=2)
    assert client.get("/test/export").status_code == 303


def test_a_post_comes_back_as_the_page_of_its_form(sensitive, client, network, session, clock):
    sign_in(client, network.shelter.caseworker, session)
    clock.advance(minutes=6)
    answer = client.post("/test/export", data={"anything": "1"})
    assert answer.headers["Location"] == confirm_url("/test/export")


def test_strangers_are_asked_to_sign_in_first(sensitive, client):
    answer = client.get("/test/export")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
def test_the_confirmation_never_sends_her_to_another_site(sensitive, client, network, session, target):
    assert local_target(target) is None
    sign_in(client, network.shelter.caseworker, session)
    answer = client.post(confirm_url(target), data={"password": PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_a_deactivated_user_cannot_confirm(sensitive, client, network, session, clock):
    sign_in(client, network.shelter.caseworker, session)
    session.get(User, network.shelter.caseworker.user_id).active = False
    session.commit()
    answer = client.post(confirm_url("/test/export"), data={"password": PASSWORD})
    assert answer.headers["Location"].startswith("/sign-in")


def test_every_export_of_her_data_and_every_erasure_asks_again_after_five_minutes(
    app, client, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    sign_in(client, network.womens_centre.coordinator, session)
    clock.advance(minutes=6)
    for path in (
        f"/referrals/{referral.id}/fhir.json",
        f"/people/file.json?referrals={referral.id}",
        "/people/erase",
        "/referrals/emergency",
        "/privacy/incidents/register.csv",
    ):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["Location"].startswith("/account/confirm?next="), path

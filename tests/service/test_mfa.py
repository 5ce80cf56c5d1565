"""Two-step sign-in (TOTP and recovery codes): enrolling, signing in, and who must have it."""

from __future__ import annotations

import logging
import re

import pyotp
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from service import extensions
from service.accounts.encryption import TotpKeyError
from service.accounts.encryption import cipher
from service.accounts.encryption import decrypt
from service.accounts.encryption import encrypt
from service.accounts.mfa import new_recovery_codes
from service.accounts.models import Role
from service.accounts.models import User
from service.api.keys import create_key
from service.app import create_app
from service.audit.models import AuditEntry
from service.cli import main
from service.config import settings
from service.db import make_engine
from service.demo import DEMO_TOTP_SECRET
from service.demo import REGIONAL_ADMIN_EMAIL
from tests.conftest import PASSWORD
from tests.conftest import TOTP_SECRET
from tests.conftest import enrol_in_mfa
from tests.conftest import sign_in


def user_of(session, user_id: int) -> User:
    """Her row as the database has it now (each request closes the shared session: objects go stale)."""
    return session.get(User, user_id)


def enrolled(session, actor, clock) -> User:
    user = session.get(User, actor.user_id)
    enrol_in_mfa(session, user, clock.now)
    session.commit()
    return user


def code_at(clock, secret=TOTP_SECRET, ahead=0) -> str:
    return pyotp.TOTP(secret).at(clock.now, counter_offset=ahead)


def password_step(client, user):
    return client.post("/sign-in", data={"email": user.email, "password": PASSWORD})


def actions(session, user_id) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.user_id == user_id)))


@pytest.fixture
def timed(app, clock):
    return app


def test_a_caseworker_enrols_with_her_app_and_gets_ten_recovery_codes_once(
    timed, client, network, session, clock
):
    sign_in(client, network.shelter.caseworker, session)
    page = client.get("/account/mfa/setup")
    assert page.status_code == 200
    user = session.get(User, network.shelter.caseworker.user_id)
    secret = user.totp_secret
    shown = re.search(r'<code class="auth-secret">([A-Z2-7 ]+)</code>', page.text).group(1)
    assert shown.replace(" ", "") == secret
    assert 'src="/account/mfa/qr.svg"' in page.text
    qr = client.get("/account/mfa/qr.svg")
    assert qr.mimetype == "image/svg+xml"
    assert qr.data.startswith(b"<svg")
    assert b"<script" not in qr.data
    assert not user_of(session, user.id).mfa_enrolled  # not before a first code proves the app has the key

    wrong = client.post("/account/mfa/setup", data={"code": "000000"})
    assert wrong.status_code == 200
    assert "has-error" in wrong.text
    assert not user_of(session, user.id).mfa_enrolled
    done = client.post("/account/mfa/setup", data={"code": code_at(clock, secret)})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert user_of(session, user.id).mfa_enrolled
    assert "mfa.enrolled" in actions(session, user.id)
    assert codes[0] not in client.get("/account/mfa").text  # shown only that once
    assert client.get("/account/mfa/qr.svg").status_code == 404  # the key is no longer shown


def test_signing_in_takes_her_code_and_refuses_a_wrong_or_replayed_one(timed, app, network, session, clock):
    user = enrolled(session, network.shelter.caseworker, clock)
    client = app.test_client()
    first = password_step(client, user)
    assert first.headers["Location"] == "/sign-in/code"
    assert client.get("/").status_code == 302  # the password alone signs nobody in
    assert 'autocomplete="one-time-code"' in client.get("/sign-in/code").text
    wrong = client.post("/sign-in/code", data={"code": code_at(clock, ahead=5)})
    assert wrong.status_code == 200
    assert "has-error" in wrong.text
    code = code_at(clock)
    assert client.post("/sign-in/code", data={"code": code}).status_code == 302
    assert client.get("/").status_code == 200

    # Someone who saw that code and the password tries them on another computer: refused.
    thief = app.test_client()
    password_step(thief, user)
    assert thief.post("/sign-in/code", data={"code": code}).status_code == 200
    assert thief.get("/").status_code == 302
    # Thirty seconds later her app shows a new code, which works.
    clock.advance(seconds=30)
    assert thief.post("/sign-in/code", data={"code": code_at(clock)}).status_code == 302
    assert actions(session, user.id).count("sign_in.code_failed") == 2
    assert actions(session, user.id).count("sign_in.succeeded") == 2


def test_a_phone_a_little_off_still_works_but_not_a_code_from_minutes_ago(
    timed, app, network, session, clock
):
    user = enrolled(session, network.shelter.caseworker, clock)
    client = app.test_client()
    password_step(client, user)
    clock.advance(minutes=3)  # the code she read three minutes ago
    password_step(client, user)
    assert client.post("/sign-in/code", data={"code": code_at(clock, ahead=-6)}).status_code == 200
    assert client.post("/sign-in/code", data={"code": code_at(clock, ahead=-1)}).status_code == 302


def test_the_code_step_expires_and_gives_up_after_five_wrong_codes(timed, app, network, session, clock):
    user = enrolled(session, network.shelter.caseworker, clock)
    client = app.test_client()
    password_step(client, user)
    clock.advance(minutes=6)
    late = client.post("/sign-in/code", data={"code": code_at(clock)})
    assert late.headers["Location"] == "/sign-in"
    password_step(client, user)
    for _ in range(4):
        assert client.post("/sign-in/code", data={"code": "123456"}).status_code == 200
    assert client.post("/sign-in/code", data={"code": "123456"}).headers["Location"] == "/sign-in"
    # Starting over is needed: even the right code no longer counts.
    assert client.post("/sign-in/code", data={"code": code_at(clock)}).headers["Location"] == "/sign-in"


def test_a_recovery_code_signs_her_in_once(timed, app, network, session, clock):
    user = enrolled(session, network.shelter.caseworker, clock)
    codes = new_recovery_codes(session, user, clock)
    client = app.test_client()
    password_step(client, user)
    typed = codes[3].upper().replace("-", " ")  # read back from paper, however she types it
    assert client.post("/sign-in/code", data={"code": typed}).status_code == 302
    assert "sign_in.recovery_code_used" in actions(session, user.id)
    again = app.test_client()
    password_step(again, user)
    assert again.post("/sign-in/code", data={"code": codes[3]}).status_code == 200
    assert again.post("/sign-in/code", data={"code": codes[4]}).status_code == 302
    assert "8 unused recovery codes" in again.get("/account/mfa?lang=en").text


def test_new_recovery_codes_replace_the_old_ones(timed, client, network, session, clock):
    user = enrolled(session, network.shelter.caseworker, clock)
    old = new_recovery_codes(session, user, clock)
    sign_in(client, network.shelter.caseworker, session)
    page = client.post("/account/mfa/recovery-codes")
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    thief = client.application.test_client()
    password_step(thief, user)
    assert thief.post("/sign-in/code", data={"code": old[0]}).status_code == 200


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.PRIVACY_OFFICER, Role.REGIONAL_ADMIN])
def test_roles_with_wide_access_must_enrol_before_anything_else(timed, client, network, session, clock, role):
    user = session.get(User, network.shelter.caseworker.user_id)
    user.role = role
    if role == Role.REGIONAL_ADMIN:
        user.organization_id = None
    session.commit()
    assert password_step(client, user).headers["Location"] == "/"
    for page in ("/", "/directory/", "/account/sessions", "/account/mfa"):
        answer = client.get(page)
        assert answer.status_code == 302, page
        assert answer.headers["Location"] == "/account/mfa/setup", page
    # The API answers the key it is given, whoever the browser's cookie names.
    token = create_key(session, network.shelter.coordinator, name="Dossiers", role="caseworker").token
    called = client.get("/api/v1/protocols", headers={"Authorization": f"Bearer {token}"})
    assert (called.status_code, called.mimetype) == (200, "application/json")
    assert client.get("/account/mfa/setup").status_code == 200
    with client.get("/static/maillage.css") as css:
        assert css.status_code == 200
    client.post("/account/mfa/setup", data={"code": code_at(clock, user_of(session, user.id).totp_secret)})
    assert client.get("/directory/").status_code == 200
    # Once she has it, she cannot turn it off.
    client.post("/account/mfa/remove")
    assert user_of(session, user.id).mfa_enrolled


def test_a_caseworker_may_go_without_it_or_turn_it_off(timed, client, network, session, clock):
    sign_in(client, network.shelter.caseworker, session)
    assert client.get("/").status_code == 200
    user = enrolled(session, network.shelter.caseworker, clock)
    new_recovery_codes(session, user, clock)
    answer = client.post("/account/mfa/remove")
    assert answer.status_code == 303
    user = user_of(session, user.id)
    assert not user.mfa_enrolled
    assert user.totp_secret is None
    assert "mfa.removed" in actions(session, user.id)
    assert password_step(client.application.test_client(), user).headers["Location"] == "/"


def test_her_sessions_page_works_with_two_step_sign_in(timed, app, network, session, clock):
    office, home = app.test_client(), app.test_client()
    sign_in(office, network.shelter.coordinator, session)
    sign_in(home, network.shelter.coordinator, session)
    page = office.get("/account/sessions")
    assert page.status_code == 200
    assert page.text.count("<tr>") == 3
    assert 'href="/account/mfa"' in page.text


def test_the_demo_prints_its_key_in_development_only_and_an_admin_can_reset_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    settings.cache_clear()
    try:
        runner = CliRunner()
        loaded = runner.invoke(main, ["demo"])
        assert loaded.exit_code == 0, loaded.output
        assert f"add the demo key {DEMO_TOTP_SECRET}" in loaded.output
        engine = make_engine(settings().resolved_database_url())
        with Session(engine) as session:
            roles = dict(
                session.execute(
                    select(User.role, User.totp_secret).where(User.mfa_enabled_at.is_not(None))
                ).all()
            )
            assert roles == dict.fromkeys(
                [Role.COORDINATOR, Role.PRIVACY_OFFICER, Role.REGIONAL_ADMIN], DEMO_TOTP_SECRET
            )
            caseworker = session.scalar(select(User).where(User.role == Role.CASEWORKER).limit(1))
            assert caseworker.totp_secret is None
        reset = runner.invoke(main, ["users", "reset-mfa", "--email", REGIONAL_ADMIN_EMAIL])
        assert reset.exit_code == 0, reset.output
        with Session(engine) as session:
            admin = session.scalar(select(User).where(User.email == REGIONAL_ADMIN_EMAIL))
            assert admin.totp_secret is None
            assert not admin.mfa_enrolled
        engine.dispose()
        monkeypatch.setenv("MAILLAGE_ENV", "production")
        monkeypatch.setenv("MAILLAGE_SECRET_KEY", "a key for this test only")
        settings.cache_clear()
        again = runner.invoke(main, ["demo"])
        assert again.exit_code == 0, again.output
        assert DEMO_TOTP_SECRET not in again.output
    finally:
        settings.cache_clear()


def test_each_account_has_a_quota_of_codes_that_no_cookie_or_address_resets(timed, network, session, clock):
    """Someone who knows her password, from many addresses and fresh password steps, tries ten codes
    in 15 minutes at most; then not even the right one is looked at, until the quarter hour ends."""
    user = enrolled(session, network.shelter.caseworker, clock)
    limited = create_app({**timed.config, "RATELIMIT_ENABLED": True})
    limited.extensions["maillage.sessions"] = lambda: session
    try:
        tried = 0
        for address in range(5):  # a new address and a new password step every two codes
            client = limited.test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{address + 1}"
            password_step(client, user)
            for _ in range(2):
                assert client.post("/sign-in/code", data={"code": "000000"}).status_code == 200
                tried += 1
        late = limited.test_client()
        late.environ_base["REMOTE_ADDR"] = "192.0.2.99"
        password_step(late, user)
        refused = late.post("/sign-in/code", data={"code": code_at(clock)})
        assert (tried, refused.headers["Location"]) == (10, "/sign-in")
        assert "sign_in.succeeded" not in actions(session, user.id)
    finally:
        extensions.limiter.reset()


# The secrets at rest ---------------------------------------------------------------------------


def stored_secret(session, user_id: int) -> str:
    """What the database holds in her row, as a copy of it would show."""
    return session.scalar(text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user_id})


def test_her_secret_is_encrypted_in_the_database_and_her_code_still_signs_her_in(
    timed, app, network, session, clock
):
    user = enrolled(session, network.shelter.caseworker, clock)
    stored = stored_secret(session, user.id)
    assert TOTP_SECRET not in stored
    assert cipher().decrypt(stored.encode()).decode() == TOTP_SECRET
    session.expire_all()
    assert user_of(session, user.id).totp_secret == TOTP_SECRET
    client = app.test_client()
    password_step(client, user)
    assert client.post("/sign-in/code", data={"code": code_at(clock)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_secret_no_key_opens_fails_closed_with_a_clear_log_and_no_trace_on_the_page(
    timed, app, network, session, clock, monkeypatch, caplog
):
    user = enrolled(session, network.shelter.caseworker, clock)
    # Someone changed the keys: none of those configured now opens her secret.
    monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "another secret key entirely")
    settings.cache_clear()
    session.expire_all()
    client = app.test_client()
    assert password_step(client, user).headers["Location"] == "/sign-in/code"
    with caplog.at_level(logging.ERROR):
        answer = client.post("/sign-in/code", data={"code": code_at(clock)})
    assert answer.status_code == 500
    for inside in ("Traceback", "TotpKeyError", "MAILLAGE_", "InvalidToken"):
        assert inside not in answer.text
    assert client.get("/").status_code == 302  # not signed in
    assert "opens with none of the keys configured" in caplog.text
    assert "sign_in.succeeded" not in actions(session, user.id)


def test_keys_rotate_the_first_encrypts_and_each_decrypts(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.delenv("MAILLAGE_SECRET_KEY", raising=False)
    try:
        monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", old)
        settings.cache_clear()
        under_old = encrypt(TOTP_SECRET)
        monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", f"{new}, {old}")
        settings.cache_clear()
        assert decrypt(under_old) == TOTP_SECRET
        assert Fernet(new).decrypt(encrypt(TOTP_SECRET).encode()).decode() == TOTP_SECRET
        monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", new)
        settings.cache_clear()
        with pytest.raises(TotpKeyError):
            decrypt(under_old)
        # In production, without a key nor a secret key to derive one from, nothing is written in clear.
        monkeypatch.delenv("MAILLAGE_TOTP_ENCRYPTION_KEY")
        settings.cache_clear()
        with pytest.raises(TotpKeyError, match="set MAILLAGE_TOTP_ENCRYPTION_KEY"):
            encrypt(TOTP_SECRET)
    finally:
        settings.cache_clear()


def test_a_key_that_is_not_one_stops_the_app_from_starting_without_showing_it(monkeypatch):
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", f"{Fernet.generate_key().decode()},half-a-key")
    settings.cache_clear()
    try:
        with pytest.raises(ValidationError) as refused:
            create_app()
    finally:
        settings.cache_clear()
    assert "totp_encryption_key" in str(refused.value)
    assert "Fernet.generate_key()" in str(refused.value)
    assert "half-a-key" not in str(refused.value)

"""Passwords: long enough, and never a common or breached one (checked offline)."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner

from service.accounts.models import User
from service.accounts.operations import AccountProblem
from service.accounts.operations import create_user
from service.accounts.passwords import password_problem
from service.accounts.passwords import verify_password
from service.cli import main
from service.config import settings
from tests.conftest import PASSWORD
from tests.conftest import sign_in

NEW = "une longue phrase pour mon nouveau mot de passe"


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "qwertyuiop123",
        "123456789012",
        "iloveyou1234",
        "aaaaaaaaaaaa",
        "1q2w3e4r5t6y",
        "motdepasse123",
        # A word of here, or any common word, dressed up with digits and signs.
        "Bonjour2024!",
        "Montréal2024!",
        "Laval2025!!!",
        "Summer2024!!",
        "Bienvenue2024",
        "Refuge2024!!",
    ],
)
def test_common_and_breached_passwords_are_refused(password):
    assert len(password) >= 12
    assert "common or breached" in password_problem(password)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Soleil-de-mars-sur-la-riviere", "un mot de passe assez long"],
)
def test_long_uncommon_passwords_are_accepted(password):
    assert password_problem(password) is None


def test_generated_passwords_are_always_accepted():
    # `maillage users create --generate` makes these: none may ever be refused.
    assert all(password_problem(secrets.token_urlsafe(15)) is None for _ in range(100))


def test_a_short_password_is_refused_first():
    assert password_problem("Zq8#vL2!") == "at least 12 characters"


def test_her_own_name_or_email_is_not_a_password():
    personal = ("sophie.tremblay@example.org", "Sophie Tremblay")
    assert password_problem("sophie.tremblay1", personal) is not None
    assert password_problem("sophie.tremblay1") is None


def test_creating_an_account_with_a_breached_password_is_refused(session, network):
    with pytest.raises(AccountProblem, match="common or breached"):
        create_user(
            session,
            email="nouvelle@example.org",
            name="Nouvelle",
            role="caseworker",
            organization_id=network.shelter.organization.id,
            password="Password1234!",
        )


def test_the_command_line_refuses_a_breached_password(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.delenv("MAILLAGE_DATABASE_URL", raising=False)
    settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
        args = ["users", "create", "--email", "table@exemple.org", "--role", "regional_admin"]
        refused = runner.invoke(main, args, input="qwertyuiop123\nqwertyuiop123\n")
        assert refused.exit_code == 1
        assert "common or breached" in refused.output
        accepted = runner.invoke(main, args, input="un mot de passe assez long\nun mot de passe assez long\n")
        assert accepted.exit_code == 0, accepted.output
    finally:
        settings.cache_clear()


def test_she_changes_her_password_but_not_for_a_breached_one_and_her_other_sessions_end(
    app, network, session, clock
):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, network.shelter.caseworker, session)
    sign_in(elsewhere, network.shelter.caseworker, session)
    assert 'autocomplete="new-password"' in here.get("/account/password").text

    wrong = here.post(
        "/account/password?lang=en", data={"current": "not my password!", "new": NEW, "again": NEW}
    )
    assert "The password is wrong." in wrong.text
    breached = here.post(
        "/account/password?lang=en",
        data={"current": PASSWORD, "new": "Password1234!", "again": "Password1234!"},
    )
    assert breached.status_code == 200
    assert "This password is common or has leaked" in breached.text
    assert verify_password(session.get(User, network.shelter.caseworker.user_id).password_hash, PASSWORD)

    done = here.post("/account/password", data={"current": PASSWORD, "new": NEW, "again": NEW})
    assert done.status_code == 303
    assert verify_password(session.get(User, network.shelter.caseworker.user_id).password_hash, NEW)
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_a_password_past_128_characters_is_refused():
    assert password_problem("une phrase " * 11) is None
    assert password_problem("une phrase " * 11 + "x" * 10) == "at most 128 characters"


def test_the_pages_refuse_a_pasted_novel_as_a_password_in_her_language(app, network, session):
    client = app.test_client()
    sign_in(client, network.shelter.caseworker, session)
    novel = "une phrase " * 20
    refused = client.post("/account/password", data={"current": PASSWORD, "new": novel, "again": novel})
    assert refused.status_code == 200
    assert "Un mot de passe a au plus 128 caractères." in refused.text
    assert verify_password(session.get(User, network.shelter.caseworker.user_id).password_hash, PASSWORD)
    signed_out = app.test_client()
    email = session.get(User, network.shelter.caseworker.user_id).email
    too_long = signed_out.post("/sign-in", data={"email": email, "password": "x" * 5000})
    assert too_long.status_code == 200
    assert "Ce mot de passe est trop long." in too_long.text

"""A coordinator runs her team from the "Équipe" page: she sees its accounts, invites, changes a
role, deactivates, reactivates, resets a second factor; each change asks her password again, is
audited and tells the person by email. Another organization's accounts do not exist for her."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.accounts import team
from service.accounts.models import RecoveryCode
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.models import UserSession
from service.audit.models import AuditEntry
from service.links.redaction import mask_tokens
from service.notifications.emails import compose
from service.notifications.emails import compose_summary
from service.notifications.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.conftest import enrol_in_mfa
from tests.conftest import sign_in
from tests.service.test_referral_pages import referral_in

NEW_PASSWORD = "le héron garde la rivière en hiver"


def user_of(session, user_id: int) -> User:
    return session.scalars(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    ).one()


def notices(session, user_id: int) -> list[OutboxMessage]:
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_party == "account").order_by(OutboxMessage.id)
    )
    return [m for m in rows if (m.payload or {}).get("user_id") == user_id]


def audited(session, action: str, subject_id: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.subject_user_id == subject_id)
    return list(session.scalars(query))


@pytest.fixture
def coordinator(client, network, session):
    """The shelter's coordinator, signed in (so her identity is fresh for five minutes)."""
    return sign_in(client, network.shelter.coordinator, session)


def test_she_sees_her_organizations_accounts_and_only_them(coordinator, network, session):
    page = coordinator.get("/team")
    assert page.status_code == 200
    assert "<h1>Équipe</h1>" in page.text
    assert 'href="/team"' in coordinator.get("/").text  # in her menu
    shelter_caseworker = session.get(User, network.shelter.caseworker.user_id)
    assert shelter_caseworker.email in page.text
    assert "Intervenante" in page.text
    assert "Coordonnatrice" in page.text
    assert "Activée" in page.text  # her own two-step sign-in (enrolled when signing in)
    assert "Jamais" in page.text  # the caseworker never signed in
    other = session.get(User, network.legal_aid.caseworker.user_id)
    assert other.email not in page.text


def test_only_a_coordinator_runs_the_team(app, network, session):
    caseworker = sign_in(app.test_client(), network.shelter.caseworker, session)
    assert caseworker.get("/team").status_code == 403
    assert caseworker.post(f"/team/{network.shelter.coordinator.user_id}/deactivate").status_code == 403
    assert 'href="/team"' not in caseworker.get("/").text
    assert user_of(session, network.shelter.coordinator.user_id).active


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("", None),
        ("/role", {"role": "coordinator"}),
        ("/deactivate", {}),
        ("/reactivate", {}),
        ("/reset-two-step", {}),
    ],
)
def test_another_organizations_account_is_not_found(coordinator, network, session, path, data):
    other = network.legal_aid.caseworker.user_id
    answer = (
        coordinator.get(f"/team/{other}{path}")
        if data is None
        else coordinator.post(f"/team/{other}{path}", data=data)
    )
    assert answer.status_code == 404
    assert user_of(session, other).active
    assert user_of(session, other).role == Role.CASEWORKER
    assert not session.scalars(select(AuditEntry).where(AuditEntry.subject_user_id == other)).all()
    assert coordinator.get("/team/999999").status_code == 404


def test_a_change_asks_for_her_password_again_after_five_minutes(coordinator, network, session, clock):
    caseworker = network.shelter.caseworker.user_id
    clock.advance(minutes=6)
    answer = coordinator.post(f"/team/{caseworker}/deactivate")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/confirm?next=")
    assert user_of(session, caseworker).active
    assert (
        coordinator.post(
            answer.headers["Location"], data={"password": PASSWORD, "code": "000000"}
        ).status_code
        == 200
    )
    assert user_of(session, caseworker).active


def test_changing_a_role_is_audited_and_she_is_told(coordinator, network, session):
    caseworker = network.shelter.caseworker.user_id
    answer = coordinator.post(f"/team/{caseworker}/role", data={"role": "coordinator"})
    assert answer.status_code == 303
    assert "Rôle changé" in coordinator.get(answer.headers["Location"]).text
    assert user_of(session, caseworker).role == Role.COORDINATOR
    [entry] = audited(session, "team.role_changed", caseworker)
    assert entry.user_id == network.shelter.coordinator.user_id
    [notice] = notices(session, caseworker)
    assert notice.template == "account_role_changed"
    [email] = compose_summary(session, notice, base_url="https://maillage.example")
    assert email.to == user_of(session, caseworker).email
    assert "Coordonnatrice" in email.text


def test_a_role_outside_the_team_is_refused(coordinator, network, session):
    caseworker = network.shelter.caseworker.user_id
    coordinator.post(f"/team/{caseworker}/role", data={"role": "regional_admin"})
    assert user_of(session, caseworker).role == Role.CASEWORKER
    with pytest.raises(team.TeamProblem):
        team.change_role(session, network.shelter.coordinator, caseworker, "regional_admin")


def test_the_last_active_coordinator_cannot_demote_or_deactivate_herself(coordinator, network, session):
    herself = network.shelter.coordinator.user_id
    refused = coordinator.post(f"/team/{herself}/role", data={"role": "caseworker"}, follow_redirects=True)
    assert "Vous êtes la dernière coordonnatrice active de votre organisme" in refused.text
    assert user_of(session, herself).role == Role.COORDINATOR
    coordinator.post(f"/team/{herself}/deactivate")
    assert user_of(session, herself).active
    assert not audited(session, "team.role_changed", herself)
    assert not audited(session, "team.deactivated", herself)

    # Once someone else is a coordinator, she may step down.
    coordinator.post(f"/team/{network.shelter.caseworker.user_id}/role", data={"role": "coordinator"})
    coordinator.post(f"/team/{herself}/role", data={"role": "caseworker"})
    assert user_of(session, herself).role == Role.CASEWORKER


def test_the_command_line_may_close_the_last_coordinator(network, session, clock):
    herself = network.shelter.coordinator.user_id
    assert team.deactivate(session, team.command_line_actor(None), herself, clock=clock) == 0
    assert not user_of(session, herself).active
    [entry] = audited(session, "team.deactivated", herself)
    assert entry.user_id is None


def test_deactivating_ends_her_open_session_at_its_next_request(coordinator, app, network, session):
    caseworker = network.shelter.caseworker
    her_browser = sign_in(app.test_client(), caseworker, session)
    assert her_browser.get("/").status_code == 200
    answer = coordinator.post(f"/team/{caseworker.user_id}/deactivate")
    assert answer.status_code == 303
    assert not user_of(session, caseworker.user_id).active
    open_sessions = session.scalars(
        select(UserSession).where(UserSession.user_id == caseworker.user_id, UserSession.ended_at.is_(None))
    )
    assert open_sessions.all() == []
    next_request = her_browser.get("/")
    assert next_request.status_code == 302
    assert next_request.headers["Location"].startswith("/sign-in")
    assert len(audited(session, "team.deactivated", caseworker.user_id)) == 1
    [notice] = notices(session, caseworker.user_id)
    [email] = compose_summary(session, notice, base_url="https://maillage.example")
    assert "désactivé" in email.subject

    # Reactivated, she signs in again with her password.
    coordinator.post(f"/team/{caseworker.user_id}/reactivate")
    assert user_of(session, caseworker.user_id).active
    assert len(audited(session, "team.reactivated", caseworker.user_id)) == 1
    sign_in(app.test_client(), caseworker, session)


def test_her_referrals_reminders_go_to_the_coordinators_once_she_is_deactivated(
    coordinator, network, session, protocols, clock
):
    author = network.shelter.caseworker
    referral = referral_in(
        "sent",
        session,
        protocols,
        network,
        clock,
        sender=author,
        receiver_organization_id=network.womens_centre.organization.id,
    )
    reminder = OutboxMessage(
        dedupe_key="test-reminder",
        template="deadline_reminder",
        referral_id=referral.id,
        recipient_party="sender",
        recipient_organization_id=network.shelter.organization.id,
        created_at=clock(),
        available_at=clock(),
    )
    session.add(reminder)
    session.commit()
    emails = compose(session, protocols, reminder, base_url="https://maillage.example", now=clock())
    assert [e.to for e in emails] == [user_of(session, author.user_id).email]

    coordinator.post(f"/team/{author.user_id}/deactivate")
    emails = compose(session, protocols, reminder, base_url="https://maillage.example", now=clock())
    assert [e.to for e in emails] == [user_of(session, network.shelter.coordinator.user_id).email]


def test_resetting_her_two_step_sign_in(coordinator, app, network, session, clock):
    caseworker = network.shelter.caseworker.user_id
    user = session.get(User, caseworker)
    enrol_in_mfa(session, user, clock())
    session.add(RecoveryCode(user_id=caseworker, salt="00", code_hash="0" * 64, created_at=clock()))
    session.commit()
    assert "Activée" in coordinator.get(f"/team/{caseworker}").text
    coordinator.post(f"/team/{caseworker}/reset-two-step")
    user = user_of(session, caseworker)
    assert user.mfa_enabled_at is None
    assert user.totp_secret is None
    assert session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == caseworker)).all() == []
    assert len(audited(session, "team.mfa_reset", caseworker)) == 1
    assert [n.template for n in notices(session, caseworker)] == ["account_mfa_reset"]


# Invitations


def invite(client, email="nouvelle@exemple.org", role="caseworker", language="fr"):
    return client.post(
        "/team/invite",
        data={"name": "Nouvelle Intervenante", "email": email, "role": role, "language": language},
    )


def emailed_token(session, user_id: int, clock, *, newest: bool = False) -> tuple[str, object]:
    """The token of the invitation email, as the worker composes it."""
    sent = [m for m in notices(session, user_id) if m.template == "account_invitation"]
    if not newest:
        assert len(sent) == 1
    message = sent[-1]
    assert "token" not in str(message.payload)  # the outbox never holds it
    [email] = compose_summary(session, message, base_url="https://maillage.example", now=clock())
    session.commit()
    token = re.search(r"https://maillage\.example/invitation/([A-Za-z0-9_-]+)", email.text).group(1)
    assert len(token) >= 22  # at least 128 bits
    return token, email


def invited_user(session, email="nouvelle@exemple.org") -> User:
    return session.scalars(select(User).where(User.email == email)).one()


def test_an_invitation_in_her_language_sets_her_password_and_signs_her_in(
    coordinator, app, network, session, clock
):
    answer = invite(coordinator, language="en")
    assert answer.status_code == 303
    invited = invited_user(session)
    assert (invited.active, invited.password_hash, invited.organization_id) == (
        False,
        None,
        network.shelter.organization.id,
    )
    assert "Invitée" in coordinator.get("/team").text
    assert len(audited(session, "team.invited", invited.id)) == 1
    token, email = emailed_token(session, invited.id, clock)
    assert email.language == "en"
    assert "invites you to Maillage" in email.text

    browser = app.test_client()
    # A mail scanner's GETs show the form and change nothing.
    for _ in range(2):
        page = browser.get(f"/invitation/{token}")
        assert page.status_code == 200
        assert 'name="password"' in page.text
        assert "Welcome to Maillage" in page.text
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
    assert not user_of(session, invited.id).active

    weak = browser.post(f"/invitation/{token}", data={"password": "short", "again": "short"})
    assert weak.status_code == 200
    assert "error-summary" in weak.text
    done = browser.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["Location"] == "/"
    assert browser.get("/").status_code == 200
    invited = user_of(session, invited.id)
    assert invited.active
    assert invited.password_hash is not None
    assert session.scalars(
        select(AuditEntry).where(AuditEntry.action == "invitation.accepted", AuditEntry.user_id == invited.id)
    ).all()

    # Used: a second use says so, in French, and whom to ask.
    again = app.test_client().post(
        f"/invitation/{token}", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD}
    )
    assert again.status_code == 410
    assert "Cette invitation a déjà été utilisée" in again.text
    assert user_of(session, network.shelter.coordinator.user_id).email in again.text


def test_an_expired_invitation_says_so_and_whom_to_ask(coordinator, app, network, session, clock):
    invite(coordinator, language="en")
    invited = invited_user(session)
    token, _email = emailed_token(session, invited.id, clock)
    clock.advance(hours=72, seconds=1)
    page = app.test_client().get(f"/invitation/{token}")
    assert page.status_code == 410
    assert "Cette invitation a expiré" in page.text
    assert "adressez-vous à une coordonnatrice de Maison Fictive du Phare" in page.text
    assert user_of(session, network.shelter.coordinator.user_id).email in page.text
    refused = app.test_client().post(
        f"/invitation/{token}", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD}
    )
    assert refused.status_code == 410
    assert not user_of(session, invited.id).active


def test_a_tampered_invitation_opens_nothing(coordinator, app, session, clock):
    invite(coordinator)
    token, _email = emailed_token(session, invited_user(session).id, clock)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"/invitation/{tampered}", "/invitation/x", f"/invitation/{token}{'x' * 100}"):
        page = app.test_client().post(path, data={"password": NEW_PASSWORD, "again": NEW_PASSWORD})
        assert page.status_code == 404
        assert "Cette invitation n’est pas valide" in page.text  # noqa: RUF001 - French typography
    assert not user_of(session, invited_user(session).id).active


def test_a_newer_invitation_email_replaces_the_older(coordinator, session, clock):
    invite(coordinator)
    invited = invited_user(session)
    first, _email = emailed_token(session, invited.id, clock)
    second, _email = emailed_token(session, invited.id, clock)  # the message composed again (a retry)
    assert team.open_invitation(session, first, clock=clock).unusable == "revoked"
    assert team.open_invitation(session, second, clock=clock).user.id == invited.id


def test_an_email_already_in_use_is_a_clear_error(coordinator, network, session):
    taken = session.get(User, network.legal_aid.caseworker.user_id).email
    page = invite(coordinator, email=taken.upper())
    assert page.status_code == 200
    assert "Ce courriel appartient déjà à un compte Maillage" in page.text
    assert session.scalars(select(User).where(User.name == "Nouvelle Intervenante")).all() == []


def test_inviting_asks_for_her_password_again_after_five_minutes(coordinator, session, clock):
    clock.advance(minutes=6)
    answer = invite(coordinator)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/confirm")
    assert session.scalars(select(User).where(User.email == "nouvelle@exemple.org")).all() == []


def test_an_invited_coordinator_sets_up_two_step_sign_in_first(coordinator, app, session, clock):
    invite(coordinator, email="coord@exemple.org", role="coordinator")
    token, _email = emailed_token(session, invited_user(session, "coord@exemple.org").id, clock)
    browser = app.test_client()
    assert "deux étapes" in browser.get(f"/invitation/{token}").text
    browser.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert browser.get("/").headers["Location"] == "/account/mfa/setup"
    assert browser.get("/account/mfa/setup").status_code == 200


def test_an_invitation_withdrawn_before_its_email_left_is_never_sent(coordinator, session):
    invite(coordinator)
    invited = invited_user(session)
    coordinator.post(f"/team/{invited.id}/deactivate")
    [message] = notices(session, invited.id)
    assert (message.status, message.last_error) == ("cancelled", "invitation_withdrawn")


def test_withdrawing_an_invitation_ends_its_link(coordinator, app, session, clock):
    invite(coordinator)
    invited = invited_user(session)
    token, _email = emailed_token(session, invited.id, clock)
    coordinator.post(f"/team/{invited.id}/deactivate")
    assert app.test_client().get(f"/invitation/{token}").status_code == 410
    assert len(audited(session, "team.invitation_withdrawn", invited.id)) == 1


def test_the_invitation_token_is_masked_in_logs():
    assert (
        mask_tokens('"GET /invitation/abcDEF_123-x?lang=en HTTP/1.1" 200')
        == '"GET /invitation/***?lang=en HTTP/1.1" 200'
    )


def test_an_expired_invitation_is_sent_again_and_the_new_link_works(
    coordinator, app, network, session, clock
):
    invite(coordinator)
    invited = invited_user(session)
    old, _email = emailed_token(session, invited.id, clock)
    clock.advance(hours=80)
    sign_in(coordinator, network.shelter.coordinator, session)  # her session ended meanwhile
    # The same email again, through the form: the same account, a new link.
    again = invite(coordinator, role="partner_contact")
    assert again.status_code == 303
    assert invited_user(session).id == invited.id
    assert invited_user(session).role == Role.PARTNER_CONTACT
    new, _email = emailed_token(session, invited.id, clock, newest=True)
    assert app.test_client().get(f"/invitation/{old}").status_code == 410
    assert app.test_client().get(f"/invitation/{new}").status_code == 200
    # And from her page, once more; an accepted invitation cannot be sent again.
    coordinator.post(f"/team/{invited.id}/invite-again")
    assert len(audited(session, "team.invited", invited.id)) == 3
    caseworker = network.shelter.caseworker.user_id
    refused = coordinator.post(f"/team/{caseworker}/invite-again", follow_redirects=True)
    assert "Elle a déjà accepté son invitation." in refused.text
    assert not audited(session, "team.invited", caseworker)


def test_another_organizations_pending_invitation_keeps_its_email(coordinator, app, network, session):
    other = sign_in(app.test_client(), network.legal_aid.coordinator, session)
    invite(other, email="partagee@exemple.org")
    page = invite(coordinator, email="partagee@exemple.org")
    assert "Ce courriel appartient déjà à un compte Maillage" in page.text
    assert invited_user(session, "partagee@exemple.org").organization_id == network.legal_aid.organization.id


def test_the_team_pages_speak_english_too(coordinator, network):
    page = coordinator.get("/team?lang=en")
    assert "<h1>Team</h1>" in page.text
    assert "Last sign-in" in page.text
    member = coordinator.get(f"/team/{network.shelter.caseworker.user_id}")
    assert "Deactivate the account" in member.text

"""A partner without an account answers a referral from the signed link in her email."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.app import create_app
from service.audit.models import AuditEntry
from service.errors import NotAllowed
from service.extensions import limiter
from service.links.models import SignedLink
from service.links.operations import LinkExpired
from service.links.operations import LinkInvalid
from service.links.operations import issue_link
from service.links.operations import resolve_link
from service.links.operations import revoke_link
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent

NAME = "Personne Fictive 7"
PHONE = "450-555-0107"
SAFETY = "Ne jamais laisser de message vocal"


@pytest.fixture
def referral(session, protocols, network, clock) -> Referral:
    """A referral the women's centre has sent to the shelter, with her consent."""
    sender = network.womens_centre.caseworker
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        need_codes=["shelter_emergency"],
        person=PersonDetails(name=NAME, phone=PHONE, safety_constraints=SAFETY),
        clock=clock,
    )
    record_consent(
        session,
        draft.id,
        sender,
        method="verbal",
        shared_with="La maison",
        purpose="hébergement",
        clock=clock,
    )
    return fire(session, protocols, draft.id, "send", sender, clock=clock)


@pytest.fixture
def token(session, referral, network, clock) -> str:
    return issue_link(session, referral.id, network.shelter.organization.id, clock=clock)


@pytest.fixture
def client(app, clock):
    """A browser on the app, which reads the time from the test's clock."""
    return app.test_client()


def events_of(session, referral) -> list[tuple[int, str]]:
    rows = session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id))
    return [(e.seq, e.to_state) for e in rows]


def audit_actions(session, referral) -> list[str]:
    query = select(AuditEntry).where(AuditEntry.referral_id == referral.id).order_by(AuditEntry.id)
    return [entry.action for entry in session.scalars(query)]


def csrf_token(html: str, trigger: str) -> str:
    return re.search(rf'name="{trigger}-csrf_token" type="hidden" value="([^"]+)"', html).group(1)


# Issuing and resolving --------------------------------------------------------


def test_a_link_is_a_long_random_token_and_only_its_hash_is_kept(session, referral, network, clock):
    first = issue_link(session, referral.id, network.shelter.organization.id, clock=clock)
    second = issue_link(session, referral.id, network.shelter.organization.id, clock=clock)
    assert first != second
    assert len(first) >= 43  # 32 random bytes, base64url: 256 bits
    links = session.scalars(select(SignedLink).where(SignedLink.referral_id == referral.id)).all()
    assert {link.token_hash for link in links} == {
        hashlib.sha256(token.encode()).hexdigest() for token in (first, second)
    }
    stored = [value for link in links for value in vars(link).values()]
    assert first not in stored
    assert second not in stored
    link = links[0]
    assert (link.organization_id, link.purpose) == (network.shelter.organization.id, "respond")
    assert link.expires_at == clock.now + timedelta(days=7)


def test_a_link_serves_only_the_receiving_organization(session, referral, network, clock):
    for outsider in (network.legal_aid, network.womens_centre):
        with pytest.raises(NotAllowed):
            issue_link(session, referral.id, outsider.organization.id, clock=clock)
    assert session.scalars(select(SignedLink)).all() == []


def test_a_link_resolves_until_it_expires(session, referral, token, clock):
    clock.advance(days=6, hours=23)
    assert resolve_link(session, token, clock=clock).referral_id == referral.id
    clock.advance(hours=1)
    with pytest.raises(LinkExpired) as expired:
        resolve_link(session, token, clock=clock)
    assert expired.value.sender_organization_id == referral.sender_organization_id


def test_a_revoked_or_unknown_link_is_not_valid(session, referral, token, clock):
    with pytest.raises(LinkInvalid):
        resolve_link(session, token[:-1] + ("A" if token[-1] != "A" else "B"), clock=clock)
    with pytest.raises(LinkInvalid):
        resolve_link(session, "", clock=clock)
    link = resolve_link(session, token, clock=clock)
    revoke_link(session, link.id, clock=clock)
    with pytest.raises(LinkInvalid):
        resolve_link(session, token, clock=clock)


def test_a_link_tied_to_another_organization_than_the_receiver_is_not_valid(
    session, referral, network, clock
):
    # Written by hand, as a bug or a tampered row would: resolving still refuses it.
    forged = "forged-token-of-enough-length-to-look-real-000"
    session.add(
        SignedLink(
            token_hash=hashlib.sha256(forged.encode()).hexdigest(),
            referral_id=referral.id,
            organization_id=network.legal_aid.organization.id,
            created_at=clock.now,
            expires_at=clock.now + timedelta(days=7),
        )
    )
    session.commit()
    with pytest.raises(LinkInvalid):
        resolve_link(session, forged, clock=clock)


def test_the_link_expiry_follows_the_setting(session, referral, network, clock, monkeypatch):
    from service.config import settings

    monkeypatch.setenv("MAILLAGE_SIGNED_LINK_DAYS", "2")
    settings.cache_clear()
    try:
        token = issue_link(session, referral.id, network.shelter.organization.id, clock=clock)
    finally:
        settings.cache_clear()
    assert resolve_link(session, token, clock=clock).expires_at == clock.now + timedelta(days=2)


# The page ------------------------------------------------------------------------


def test_opening_the_link_shows_the_referral_and_nothing_of_her_and_changes_nothing(
    client, session, referral, token
):
    """A mail scanner fetches the link and keeps the page: it gets the referral, not her."""
    before = (referral.state, referral.version, events_of(session, referral))
    response = client.get(f"/link/{token}")
    assert response.status_code == 200
    session.expire_all()
    again = session.get(Referral, referral.id)
    assert (again.state, again.version, events_of(session, again)) == before
    assert audit_actions(session, referral) == ["link.opened"]
    link = session.scalar(select(SignedLink))
    assert link.last_used_at is not None
    for hers in (NAME, PHONE, SAFETY):
        assert hers not in response.text
    assert "Accuser réception" in response.text
    # Her details are one deliberate press away, a form of its own posting to the link.
    button = re.search(
        r'<form method="post" action="([^"]+)">\s*<input[^>]*csrf_token[^>]*>\s*<button', response.text
    )
    assert button.group(1) == f"/link/{token}/person#her-details"
    assert "Afficher ses coordonnées" in response.text


def test_her_details_appear_once_asked_for_and_the_read_is_audited(client, session, referral, token, clock):
    client.get(f"/link/{token}")
    response = client.post(f"/link/{token}/person")
    assert response.status_code == 200
    # What she needs to reach the woman safely is there; nothing personal in the title.
    for hers in (NAME, PHONE, SAFETY):
        assert hers in response.text
    assert "Accuser réception" in response.text
    title = re.search(r"<title>(.*?)</title>", response.text, re.S).group(1)
    assert NAME not in title
    assert "Fictive" not in title
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # Who read it (the link, for its organization, no account) and when.
    link = session.scalar(select(SignedLink))
    query = select(AuditEntry).where(AuditEntry.referral_id == referral.id).order_by(AuditEntry.id)
    entries = session.scalars(query).all()
    assert [(e.action, e.signed_link_id, e.user_id, e.organization_id, e.at) for e in entries] == [
        ("link.opened", link.id, None, link.organization_id, clock.now),
        ("link.opened", link.id, None, link.organization_id, clock.now),
        ("person.read", link.id, None, link.organization_id, clock.now),
    ]
    # Reloading the details' address (a GET) leads back to the page, which reads nothing.
    again = client.get(f"/link/{token}/person")
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/link/{token}")


def test_opening_twice_is_logged_twice(client, session, referral, token):
    client.get(f"/link/{token}")
    client.get(f"/link/{token}")
    assert audit_actions(session, referral).count("link.opened") == 2


def test_the_page_keeps_the_token_from_leaking(client, token):
    response = client.get(f"/link/{token}")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert '<meta name="referrer" content="no-referrer">' in response.text
    # Nothing loaded from elsewhere: every src and href stays on this site.
    for address in re.findall(r'(?:src|href|action)="([^"]*)"', response.text):
        assert not re.match(r"(https?:)?//", address), address


def test_pressing_the_button_acknowledges_as_the_receiver(client, session, referral, token):
    client.set_cookie("maillage_lang", "en")
    response = client.post(
        f"/link/{token}", data={"trigger": "acknowledge", "acknowledge-version": referral.version}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/link/{token}")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    session.expire_all()
    assert session.get(Referral, referral.id).state == "received"
    last = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert (last.trigger, last.actor_party, last.actor_user_id) == ("acknowledge", "receiver", None)
    assert audit_actions(session, referral) == ["link.acted"]
    page = client.get(response.headers["Location"])
    assert "Thank you. The referral is now: Received." in page.text


def test_acting_on_an_old_page_is_refused_and_says_so(client, session, protocols, network, referral, token):
    client.set_cookie("maillage_lang", "en")
    referral_id, shown = referral.id, referral.version
    fire(session, protocols, referral_id, "acknowledge", network.shelter.caseworker)
    response = client.post(
        f"/link/{token}", data={"trigger": "accept", "accept-version": shown}, follow_redirects=True
    )
    assert "This referral changed in the meantime" in response.text
    referral = session.get(Referral, referral_id)
    assert referral.state == "received"
    assert "link.refused" in audit_actions(session, referral)


def test_declining_asks_for_a_reason_then_hides_her_data(
    client, session, protocols, network, referral, token
):
    fire(session, protocols, referral.id, "acknowledge", network.shelter.caseworker)
    session.refresh(referral)
    missing = client.post(f"/link/{token}", data={"trigger": "decline", "decline-version": referral.version})
    assert missing.status_code == 400
    assert "error-summary" in missing.text
    session.expire_all()
    assert session.get(Referral, referral.id).state == "received"
    done = client.post(
        f"/link/{token}",
        data={
            "trigger": "decline",
            "decline-version": referral.version,
            "decline-reason": "no_capacity",
            "decline-comment": "Essayer la maison de deuxième étape.",
        },
    )
    assert done.status_code == 303
    session.expire_all()
    declined = session.get(Referral, referral.id)
    assert declined.state == "declined"
    page = client.get(f"/link/{token}")
    assert NAME not in page.text
    assert "Afficher ses coordonnées" not in page.text
    asked = client.post(f"/link/{token}/person")
    assert NAME not in asked.text
    assert "person.read" not in audit_actions(session, referral)


def test_redirecting_names_the_organization(client, session, protocols, network, referral, token):
    fire(session, protocols, referral.id, "acknowledge", network.shelter.caseworker)
    session.refresh(referral)
    assert network.legal_aid.organization.name in client.get(f"/link/{token}").text
    response = client.post(
        f"/link/{token}",
        data={
            "trigger": "redirect",
            "redirect-version": referral.version,
            "redirect-reason": "better_fit",
            "redirect-target_organization": network.legal_aid.organization.id,
        },
    )
    assert response.status_code == 303
    last = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert (last.trigger, last.target_organization_id) == ("redirect", network.legal_aid.organization.id)


def test_a_link_cannot_do_what_only_the_sender_may(client, session, referral, token):
    assert (
        client.post(
            f"/link/{token}", data={"trigger": "cancel", "cancel-version": referral.version}
        ).status_code
        == 404
    )
    assert client.post(f"/link/{token}", data={"trigger": "nonsense"}).status_code == 404
    session.expire_all()
    assert session.get(Referral, referral.id).state == "sent"


def test_an_expired_link_says_whom_to_contact(client, session, network, referral, token, clock):
    network.womens_centre.organization.phone = "450-555-0199"
    session.commit()
    clock.advance(days=7)
    response = client.get(f"/link/{token}?lang=en")
    assert response.status_code == 410
    assert "This link is no longer valid" in response.text
    assert network.womens_centre.organization.name in response.text
    assert "450-555-0199" in response.text
    assert NAME not in response.text
    assert response.headers["Referrer-Policy"] == "no-referrer"
    acting = client.post(
        f"/link/{token}", data={"trigger": "acknowledge", "acknowledge-version": referral.version}
    )
    assert acting.status_code == 410
    session.expire_all()
    assert session.get(Referral, referral.id).state == "sent"


def test_an_unknown_link_says_nothing_about_anyone(client, network):
    response = client.get("/link/not-a-real-token")
    assert response.status_code == 404
    for side in (network.shelter, network.womens_centre, network.legal_aid):
        assert side.organization.name not in response.text
    assert "Traceback" not in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_speaks_english_on_request(client, token):
    response = client.get(f"/link/{token}?lang=en")
    assert 'lang="en"' in response.text
    assert "Acknowledge receipt" in response.text


# CSRF and rate limits, on an app configured as in production ------------------


@pytest.fixture
def guarded_app(app, session, engine, clock):
    """The app with CSRF and rate limits on, as people get it."""
    guarded = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": True,
        }
    )
    guarded.extensions["maillage.sessions"] = lambda: session
    guarded.config["CLOCK"] = clock
    yield guarded
    limiter.reset()


def test_acting_needs_the_csrf_token_of_the_page(guarded_app, session, referral, token):
    client = guarded_app.test_client()
    forged = client.post(
        f"/link/{token}", data={"trigger": "acknowledge", "acknowledge-version": referral.version}
    )
    assert forged.status_code == 400
    session.expire_all()
    assert session.get(Referral, referral.id).state == "sent"
    # Opening the page gives the browser its session cookie and the form its token.
    page = client.get(f"/link/{token}")
    assert "maillage_session" in page.headers.get("Set-Cookie", "")
    response = client.post(
        f"/link/{token}",
        data={
            "trigger": "acknowledge",
            "acknowledge-version": referral.version,
            "acknowledge-csrf_token": csrf_token(page.text, "acknowledge"),
        },
    )
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Referral, referral.id).state == "received"


def test_her_details_need_the_csrf_token_of_the_page(guarded_app, session, referral, token):
    """A request for her details that does not come from the page's button reads nothing."""
    client = guarded_app.test_client()
    forged = client.post(f"/link/{token}/person")
    assert forged.status_code == 400
    assert NAME not in forged.text
    page = client.get(f"/link/{token}")
    token_field = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    asked = client.post(f"/link/{token}/person", data={"csrf_token": token_field})
    assert asked.status_code == 200
    assert NAME in asked.text
    assert audit_actions(session, referral).count("person.read") == 1


def test_link_pages_are_rate_limited(guarded_app, token):
    client = guarded_app.test_client()
    answers = [client.get(f"/link/{token}").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30
    assert answers[30] == 429

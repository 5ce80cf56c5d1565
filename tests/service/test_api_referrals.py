"""Stories of the JSON API on referrals: a partner's system opens, reads, lists and moves referrals
with its organization's key, and sees exactly what the organization's pages would show it."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import request
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import extensions
from service.api.keys import create_key
from service.api.models import ApiKey
from service.app import create_app
from service.audit.models import AuditEntry
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from service.referrals.operations import record_consent
from service.web import quota
from tests.conftest import Side
from tests.conftest import sign_in
from tests.service.test_referral_pages import HER
from tests.service.test_referral_pages import PERSON
from tests.service.test_referral_pages import referral_in

PROBLEM = "application/problem+json"


class Api:
    """A client of the API holding one organization's key."""

    def __init__(self, client: FlaskClient, token: str, language: str = "fr") -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}

    def get(self, path: str, **headers: str):
        return self.client.get(f"/api/v1{path}", headers={**self.headers, **headers})

    def post(self, path: str, json: dict, **headers: str):
        return self.client.post(f"/api/v1{path}", json=json, headers={**self.headers, **headers})


def key_for(session: Session, coordinator: Actor, role: str = "caseworker") -> str:
    return create_key(session, coordinator, name="Système de dossiers", role=role).token


@pytest.fixture
def centre(client, session, network) -> Api:
    """The women's centre's records system, with a caseworker's key."""
    return Api(client, key_for(session, network.womens_centre.coordinator))


@pytest.fixture
def shelter(client, session, network) -> Api:
    return Api(client, key_for(session, network.shelter.coordinator))


@pytest.fixture
def legal_aid(client, session, network) -> Api:
    return Api(client, key_for(session, network.legal_aid.coordinator, "coordinator"))


def test_a_system_opens_a_referral_with_her_consent_and_sends_it(centre, shelter, session, network):
    response = centre.post(
        "/referrals",
        {
            "receiver_organization_id": network.shelter.organization.id,
            "need_codes": ["shelter_emergency"],
            "person": {"name": PERSON.name, "phone": PERSON.phone},
            "consent": {"method": "verbal", "shared_with": "Nom et téléphone", "purpose": "Hébergement"},
        },
    )
    assert response.status_code == 201, response.text
    created = response.get_json()
    assert response.headers["Location"] == f"/api/v1/referrals/{created['id']}"
    assert response.headers["ETag"] == f'"{created["version"]}"'
    assert created["state"] == "draft"
    assert created["consent_valid"] is True
    assert created["needs"] == ["shelter_emergency"]
    assert "send" in [a["trigger"] for a in created["actions"]]
    # Her details are in no answer but the one that reads them, and never in an address.
    assert not any(part in response.text for part in HER)
    assert (
        session.scalar(select(Consent.purpose).where(Consent.referral_id == created["id"])) == "Hébergement"
    )

    sent = centre.post(f"/referrals/{created['id']}/actions", {"trigger": "send"})
    assert sent.status_code == 200, sent.text
    assert sent.get_json()["state"] == "sent"
    seen = shelter.get(f"/referrals/{created['id']}")
    assert seen.status_code == 200
    assert seen.get_json()["side"] == "receiver"
    assert "acknowledge" in [a["trigger"] for a in seen.get_json()["actions"]]


def key_id_of(session: Session, organization_id: int) -> int:
    """The id of the one key the organization made."""
    return session.scalar(select(ApiKey.id).where(ApiKey.organization_id == organization_id))


def test_her_details_are_read_through_the_audited_operation(centre, session, network, protocols, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    response = centre.get(f"/referrals/{referral.id}/person")
    assert response.status_code == 200
    assert response.get_json()["name"] == PERSON.name
    [read] = session.scalars(
        select(AuditEntry).where(AuditEntry.referral_id == referral.id, AuditEntry.action == "person.read")
    ).all()
    # No one signed in: the entry names the key her organization's system read them with.
    assert (read.organization_id, read.user_id, read.api_key_id) == (
        network.womens_centre.organization.id,
        None,
        key_id_of(session, network.womens_centre.organization.id),
    )


def test_opening_refuses_what_does_not_exist_without_repeating_it(centre, network):
    response = centre.post(
        "/referrals",
        {"receiver_organization_id": 999_999, "need_codes": [], "person": {"name": PERSON.name}},
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["location"] == ["body", "receiver_organization_id"]
    bad = centre.post("/referrals", {"receiver_organization_id": "x", "person": {"name": PERSON.name}})
    assert bad.status_code == 422
    assert PERSON.name not in bad.text
    assert bad.get_json()["errors"][0]["location"] == ["receiver_organization_id"]


def test_another_organization_never_learns_a_referral_exists(legal_aid, session, network, protocols, clock):
    """Legal aid's key: a referral between two others answers as one that does not exist."""
    referral = referral_in("sent", session, protocols, network, clock)
    missing = legal_aid.get("/referrals/2147483000")
    for path in (
        f"/referrals/{referral.id}",
        f"/referrals/{referral.id}/events",
        f"/referrals/{referral.id}/person",
    ):
        response = legal_aid.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["type"] == missing.get_json()["type"]
    fired = legal_aid.post(
        f"/referrals/{referral.id}/actions", {"trigger": "cancel", "reason": "sent_in_error"}
    )
    assert fired.status_code == 404
    assert legal_aid.get("/referrals").get_json()["items"] == []
    assert session.get(Referral, referral.id).state == "sent"


def test_the_receiver_does_not_see_a_draft_until_it_is_sent(shelter, session, network, protocols, clock):
    draft = referral_in("draft", session, protocols, network, clock)
    assert shelter.get(f"/referrals/{draft.id}").status_code == 404
    assert shelter.get("/referrals").get_json()["items"] == []


def test_an_action_on_a_draft_answers_the_receiver_as_for_a_referral_that_does_not_exist(
    shelter, session, network, protocols, clock
):
    """The receiving organization's key learns nothing of a draft addressed to it, by acting on it
    either: whatever the trigger, the answer is the one for an id with no referral behind it."""
    draft_id = referral_in("draft", session, protocols, network, clock).id
    missing = shelter.post("/referrals/2147483000/actions", {"trigger": "send"})
    assert missing.status_code == 404
    for trigger in ("send", "acknowledge", "nope"):
        for referral_id in (draft_id, 2147483000):
            response = shelter.post(f"/referrals/{referral_id}/actions", {"trigger": trigger})
            assert (response.status_code, response.get_json()) == (404, missing.get_json()), trigger
    assert session.get(Referral, draft_id).state == "draft"


def test_a_stale_version_answers_409_with_the_current_state(
    centre, shelter, session, network, protocols, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    read = shelter.get(f"/referrals/{referral.id}")
    etag = read.headers["ETag"]
    # Meanwhile a colleague acknowledges it from the page.
    fire(session, protocols, referral.id, "acknowledge", network.shelter.caseworker, clock=clock)

    response = shelter.post(
        f"/referrals/{referral.id}/actions", {"trigger": "acknowledge"}, **{"If-Match": etag}
    )
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"] == "/api/v1/reference#problem-concurrent-update"
    assert problem["current"]["state"] == "received"
    assert problem["current"]["version"] != read.get_json()["version"]

    fresh = shelter.get(f"/referrals/{referral.id}")
    accepted = shelter.post(
        f"/referrals/{referral.id}/actions", {"trigger": "accept"}, **{"If-Match": fresh.headers["ETag"]}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.get_json()["state"] == "accepted"
    assert accepted.headers["ETag"] != fresh.headers["ETag"]


def test_an_impossible_action_answers_409_and_a_missing_reason_422(
    shelter, session, network, protocols, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    impossible = shelter.post(
        f"/referrals/{referral.id}/actions", {"trigger": "close", "reason": "service_received"}
    )
    assert impossible.status_code in (403, 409)
    assert impossible.mimetype == PROBLEM
    shelter.post(f"/referrals/{referral.id}/actions", {"trigger": "acknowledge"})
    no_reason = shelter.post(f"/referrals/{referral.id}/actions", {"trigger": "decline"})
    assert no_reason.status_code == 422
    assert no_reason.get_json()["guard"] == "reason_given"
    declined = shelter.post(
        f"/referrals/{referral.id}/actions",
        {"trigger": "decline", "reason": "no_capacity", "comment": "Complet"},
    )
    assert declined.status_code == 200, declined.text
    log = shelter.get(f"/referrals/{referral.id}/events").get_json()["items"]
    assert [e["trigger"] for e in log] == [None, "send", "acknowledge", "decline"]
    assert log[-1]["reason_code"] == "no_capacity"
    assert log[-1]["comment"] == "Complet"
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)


def test_problems_speak_french_by_default_and_english_when_asked(centre, session, network, protocols, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    fire(session, protocols, referral.id, "acknowledge", network.shelter.caseworker, clock=clock)
    stale = {"If-Match": '"1"'}
    french = centre.post(
        f"/referrals/{referral.id}/actions", {"trigger": "cancel", "reason": "sent_in_error"}, **stale
    )
    english = centre.post(
        f"/referrals/{referral.id}/actions",
        {"trigger": "cancel", "reason": "sent_in_error"},
        **stale,
        **{"Accept-Language": "en-CA,en;q=0.9"},
    )
    assert french.status_code == english.status_code == 409
    assert french.get_json()["type"] == english.get_json()["type"]
    assert french.get_json()["title"] == "Des changements ont été faits entre-temps"
    assert english.get_json()["title"] == "This changed in the meantime"
    assert french.headers["Content-Language"] == "fr"
    assert english.headers["Content-Language"] == "en"
    assert "Traceback" not in french.text


def test_errors_outside_the_domain_are_problems_too(client, centre):
    assert client.get("/api/v1/referrals").status_code == 401
    assert client.get("/api/v1/referrals").headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/api/v1/referrals", headers={"Authorization": "Bearer mlg_not-a-key"})
    assert wrong.status_code == 401
    assert wrong.mimetype == PROBLEM
    assert centre.get("/no-such-thing").status_code == 404
    assert centre.get("/no-such-thing").mimetype == PROBLEM
    method = centre.client.delete("/api/v1/referrals", headers=centre.headers)
    assert method.status_code == 405
    assert method.mimetype == PROBLEM
    assert "GET" in method.headers["Allow"]
    media = centre.client.post("/api/v1/referrals", data="x=1", headers=centre.headers)
    assert media.status_code == 415
    assert media.mimetype == PROBLEM
    assert centre.get("/referrals?limit=0").status_code == 422
    assert centre.get("/referrals?cursor=nonsense").status_code == 422
    # Pages keep their HTML error pages.
    assert client.get("/no-such-page").mimetype == "text/html"


def test_a_bare_server_error_shows_no_trace(app, centre, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("Josée Fictive-Tremblay")

    monkeypatch.setattr("service.api.protocols.protocol_library", broken)
    response = centre.get("/protocols")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    assert "Josée" not in response.text
    assert "Traceback" not in response.text
    # A reference code, also in the log, so support can find the cause.
    assert re.search(r"[0-9A-F]{8}$", response.get_json()["detail"])


def test_lists_filter_and_page_through_with_a_cursor(centre, shelter, session, network, protocols, clock):
    made = [referral_in("sent", session, protocols, network, clock).id for _ in range(5)]
    made.append(referral_in("draft", session, protocols, network, clock).id)
    declined = referral_in("declined", session, protocols, network, clock).id

    seen, cursor = [], None
    while True:
        page = centre.get("/referrals?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted([*made, declined], reverse=True)

    received = shelter.get("/referrals?role=received&limit=100").get_json()["items"]
    assert sorted(i["id"] for i in received) == sorted([*made[:5], declined])
    assert shelter.get("/referrals?role=sent").get_json()["items"] == []
    assert [i["id"] for i in centre.get("/referrals?state=declined").get_json()["items"]] == [declined]
    assert centre.get("/referrals?protocol=urgent").get_json()["items"] == []
    assert len(centre.get("/referrals?protocol=standard&state=sent").get_json()["items"]) == 5


def test_api_actions_are_logged_for_the_organization_without_a_person(
    centre, session, network, protocols, clock
):
    referral = referral_in("draft", session, protocols, network, clock, person=PERSON)
    session.add(
        Consent(
            referral_id=referral.id,
            method="verbal",
            shared_with="Nom",
            purpose="Hébergement",
            given_at=clock.now,
        )
    )
    session.commit()
    assert centre.post(f"/referrals/{referral.id}/actions", {"trigger": "send"}).status_code == 200
    event = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert event.trigger == "send"
    assert event.actor_party == "sender"
    assert event.actor_user_id is None


def test_a_caseworker_key_may_not_choose_the_protocol(centre, legal_aid, network):
    body = {"receiver_organization_id": network.shelter.organization.id, "protocol": "urgent"}
    assert centre.post("/referrals", body).status_code == 403
    chosen = legal_aid.post("/referrals", body)
    assert chosen.status_code == 201, chosen.text
    assert chosen.get_json()["protocol_name"] == "urgent"


def test_rate_limit_counts_per_key(app, session, network):
    """With the limiter on (it is off in the other tests), each key has its own allowance."""
    limited = create_app({**app.config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"})
    limited.extensions["maillage.sessions"] = lambda: session
    client = limited.test_client()
    centre = Api(client, key_for(session, network.womens_centre.coordinator))
    shelter = Api(client, key_for(session, network.shelter.coordinator))
    try:
        answers = [centre.get("/protocols").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        assert centre.get("/protocols").mimetype == PROBLEM
        assert shelter.get("/protocols").status_code == 200
    finally:
        extensions.limiter.reset()


def test_with_the_shared_count_away_each_process_still_counts(app, session, network, monkeypatch):
    """Redis down: the allowance is counted in the process (and the API keeps answering)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    monkeypatch.setattr(quota, "_counter", quota.Counter())
    config = {"RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "2 per minute", "RATELIMIT_STORAGE_URI": nowhere}
    limited = create_app({**app.config, **config})
    limited.extensions["maillage.sessions"] = lambda: session
    centre = Api(limited.test_client(), key_for(session, network.womens_centre.coordinator))

    assert [centre.get("/protocols").status_code for _ in range(3)] == [200, 200, 429]
    assert quota._counter.shared_failed_at is not None


def test_an_unknown_need_is_named_by_its_place(centre, network):
    response = centre.post(
        "/referrals",
        {
            "receiver_organization_id": network.shelter.organization.id,
            "need_codes": ["shelter_emergency", "nope"],
        },
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["location"] == ["body", "need_codes", 1]


def test_a_client_that_prefers_minimal_answers_gets_the_etag_only(
    shelter, session, network, protocols, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    done = shelter.post(
        f"/referrals/{referral.id}/actions", {"trigger": "acknowledge"}, Prefer="return=minimal"
    )
    assert done.status_code == 204
    assert done.data == b""
    assert done.headers["Preference-Applied"] == "return=minimal"
    assert done.headers["ETag"] == shelter.get(f"/referrals/{referral.id}").headers["ETag"]


def refusals(session: Session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "access.refused").order_by(AuditEntry.id)
    return list(session.scalars(query))


def test_a_key_refused_a_referral_is_audited_once_for_its_organization(
    centre, shelter, legal_aid, session, network, protocols, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    # Legal aid's key asks for a referral between two others: 404, and one entry that does not name it.
    assert legal_aid.get(f"/referrals/{referral.id}/person").status_code == 404
    [hidden] = refusals(session)
    assert (hidden.organization_id, hidden.user_id, hidden.api_key_id, hidden.referral_id) == (
        network.legal_aid.organization.id,
        None,
        key_id_of(session, network.legal_aid.organization.id),
        None,
    )
    # A caseworker's key may not choose the protocol: 403, one entry for the centre, naming its key.
    body = {"receiver_organization_id": network.shelter.organization.id, "protocol": "urgent"}
    assert centre.post("/referrals", body).status_code == 403
    [refused] = [entry for entry in refusals(session) if entry.id != hidden.id]
    assert (refused.organization_id, refused.user_id, refused.api_key_id) == (
        network.womens_centre.organization.id,
        None,
        key_id_of(session, network.womens_centre.organization.id),
    )


def test_conflicts_invalid_input_and_successes_are_not_refusals(shelter, session, network, protocols, clock):
    """A 409 says the referral moved on or this act does not fit its state: the key may act on it,
    so nothing was refused; nor is a 422 (what was sent), nor a success."""
    referral = referral_in("sent", session, protocols, network, clock)
    assert shelter.get(f"/referrals/{referral.id}").status_code == 200
    stale = shelter.post(
        f"/referrals/{referral.id}/actions", {"trigger": "acknowledge"}, **{"If-Match": '"0"'}
    )
    assert stale.status_code == 409
    assert shelter.post(f"/referrals/{referral.id}/actions", {"trigger": "nope"}).status_code == 422
    assert shelter.post(f"/referrals/{referral.id}/actions", {"trigger": "acknowledge"}).status_code == 200
    assert refusals(session) == []


def test_a_key_is_audited_as_itself_whatever_cookie_comes_with_it(
    client, legal_aid, session, network, protocols, clock
):
    """A browser signed in at another organization that also sends legal aid's key: the API acts
    for the key, so the refusal is legal aid's, once."""
    referral = referral_in("sent", session, protocols, network, clock)
    sign_in(client, network.shelter.caseworker, session)
    assert legal_aid.get(f"/referrals/{referral.id}").status_code == 404
    assert [entry.organization_id for entry in refusals(session)] == [network.legal_aid.organization.id]


def test_a_call_to_the_api_never_opens_the_browsers_session(app, client, session, network):
    """A browser sends her page session's cookie with every call: the API acts by key alone and
    does not even read it. The reference, a page, still knows who she is."""
    sign_in(client, network.shelter.caseworker, session)
    cookie = (
        f"{app.config['SESSION_COOKIE_NAME']}={client.get_cookie(app.config['SESSION_COOKIE_NAME']).value}"
    )
    for path, read in (("/api/v1/referrals", False), ("/api/v1/reference", True), ("/", True)):
        with app.test_request_context(path, headers={"Cookie": cookie}):
            opened = app.session_interface.open_session(app, request)
            assert bool(opened) is read, path  # her session names her; a null one is empty


def test_an_id_past_any_row_is_refused_after_the_key_is_checked(client, legal_aid, session, network):
    too_large = 2**31
    assert (
        client.get(f"/api/v1/referrals/{too_large}", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    assert legal_aid.get(f"/referrals/{too_large}").status_code == 404
    assert [entry.organization_id for entry in refusals(session)] == [None, network.legal_aid.organization.id]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` meanwhile."""
    sent: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def redirected(
    referral: Referral, to: Side, session, protocols, network, clock, *, send: bool = True
) -> Referral:
    """The receiver redirects `referral` to `to`; the centre sends the linked draft with her consent."""
    receiver = next(
        side.caseworker
        for side in (network.shelter, network.legal_aid)
        if side.organization.id == referral.receiver_organization_id
    )
    if referral.state == "sent":
        fire(session, protocols, referral.id, "acknowledge", receiver, clock=clock)
    fire(
        session,
        protocols,
        referral.id,
        "redirect",
        receiver,
        reason="better_fit",
        target_organization_id=to.organization.id,
        clock=clock,
    )
    linked = session.scalars(select(Referral).where(Referral.redirected_from_id == referral.id)).one()
    if not send:
        return linked
    centre = network.womens_centre.caseworker
    record_consent(session, linked.id, centre, method="verbal", shared_with="Nom", purpose="Hébergement")
    return fire(session, protocols, linked.id, "send", centre, clock=clock)


def test_a_page_of_the_list_costs_the_same_queries_whatever_its_size(
    centre, shelter, engine, session, network, protocols, clock
):
    for _ in range(18):
        referral_in("sent", session, protocols, network, clock)
    original = referral_in("received", session, protocols, network, clock)
    redirected(original, network.legal_aid, session, protocols, network, clock)
    referral_in("accepted", session, protocols, network, clock, urgent=True)
    centre.get("/referrals?limit=1")  # the key's first use, and anything a process reads once

    for api in (centre, shelter):
        cost = {}
        for size in (3, 20):
            session.expunge_all()
            with statements(engine) as sent:
                page = api.get(f"/referrals?limit={size}")
            assert len(page.get_json()["items"]) == size
            cost[size] = len([sql for sql in sent if "api_keys" not in sql])  # the key: once a second
        assert cost[3] == cost[20], cost


def test_each_listed_referral_is_what_reading_it_alone_gives(
    centre, shelter, legal_aid, session, network, protocols, clock
):
    """Redirected referrals in the mix: each organization sees only the links to referrals it may see."""
    referral_in("declined", session, protocols, network, clock)
    referral_in("draft", session, protocols, network, clock)
    referral_in("accepted", session, protocols, network, clock, urgent=True)
    to_shelter = referral_in("received", session, protocols, network, clock)
    to_legal_aid = redirected(to_shelter, network.legal_aid, session, protocols, network, clock)
    back_to_shelter = redirected(to_legal_aid, network.shelter, session, protocols, network, clock)
    referral_in("sent", session, protocols, network, clock)
    left = referral_in("received", session, protocols, network, clock)
    draft = redirected(left, network.legal_aid, session, protocols, network, clock, send=False)

    listed = {}
    for name, api in (("centre", centre), ("shelter", shelter), ("legal aid", legal_aid)):
        items = api.get("/referrals?limit=100").get_json()["items"]
        for item in items:
            alone = api.get(f"/referrals/{item['id']}")
            assert alone.status_code == 200
            assert item == alone.get_json(), (name, item["id"])
        listed[name] = {item["id"]: item for item in items}

    links = {
        name: {
            i: (listed[name][i]["redirected_from_id"], listed[name][i]["redirected_to"])
            for i in (to_shelter.id, to_legal_aid.id, back_to_shelter.id, left.id, draft.id)
            if i in listed[name]
        }
        for name in listed
    }
    assert links["centre"] == {
        to_shelter.id: (None, [to_legal_aid.id]),
        to_legal_aid.id: (to_shelter.id, [back_to_shelter.id]),
        back_to_shelter.id: (to_legal_aid.id, []),
        left.id: (None, [draft.id]),
        draft.id: (left.id, []),
    }
    # The shelter received the first and the last, and never learns of the one between;
    # legal aid learns of none of the shelter's, and of the draft only once it is sent.
    assert links["shelter"] == {
        to_shelter.id: (None, []),
        back_to_shelter.id: (None, []),
        left.id: (None, []),
    }
    assert links["legal aid"] == {to_legal_aid.id: (None, [])}
    assert len(listed["centre"]) == 9
    assert listed["shelter"][back_to_shelter.id]["side"] == "receiver"


def test_the_event_log_says_where_she_was_redirected(centre, shelter, session, network, protocols, clock):
    referral = referral_in("received", session, protocols, network, clock)
    redirected(referral, network.legal_aid, session, protocols, network, clock)
    for api in (centre, shelter):
        *_, last = api.get(f"/referrals/{referral.id}/events").get_json()["items"]
        assert (last["trigger"], last["from_state"], last["to_state"]) == (
            "redirect",
            "received",
            "redirected",
        )
        assert (last["reason_code"], last["target_organization_id"]) == (
            "better_fit",
            network.legal_aid.organization.id,
        )

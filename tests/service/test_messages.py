"""The two organizations of a referral write to each other on it, in its log, under her consent."""

from __future__ import annotations

import json
from html import unescape

import pytest
from sqlalchemy import select

from service.errors import ConsentRequired
from service.errors import NotAllowed
from service.errors import ReferralNotFound
from service.links.operations import issue_link
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.referrals.messages import MESSAGE_KIND
from service.referrals.messages import messages_for
from service.referrals.messages import write_message
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import withdraw_consent
from service.referrals.person_rights import as_json
from service.referrals.person_rights import person_file
from service.referrals.read_markers import unread_counts
from service.referrals.retention import erase_personal_data
from tests.conftest import sign_in
from tests.service.test_api_referrals import PROBLEM
from tests.service.test_api_referrals import Api
from tests.service.test_api_referrals import key_for

NAME = "Personne Fictive 14"
WORDS = "Elle ne peut être appelée qu'après 15 h, apporter sa carte"


def draft(session, protocols, network, clock) -> Referral:
    sender = network.womens_centre.caseworker
    referral = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        need_codes=["shelter_emergency"],
        person=PersonDetails(name=NAME),
        clock=clock,
    )
    record_consent(
        session,
        referral.id,
        sender,
        method="verbal",
        shared_with="La maison",
        purpose="hébergement",
        clock=clock,
    )
    return referral


@pytest.fixture
def referral(session, protocols, network, clock) -> Referral:
    """A referral the women's centre has sent to the shelter, with her consent."""
    opened = draft(session, protocols, network, clock)
    return fire(session, protocols, opened.id, "send", network.womens_centre.caseworker, clock=clock)


def notices(session, referral) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.referral_id == referral.id, OutboxMessage.template == "new_message"
    )
    return list(session.scalars(query.order_by(OutboxMessage.id)))


# Writing and reading ----------------------------------------------------------------


def test_both_parties_write_and_read_in_the_log_and_the_state_stays(session, network, referral, clock):
    state, seq = referral.state, referral.last_seq
    write_message(
        session,
        referral.id,
        network.womens_centre.caseworker,
        "  Est-elle toujours en attente?  ",
        clock=clock,
    )
    write_message(session, referral.id, network.shelter.coordinator, WORDS, clock=clock)

    events = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral.id, ReferralEvent.seq > seq)
    ).all()
    assert [(e.kind, e.actor_party, e.from_state, e.to_state) for e in events] == [
        (MESSAGE_KIND, "sender", state, state),
        (MESSAGE_KIND, "receiver", state, state),
    ]
    session.refresh(referral)
    assert referral.state == state
    for reader in (network.womens_centre.caseworker, network.shelter.caseworker):
        read = messages_for(session, referral.id, reader, now=clock.now)
        assert [(m.party, m.text) for m in read] == [
            ("sender", "Est-elle toujours en attente?"),
            ("receiver", WORDS),
        ]
    assert read[1].user_name == f"coordinator {network.shelter.organization.name}"


def test_a_third_organization_neither_reads_nor_writes(session, network, referral, clock, client):
    number = referral.id  # the requests close the test's session
    write_message(session, number, network.womens_centre.caseworker, WORDS, clock=clock)
    with pytest.raises(ReferralNotFound):
        messages_for(session, number, network.legal_aid.coordinator, now=clock.now)
    with pytest.raises(ReferralNotFound):
        write_message(session, number, network.legal_aid.coordinator, "Bonjour", clock=clock)
    sign_in(client, network.legal_aid.caseworker, session)
    response = client.post(f"/referrals/{number}/messages", data={"message-text": "Bonjour"})
    assert response.status_code == 404
    assert WORDS not in response.text


def test_no_message_on_a_draft_the_receiver_never_saw(session, protocols, network, clock):
    unsent = draft(session, protocols, network, clock)
    with pytest.raises(NotAllowed):
        write_message(session, unsent.id, network.womens_centre.caseworker, WORDS, clock=clock)
    with pytest.raises(ReferralNotFound):
        write_message(session, unsent.id, network.shelter.caseworker, WORDS, clock=clock)


def test_the_pages_write_and_show_the_message_in_the_timeline(app, session, network, referral):
    number = referral.id  # the requests close the test's session
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    response = sender.post(f"/referrals/{number}/messages", data={"message-text": WORDS})
    assert response.status_code == 303

    receiver = sign_in(app.test_client(), network.shelter.caseworker, session)
    page = receiver.get(f"/referrals/{number}").text
    assert "Message" in page
    assert WORDS.replace("'", "&#39;") in page
    assert "Écrire à l\u2019autre organisme" in page


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Bonjour\x00", "caractères de contrôle"),
        ("x" * 2001, "2000"),
        ("   ", "Écrivez le message"),
    ],
)
def test_a_bad_message_is_refused_in_french(app, session, network, referral, text, error):
    number = referral.id  # the requests close the test's session
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    response = sender.post(
        f"/referrals/{number}/messages", data={"message-text": text}, follow_redirects=True
    )
    assert error in response.text
    assert not session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == number, ReferralEvent.kind == MESSAGE_KIND)
    ).all()


def test_a_refused_message_keeps_what_she_typed_beside_the_reason(app, session, network, referral):
    number = referral.id  # the requests close the test's session
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    typed = "Elle préfère être appelée après 15 h. " * 60  # over the limit

    response = sender.post(f"/referrals/{number}/messages", data={"message-text": typed})

    assert response.status_code == 200
    page = unescape(response.text)
    assert "2000" in page
    assert typed.strip() in page, "her text is still in the form"


def test_the_partner_writes_through_her_signed_link(app, session, network, referral, clock):
    number = referral.id  # the requests close the test's session
    write_message(session, number, network.womens_centre.caseworker, WORDS, clock=clock)
    token = issue_link(session, number, network.shelter.organization.id, clock=clock)
    client = app.test_client()

    opened = client.get(f"/link/{token}")
    assert opened.status_code == 200
    assert WORDS.replace("'", "&#39;") not in opened.text  # a GET shows nothing of her, her messages included
    assert 'name="message-text"' in opened.text
    answer = "Nous l'appellerons demain après 15 h"
    written = client.post(f"/link/{token}/messages", data={"message-text": answer})
    assert written.status_code == 303
    assert token not in (written.headers["Location"].split("/link/")[0])

    [mine] = [
        m
        for m in messages_for(session, number, network.womens_centre.caseworker, now=clock.now)
        if m.party == "receiver"
    ]
    assert (mine.text, mine.user_name) == (answer, None)
    shown = client.post(f"/link/{token}/person").text
    assert WORDS.replace("'", "&#39;") in shown


# Her consent, the retention purge, her file -------------------------------------------


def test_after_her_withdrawal_the_receiver_no_longer_reads_them(app, session, network, referral, clock):
    number = referral.id  # the requests close the test's session
    write_message(session, number, network.womens_centre.caseworker, WORDS, clock=clock)
    clock.advance(minutes=5)
    withdraw_consent(session, number, network.womens_centre.caseworker, clock=clock)

    [hidden] = messages_for(session, number, network.shelter.caseworker, now=clock.now)
    assert hidden.text is None
    [kept] = messages_for(session, number, network.womens_centre.caseworker, now=clock.now)
    assert kept.text == WORDS
    receiver = sign_in(app.test_client(), network.shelter.caseworker, session)
    page = receiver.get(f"/referrals/{number}").text
    assert WORDS.replace("'", "&#39;") not in page
    assert "ce message n\u2019est pas affiché" in page
    with pytest.raises(ConsentRequired):
        write_message(session, number, network.shelter.caseworker, "Encore là?", clock=clock)


def test_the_retention_purge_erases_them(session, network, referral, clock):
    write_message(session, referral.id, network.shelter.caseworker, WORDS, clock=clock)
    erase_personal_data(session, referral.id)
    session.commit()
    [message] = messages_for(session, referral.id, network.womens_centre.caseworker, now=clock.now)
    assert message.text is None
    assert message.at is not None  # that a message was written stays, as the log's other lines


def test_her_portability_export_includes_them(session, protocols, network, referral, clock):
    write_message(session, referral.id, network.shelter.caseworker, WORDS, clock=clock)
    file = person_file(
        session, protocols, network.womens_centre.coordinator, [referral.id], export=True, clock=clock
    )
    [record] = as_json(file)["referrals"]
    assert WORDS in [event["comment"] for event in record["events"] if event["kind"] == MESSAGE_KIND]
    assert WORDS in json.dumps(as_json(file), ensure_ascii=False)


# Telling the other side ---------------------------------------------------------------


def test_the_other_side_gets_one_email_a_day_without_the_content(
    session, protocols, network, referral, clock
):
    network.shelter.organization.referral_email = "accueil@phare.example.org"
    session.commit()
    for _ in range(3):
        write_message(session, referral.id, network.womens_centre.caseworker, WORDS, clock=clock)
        clock.advance(minutes=10)
    [notice] = notices(session, referral)
    assert (notice.recipient_party, notice.recipient_organization_id) == (
        "receiver",
        network.shelter.organization.id,
    )

    [email] = compose(session, protocols, notice, base_url="https://maillage.example.org", now=clock.now)
    assert email.subject == f"Nouveau message sur le référencement nº {referral.id}"
    for text in (email.subject, email.text, email.html):
        assert WORDS not in text
        assert NAME not in text

    # The day's others wait for the next morning's digest (tests/service/test_message_digest.py).
    clock.advance(hours=1)
    write_message(session, referral.id, network.womens_centre.caseworker, "Et maintenant?", clock=clock)
    assert len(notices(session, referral)) == 1
    clock.advance(days=1)
    write_message(session, referral.id, network.womens_centre.caseworker, "Et demain?", clock=clock)
    assert len(notices(session, referral)) == 2


def test_an_answer_tells_the_sender_and_a_marked_one_her_coordinators_too(session, network, referral, clock):
    write_message(session, referral.id, network.shelter.caseworker, WORDS, for_coordinator=True, clock=clock)
    assert [(n.recipient_party, n.recipient_organization_id) for n in notices(session, referral)] == [
        ("sender", network.womens_centre.organization.id),
        ("sender_coordinator", network.womens_centre.organization.id),
    ]
    [message] = messages_for(session, referral.id, network.womens_centre.caseworker, now=clock.now)
    assert message.for_coordinator


# Unread messages ----------------------------------------------------------------------


def test_unread_messages_are_counted_per_organization_until_its_page_is_opened(
    app, session, network, referral, clock
):
    number = referral.id  # the requests close the test's session
    shelter, centre = network.shelter.organization.id, network.womens_centre.organization.id
    for text in ("Est-elle toujours en attente?", WORDS):
        write_message(session, number, network.womens_centre.caseworker, text, clock=clock)
    assert unread_counts(session, shelter) == {number: 2}
    assert unread_counts(session, shelter, [number]) == {number: 2}
    assert unread_counts(session, centre) == {}  # its own messages wait on nobody there
    assert unread_counts(session, network.legal_aid.organization.id) == {}

    receiver = sign_in(app.test_client(), network.shelter.coordinator, session)
    assert "2 messages non lus" in receiver.get("/").text
    assert "2 messages non lus" in receiver.get("/referrals/received").text
    receiver.get(f"/referrals/{number}")  # read for the whole shelter
    assert unread_counts(session, shelter) == {}
    assert "non lu" not in receiver.get("/referrals/received").text
    colleague = sign_in(app.test_client(), network.shelter.caseworker, session)
    assert "non lu" not in colleague.get("/referrals/received").text

    write_message(session, number, network.shelter.caseworker, "Elle arrive demain", clock=clock)
    assert unread_counts(session, centre) == {number: 1}
    assert unread_counts(session, shelter) == {}
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    assert "1 message non lu" in sender.get("/").text


def test_the_page_checkbox_marks_a_message_for_the_coordinators(app, session, network, referral):
    number = referral.id  # the requests close the test's session
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    page = sender.get(f"/referrals/{number}").text
    assert "Signaler à la coordination de l\u2019autre organisme" in page
    sender.post(f"/referrals/{number}/messages", data={"message-text": WORDS, "message-for_coordinator": "y"})
    parties = [n.recipient_party for n in notices(session, session.get(Referral, number))]
    assert parties == ["receiver", "receiver_coordinator"]
    receiver = sign_in(app.test_client(), network.shelter.coordinator, session)
    assert "Message pour la coordination" in receiver.get(f"/referrals/{number}").text


# The API ------------------------------------------------------------------------------


@pytest.fixture
def apis(client, session, network) -> tuple[Api, Api, Api]:
    """The centre's, the shelter's and legal aid's records systems, each with a key."""
    return tuple(
        Api(client, key_for(session, side.coordinator))
        for side in (network.womens_centre, network.shelter, network.legal_aid)
    )


def test_the_api_lists_and_posts_messages(apis, session, network, referral, clock):
    number = referral.id
    centre, shelter, legal_aid = apis
    posted = centre.post(f"/referrals/{number}/messages", {"text": WORDS, "for_coordinator": True})
    assert posted.status_code == 201, posted.text
    assert posted.json["party"] == "sender"
    assert posted.json["text"] == WORDS
    assert posted.json["for_coordinator"] is True

    answered = shelter.post(f"/referrals/{number}/messages", {"text": "Reçu, merci"})
    assert answered.status_code == 201, answered.text
    listed = shelter.get(f"/referrals/{number}/messages")
    assert listed.status_code == 200
    assert [(m["party"], m["text"]) for m in listed.json["items"]] == [
        ("sender", WORDS),
        ("receiver", "Reçu, merci"),
    ]

    assert legal_aid.get(f"/referrals/{number}/messages").status_code == 404
    assert legal_aid.post(f"/referrals/{number}/messages", {"text": "Bonjour"}).status_code == 404


@pytest.mark.parametrize(
    "sent",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "x" * 2001},
        {"text": "a\x00b"},
        {"text": "ok", "extra": 1},
        {"text": "ok", "for_coordinator": "yes"},
        {},
    ],
)
def test_the_api_refuses_a_bad_message(apis, referral, sent):
    centre, _shelter, _legal_aid = apis
    response = centre.post(f"/referrals/{referral.id}/messages", sent)
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == PROBLEM


def test_the_api_hides_the_text_from_the_receiver_after_her_withdrawal(
    apis, session, network, referral, clock
):
    number = referral.id
    centre, shelter, _legal_aid = apis
    assert centre.post(f"/referrals/{number}/messages", {"text": WORDS}).status_code == 201
    withdraw_consent(session, number, network.womens_centre.caseworker, clock=clock)

    [message] = shelter.get(f"/referrals/{number}/messages").json["items"]
    assert message["text"] is None
    events = shelter.get(f"/referrals/{number}/events").json["items"]
    assert [e["comment"] for e in events if e["kind"] == MESSAGE_KIND] == [None]
    assert WORDS in [e["comment"] for e in centre.get(f"/referrals/{number}/events").json["items"]]
    refused = shelter.post(f"/referrals/{number}/messages", {"text": "Encore là?"})
    assert refused.status_code == 409


def test_the_openapi_document_describes_the_messages(client):
    spec = client.get("/api/v1/openapi.json").json
    operations = spec["paths"]["/api/v1/referrals/{referral_id}/messages"]
    assert set(operations) == {"get", "post"}
    assert "201" in operations["post"]["responses"]
    schema = spec["components"]["schemas"]["MessageIn"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["text"]["maxLength"] == 2000

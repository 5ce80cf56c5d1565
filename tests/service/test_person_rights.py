"""Her rights: she withdraws her consent, and the receiver is told to stop; she asks what is held
about her, gets it as a page and a file (hers, nobody else's), has it corrected or erased."""

from __future__ import annotations

import json
import re
import string
import sys
from dataclasses import replace

import pytest
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.errors import ConsentRequired
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ReferralNotFound
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.referrals.consent_expiry import silenced
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import read_person
from service.referrals.operations import record_consent
from service.referrals.operations import withdraw_consent
from service.referrals.person_rights import _FOLD_STABLE
from service.referrals.person_rights import StillOpen
from service.referrals.person_rights import _name_pattern
from service.referrals.person_rights import as_json
from service.referrals.person_rights import correct_person
from service.referrals.person_rights import erase_person
from service.referrals.person_rights import find_person
from service.referrals.person_rights import person_file
from tests.service.test_referral_pages import PERSON
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in

OTHER = PersonDetails(
    name="Martine Fictive-Gagnon",
    phone="514-555-0177",
    email="martine.fictive@example.org",
    safety_constraints="Ne jamais appeler le soir",
    notes="Note fictive sur Martine",
)


def actions_on(session, referral_id: int) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.referral_id == referral_id)))


def outbox(session, referral_id: int) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.referral_id == referral_id).order_by(OutboxMessage.id)
    return list(session.scalars(query))


# Withdrawal of her consent ----------------------------------------------------------------


def test_withdrawal_tells_the_receiver_to_stop_and_silences_the_rest(session, protocols, network, clock):
    referral = referral_in("received", session, protocols, network, clock)
    before = len(outbox(session, referral.id))
    clock.advance(hours=1)
    withdraw_consent(session, referral.id, network.womens_centre.caseworker, clock=clock)

    consents = session.scalars(select(Consent).where(Consent.referral_id == referral.id)).all()
    assert [c.withdrawn_at for c in consents] == [clock.now]
    last = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert (last.kind, last.actor_user_id) == ("withdrawal", network.womens_centre.caseworker.user_id)
    assert "consent.withdrawn" in actions_on(session, referral.id)
    notice = outbox(session, referral.id)[before:]
    assert [(m.template, m.recipient_party, m.recipient_organization_id) for m in notice] == [
        ("consent_withdrawn", "receiver", network.shelter.organization.id)
    ]
    # The notice goes; whatever else comes about the referral does not.
    assert silenced(session, notice[0], clock.now) is None
    fire(session, protocols, referral.id, "accept", network.shelter.caseworker, clock=clock)
    accepted = outbox(session, referral.id)[-1]
    assert accepted.template == "referral_accepted"
    assert silenced(session, accepted, clock.now) == "consent_withdrawn"
    # And the receiver no longer sees her details.
    assert read_person(session, referral.id, network.shelter.caseworker, clock=clock) is None


def test_after_her_withdrawal_the_receiver_cannot_pass_her_on(app, session, protocols, network, clock):
    """A redirect hands her over to a third organization, with her details: her withdrawn consent ends it."""
    referral_id = referral_in("received", session, protocols, network, clock).id
    withdraw_consent(session, referral_id, network.womens_centre.caseworker, clock=clock)
    legal_aid_id = network.legal_aid.organization.id
    with pytest.raises(ConsentRequired):
        fire(
            session,
            protocols,
            referral_id,
            "redirect",
            network.shelter.caseworker,
            reason="better_fit",
            target_organization_id=legal_aid_id,
            clock=clock,
        )
    receiver = signed_in(app, network.shelter.caseworker, session)
    version = session.get(Referral, referral_id).version
    refused = receiver.post(
        f"/referrals/{referral_id}/actions",
        data={
            "trigger": "redirect",
            "redirect-version": version,
            "redirect-reason": "better_fit",
            "redirect-target_organization": str(legal_aid_id),
        },
    )
    assert "this referral cannot be passed on to another organization" in refused.text
    assert session.scalars(select(Referral).where(Referral.redirected_from_id == referral_id)).all() == []
    assert session.get(Referral, referral_id).state == "received"
    # What is left to the receiver is to close the loop.
    shelter = network.shelter.caseworker
    fire(session, protocols, referral_id, "decline", shelter, reason="no_capacity", clock=clock)


def test_the_notice_says_stop_and_carries_nothing_of_her(session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    withdraw_consent(session, referral.id, network.womens_centre.caseworker, clock=clock)
    notice = outbox(session, referral.id)[-1]
    emails = compose(session, protocols, notice, base_url="https://maillage.example.org", now=clock.now)
    assert emails
    for email in emails:
        assert "withdrawn her consent" in email.text or "retiré son consentement" in email.text
        for text in (email.subject, email.text, email.html):
            for secret in (PERSON.name, PERSON.phone, PERSON.email, PERSON.notes):
                assert secret not in text


def test_withdrawal_from_a_draft_tells_nobody(session, protocols, network, clock):
    referral = referral_in("draft", session, protocols, network, clock)
    caseworker = network.womens_centre.caseworker
    record_consent(
        session, referral.id, caseworker, method="verbal", shared_with="Nom", purpose="Hébergement"
    )
    withdraw_consent(session, referral.id, network.womens_centre.caseworker, clock=clock)
    assert outbox(session, referral.id) == []
    assert not session.get(Referral, referral.id).has_valid_consent(clock.now)


def test_only_her_sending_organization_withdraws_and_only_a_valid_consent(session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    with pytest.raises(NotAllowed):
        withdraw_consent(session, referral.id, network.shelter.coordinator, clock=clock)
    with pytest.raises(ReferralNotFound):
        withdraw_consent(session, referral.id, network.legal_aid.coordinator, clock=clock)
    withdraw_consent(session, referral.id, network.womens_centre.coordinator, clock=clock)
    with pytest.raises(InvalidTransition):
        withdraw_consent(session, referral.id, network.womens_centre.coordinator, clock=clock)


def test_withdrawal_from_the_referral_page(app, session, protocols, network, clock):
    referral = referral_in("received", session, protocols, network, clock)
    sender = signed_in(app, network.womens_centre.caseworker, session)
    page = sender.get(f"/referrals/{referral.id}").text
    assert "She withdrew her consent" in page
    receiver = signed_in(app, network.shelter.caseworker, session)
    assert "She withdrew her consent" not in receiver.get(f"/referrals/{referral.id}").text
    version = session.get(Referral, referral.id).version
    url = f"/referrals/{referral.id}/consent/withdraw"
    assert receiver.post(url, data={"version": version}).status_code == 403
    response = sender.post(url, data={"version": version})
    assert response.status_code == 303
    page = sender.get(response.headers["Location"]).text
    assert "is told to stop using her information" in page
    assert "Her consent withdrawn" in page
    assert PERSON.name not in receiver.get(f"/referrals/{referral.id}").text
    # A second press, from the old page, changes nothing more.
    assert sender.post(url, data={"version": version}).status_code == 303
    assert [m.template for m in outbox(session, referral.id)].count("consent_withdrawn") == 1


# Finding her, her file ---------------------------------------------------------------------


@pytest.fixture
def two_women(session, protocols, network, clock) -> tuple[Referral, Referral]:
    """Two women referred by the same organization: Josée (in progress) and Martine (closed)."""
    josee = referral_in("in_progress", session, protocols, network, clock)
    martine = referral_in("closed", session, protocols, network, clock, person=OTHER)
    return josee, martine


def test_her_coordinator_finds_her_by_name_or_number(session, protocols, network, clock, two_women):
    josee, martine = two_women
    coordinator = network.womens_centre.coordinator
    found = find_person(session, protocols, coordinator, name="  josée FICTIVE ", clock=clock)
    assert [m.referral_id for m in found] == [josee.id]
    assert [m.referral_id for m in find_person(session, protocols, coordinator, number=martine.id)] == [
        martine.id
    ]
    assert find_person(session, protocols, coordinator, number=martine.id, name="Josée") == []
    assert "person.searched" in actions_on(session, josee.id)
    # The receiving organization, and a bystander, find nothing of the sender's.
    for other in (network.shelter.coordinator, network.legal_aid.coordinator):
        assert find_person(session, protocols, other, name="Fictive") == []
    with pytest.raises(NotAllowed):
        find_person(session, protocols, network.womens_centre.caseworker, name="Josée")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Anna Straße-Fictive", "STRASSE"),  # "ß" folds to "ss"
        ("İPEK Fictive", "İpek"),  # "İ" folds to "i" and a dot
        ("ÉLODIE Fictive", "élodie"),  # SQLite's LIKE folds ASCII letters only
        ("Marie-Ève   Fictive", "marie-ève fictive"),
        ("Nadia\u00a0Fictive", "NADIA FICTIVE"),  # a no-break space is a space
    ],
)
def test_her_name_is_found_however_it_folds(session, protocols, network, clock, stored, typed):
    """SQL narrows the search before Python's case folding decides: it must never lose her."""
    referral = referral_in("sent", session, protocols, network, clock, person=replace(OTHER, name=stored))
    referral_in("sent", session, protocols, network, clock)  # Josée, whom no search here finds
    found = find_person(session, protocols, network.womens_centre.coordinator, name=typed, clock=clock)
    assert [m.referral_id for m in found] == [referral.id]


def test_sql_looks_only_for_letters_no_other_character_folds_to():
    folded_into = {c for code in range(128, sys.maxunicode + 1) for c in chr(code).casefold() if c.isascii()}
    assert set(_FOLD_STABLE) == set(string.ascii_lowercase + string.digits) - folded_into
    assert _name_pattern("josée fictive") == "%o%e%c%ve%"
    assert _name_pattern("100% _x") == "%100%x%"  # LIKE's own wildcards are not searched for
    assert _name_pattern("ß ﬁ") is None


def test_her_file_holds_her_data_and_nobody_elses(session, protocols, network, clock, two_women):
    josee, martine = two_women
    file = person_file(
        session, protocols, network.womens_centre.coordinator, [josee.id], export=True, clock=clock
    )
    document = json.dumps(as_json(file), ensure_ascii=False)
    for mine in (PERSON.name, PERSON.phone, PERSON.email, PERSON.safety_constraints, PERSON.notes):
        assert mine in document
    for theirs in (OTHER.name, OTHER.phone, OTHER.email, OTHER.safety_constraints, OTHER.notes):
        assert theirs not in document
    [record] = as_json(file)["referrals"]
    assert record["number"] == josee.id
    assert record["consents"][0]["purpose"] == "Hébergement"
    assert [e["trigger"] for e in record["events"] if e["kind"] == "transition"] == [
        "send",
        "acknowledge",
        "accept",
        "record_first_contact",
    ]
    assert actions_on(session, josee.id).count("person.exported") == 1
    assert "person.exported" not in actions_on(session, martine.id)
    with pytest.raises(ReferralNotFound):
        person_file(session, protocols, network.shelter.coordinator, [josee.id], clock=clock)


def test_the_export_page_gives_her_file_after_confirming_who_you_are(app, session, network, clock, two_women):
    josee, _ = two_women
    client = signed_in(app, network.womens_centre.coordinator, session)
    response = client.get(f"/people/file.json?referral={josee.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f'attachment; filename="maillage-{josee.id}.json"'
    body = response.get_json()
    assert body["referrals"][0]["person"]["name"] == PERSON.name
    assert OTHER.name not in response.text
    clock.advance(minutes=30)
    stale = client.get(f"/people/file.json?referral={josee.id}")
    assert stale.status_code == 303
    assert stale.headers["Location"].startswith("/account/confirm")


def test_search_and_file_pages(app, session, network, clock, two_women):
    josee, _ = two_women
    client = signed_in(app, network.womens_centre.coordinator, session)
    response = client.post("/people", data={"name": "josée"})
    assert response.status_code == 200
    assert f'value="{josee.id}"' in response.text
    assert OTHER.name not in response.text
    page = client.get(f"/people/file?referral={josee.id}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert PERSON.phone in page.text
    assert PERSON.name in page.text
    assert OTHER.name not in page.text
    assert "person.read" in actions_on(session, josee.id)
    # Another organization's coordinator: not found; a caseworker: not her role.
    other = signed_in(app, network.shelter.coordinator, session)
    assert other.get(f"/people/file?referral={josee.id}").status_code == 404
    assert other.get(f"/people/erase?referral={josee.id}").status_code == 404
    assert other.get(f"/people/file.json?referral={josee.id}").status_code == 404
    caseworker = signed_in(app, network.womens_centre.caseworker, session)
    assert caseworker.get("/people").status_code == 403
    assert caseworker.get(f"/people/file?referral={josee.id}").status_code == 403


def test_her_file_tells_what_happened_in_the_timelines_words(app, session, network, clock, two_women):
    josee, _ = two_women
    client = signed_in(app, network.womens_centre.coordinator, session)
    said = re.compile(r"<strong>\s*(.*?)\s*</strong>", re.DOTALL)
    timeline = client.get(f"/referrals/{josee.id}").text.split('id="timeline-title"')[1]
    log = client.get(f"/people/file?referral={josee.id}").text.split(">Event log<")[1]
    told = said.findall(log)
    assert told == said.findall(timeline)
    assert told[:3] == ["Opened as a draft", "Sent", "Receipt acknowledged"]
    for code in ("record_first_contact", "in_progress", "→"):
        assert code not in log
    assert "(State: In progress)" in log


def test_her_organization_privacy_officer_answers_her_access_request(app, session, network, clock, two_women):
    """The person in charge of personal information finds her, reads and exports her file, audited
    in her own name; correcting and erasing stay with the coordinator."""
    josee, _ = two_women
    officer = make_user(session, network.womens_centre.organization.id, Role.PRIVACY_OFFICER, clock)
    client = signed_in(app, officer, session)
    found = client.post("/people", data={"name": "josée"})
    assert found.status_code == 200
    assert f'value="{josee.id}"' in found.text
    page = client.get(f"/people/file?referral={josee.id}")
    assert page.status_code == 200
    assert PERSON.phone in page.text
    assert OTHER.name not in page.text
    assert "/people/erase" not in page.text
    assert f"/people/referrals/{josee.id}/correct" not in page.text
    export = client.get(f"/people/file.json?referral={josee.id}")
    assert export.status_code == 200
    assert export.get_json()["referrals"][0]["person"]["name"] == PERSON.name
    hers = select(AuditEntry.action).where(
        AuditEntry.referral_id == josee.id, AuditEntry.user_id == officer.user_id
    )
    assert list(session.scalars(hers.order_by(AuditEntry.id))) == [
        "person.searched",
        "person.read",
        "person.exported",
    ]
    assert client.get(f"/people/erase?referral={josee.id}").status_code == 403
    assert client.get(f"/people/referrals/{josee.id}/correct").status_code == 403
    # Another organization's privacy officer finds nothing of the women's centre's.
    stranger = signed_in(
        app, make_user(session, network.shelter.organization.id, Role.PRIVACY_OFFICER, clock), session
    )
    searched = stranger.post("/people", data={"name": "josée"})
    assert searched.status_code == 200
    assert f'value="{josee.id}"' not in searched.text
    assert PERSON.name not in searched.text
    assert stranger.get(f"/people/file?referral={josee.id}").status_code == 404
    assert stranger.get(f"/people/file.json?referral={josee.id}").status_code == 404


# Correction and erasure ----------------------------------------------------------------------


def test_her_details_are_corrected_in_the_log(session, protocols, network, clock, two_women):
    josee, _ = two_women
    corrected = replace(PERSON, phone="450-555-0100")
    correct_person(session, josee.id, network.womens_centre.coordinator, corrected, clock=clock)
    assert session.get(ReferralPerson, josee.id).phone == "450-555-0100"
    kinds = session.scalars(select(ReferralEvent.kind).where(ReferralEvent.referral_id == josee.id)).all()
    assert "corrected" in kinds
    assert "person.corrected" in actions_on(session, josee.id)
    with pytest.raises(ReferralNotFound):
        correct_person(session, josee.id, network.shelter.coordinator, corrected, clock=clock)


def test_the_correction_page(app, session, network, clock, two_women):
    josee, _ = two_women
    client = signed_in(app, network.womens_centre.coordinator, session)
    form = client.get(f"/people/referrals/{josee.id}/correct")
    assert form.status_code == 200
    assert PERSON.phone in form.text
    data = {**PERSON.__dict__, "phone": "450-555-0111", "version": session.get(Referral, josee.id).version}
    response = client.post(f"/people/referrals/{josee.id}/correct", data=data)
    assert response.status_code == 303
    session.expire_all()
    assert session.get(ReferralPerson, josee.id).phone == "450-555-0111"
    assert PERSON.name not in response.headers["Location"]


def test_erasure_keeps_the_anonymized_record(session, protocols, network, clock, two_women):
    josee, martine = two_women
    coordinator = network.womens_centre.coordinator
    closing = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == martine.id, ReferralEvent.trigger == "close")
    ).one()
    closing.comment = "Martine a trouvé une place ailleurs"
    session.commit()
    with pytest.raises(StillOpen):
        erase_person(session, protocols, coordinator, [josee.id, martine.id], clock=clock)
    assert session.get(ReferralPerson, martine.id) is not None
    assert erase_person(session, protocols, coordinator, [martine.id], clock=clock) == [martine.id]

    session.expire_all()
    assert session.get(ReferralPerson, martine.id) is None
    consent = session.scalars(select(Consent).where(Consent.referral_id == martine.id)).one()
    assert (consent.shared_with, consent.purpose) == ("", "")
    referral = session.get(Referral, martine.id)
    assert referral.state == "closed"
    assert [n.code for n in referral.needs] == ["shelter_emergency"]
    events = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == martine.id).order_by(ReferralEvent.seq)
    ).all()
    assert all(e.comment is None for e in events)
    assert events[-1].kind == "erased"
    assert "person.erased" in actions_on(session, martine.id)
    # Josée's data is untouched; another organization erases nothing of this one's.
    assert session.get(ReferralPerson, josee.id).name == PERSON.name
    with pytest.raises(ReferralNotFound):
        erase_person(session, protocols, network.shelter.coordinator, [martine.id], clock=clock)


def test_the_erasure_page_asks_to_confirm(app, session, network, clock, two_women):
    _, martine = two_women
    client = signed_in(app, network.womens_centre.coordinator, session)
    url = f"/people/erase?referral={martine.id}"
    assert client.get(url).status_code == 200
    refused = client.post(url, data={})
    assert refused.status_code == 200
    assert "Tick the box to confirm the erasure." in refused.text
    assert session.get(ReferralPerson, martine.id) is not None
    assert client.post(url, data={"confirm": "y"}).status_code == 303
    session.expire_all()
    assert session.get(ReferralPerson, martine.id) is None
    clock.advance(minutes=30)
    assert client.post(url, data={"confirm": "y"}).headers["Location"].startswith("/account/confirm")

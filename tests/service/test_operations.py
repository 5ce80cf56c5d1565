"""Stories of one referral moved through the domain operations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from service.accounts.models import Role
from service.accounts.models import User
from service.audit.models import AuditEntry
from service.directory.models import Partnership
from service.directory.models import ReferralAgreement
from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.errors import ParameterError
from service.errors import ReferralNotFound
from service.notifications.models import OutboxMessage
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import PersonDetails
from service.referrals.operations import due_referral_ids
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import read_person
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from service.referrals.operations import update_draft
from workflows.loader import ProtocolLibrary
from workflows.loader import load_library

TUESDAY_3PM = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def linked_referral_ids(session, referral_id: int) -> list[int]:
    """The referrals opened by redirecting this one, oldest first."""
    query = select(Referral.id).where(Referral.redirected_from_id == referral_id).order_by(Referral.id)
    return list(session.scalars(query))


def events(session: Session, referral: Referral) -> list[ReferralEvent]:
    query = select(ReferralEvent).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.seq)
    return list(session.scalars(query))


def outbox(session: Session, referral: Referral) -> list[tuple[str, str]]:
    query = select(OutboxMessage).where(OutboxMessage.referral_id == referral.id).order_by(OutboxMessage.id)
    return [(m.template, m.recipient_party) for m in session.scalars(query)]


@pytest.fixture
def draft(session, protocols, network, clock) -> Referral:
    return open_referral(
        session,
        protocols,
        network.womens_centre.caseworker,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        need_codes=["shelter_emergency", "safety_plan"],
        person=PersonDetails(name="Prénom Fictif", phone="450-555-0000", safety_constraints="Pas de message"),
        clock=clock,
    )


@pytest.fixture
def sent(session, protocols, network, clock, draft) -> Referral:
    sender = network.womens_centre.caseworker
    record_consent(session, draft.id, sender, method="verbal", shared_with="Maison", purpose="hébergement")
    return fire(session, protocols, draft.id, "send", sender, clock=clock)


def test_a_caseworker_opens_a_draft_under_the_newest_protocol_version(session, draft, clock):
    assert (draft.state, draft.protocol_name, draft.protocol_version) == ("draft", "standard", 1)
    assert {need.code for need in draft.needs} == {"shelter_emergency", "safety_plan"}
    assert draft.parameters["receipt_deadline"] == "2 business days"
    assert draft.due_at == TUESDAY_3PM  # the draft reminder, two business days on
    [opened] = events(session, draft)
    assert (opened.kind, opened.from_state, opened.to_state, opened.actor_party) == (
        "opened",
        None,
        "draft",
        "sender",
    )


def test_sending_without_consent_is_refused_and_changes_nothing(session, protocols, network, draft, clock):
    with pytest.raises(ConsentRequired):
        fire(session, protocols, draft.id, "send", network.womens_centre.caseworker, clock=clock)
    session.expire_all()
    assert session.get(Referral, draft.id).state == "draft"
    assert len(events(session, draft)) == 1
    assert outbox(session, draft) == []


def test_consent_that_has_expired_or_was_withdrawn_does_not_count(session, protocols, network, draft, clock):
    sender = network.womens_centre.caseworker
    consent = record_consent(
        session, draft.id, sender, method="written", shared_with="Maison", purpose="hébergement", clock=clock
    )
    consent.withdrawn_at = clock.now
    session.commit()
    with pytest.raises(ConsentRequired):
        fire(session, protocols, draft.id, "send", sender, clock=clock)


def test_sending_logs_notifies_the_receiver_and_starts_the_receipt_deadline(session, sent, clock):
    assert sent.state == "sent"
    assert sent.due_at == TUESDAY_3PM
    last = events(session, sent)[-1]
    assert (last.trigger, last.from_state, last.to_state, last.at) == ("send", "draft", "sent", clock.now)
    assert outbox(session, sent) == [("referral_sent", "receiver")]
    [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.referral_id == sent.id))
    assert message.recipient_organization_id == sent.receiver_organization_id
    assert message.dedupe_key == f"referral:{sent.id}:2:referral_sent:receiver"


def test_the_receiver_acknowledges_and_the_sender_is_told(session, protocols, network, sent, clock):
    clock.advance(hours=3)
    referral = fire(session, protocols, sent.id, "acknowledge", network.shelter.caseworker, clock=clock)
    assert referral.state == "received"
    assert referral.state_entered_at == clock.now
    assert outbox(session, referral)[-1] == ("referral_received", "sender")
    assert events(session, referral)[-1].actor_user_id == network.shelter.caseworker.user_id


def test_the_sender_cannot_do_the_receivers_part(session, protocols, network, sent, clock):
    with pytest.raises(NotAllowed):
        fire(session, protocols, sent.id, "acknowledge", network.womens_centre.caseworker, clock=clock)
    session.expire_all()
    assert session.get(Referral, sent.id).state == "sent"


def test_an_organization_outside_the_referral_cannot_even_see_it(session, protocols, network, sent, clock):
    for outsider in (network.legal_aid.caseworker, network.legal_aid.coordinator):
        with pytest.raises(ReferralNotFound):
            fire(session, protocols, sent.id, "acknowledge", outsider, clock=clock)
    with pytest.raises(ReferralNotFound):
        fire(session, protocols, 10**9, "acknowledge", network.shelter.caseworker, clock=clock)


def test_a_trigger_from_the_wrong_state_is_refused(session, protocols, network, sent, clock):
    with pytest.raises(InvalidTransition):
        fire(session, protocols, sent.id, "accept", network.shelter.caseworker, clock=clock)


def test_a_stale_version_is_a_concurrent_update(session, protocols, network, sent, clock):
    stale = sent.version
    fire(session, protocols, sent.id, "acknowledge", network.shelter.caseworker, clock=clock)
    with pytest.raises(ConcurrentUpdate):
        fire(
            session,
            protocols,
            sent.id,
            "accept",
            network.shelter.caseworker,
            expected_version=stale,
            clock=clock,
        )


def test_declining_needs_a_coded_reason_and_other_needs_a_comment(session, protocols, network, sent, clock):
    receiver = network.shelter.caseworker
    fire(session, protocols, sent.id, "acknowledge", receiver, clock=clock)
    with pytest.raises(GuardFailed) as no_reason:
        fire(session, protocols, sent.id, "decline", receiver, clock=clock)
    assert no_reason.value.guard == "reason_given"
    with pytest.raises(GuardFailed) as no_comment:
        fire(session, protocols, sent.id, "decline", receiver, reason="other", clock=clock)
    assert no_comment.value.guard == "comment_given"
    referral = fire(session, protocols, sent.id, "decline", receiver, reason="no_capacity", clock=clock)
    assert referral.state == "declined"
    assert referral.due_at is None
    assert events(session, referral)[-1].reason_code == "no_capacity"


def test_only_the_sending_side_may_cancel_and_the_receiver_is_told(session, protocols, network, sent, clock):
    with pytest.raises(NotAllowed):
        fire(session, protocols, sent.id, "cancel", network.shelter.coordinator, reason="other", clock=clock)
    referral = fire(
        session,
        protocols,
        sent.id,
        "cancel",
        network.womens_centre.coordinator,
        reason="consent_withdrawn",
        clock=clock,
    )
    assert referral.state == "cancelled"
    assert events(session, referral)[-1].actor_party == "sender"
    assert outbox(session, referral)[-1] == ("referral_cancelled", "receiver")


def test_a_referral_goes_all_the_way_and_its_log_replays_to_its_state(
    session, protocols, network, sent, clock
):
    receiver, sender = network.shelter.caseworker, network.womens_centre.caseworker
    for trigger, actor, extra in [
        ("acknowledge", receiver, {}),
        ("accept", receiver, {}),
        ("record_first_contact", receiver, {}),
        ("record_follow_up", sender, {"comment": "Elle a une place."}),
        ("close", sender, {"reason": "service_received"}),
    ]:
        clock.advance(hours=5)
        referral = fire(session, protocols, sent.id, trigger, actor, clock=clock, **extra)
    assert referral.state == "closed"
    log = events(session, referral)
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    state = None
    for event in log:
        assert event.from_state == state
        state = event.to_state
    assert state == referral.state


def test_deadline_steps_fire_once_each_as_the_system(session, protocols, network, sent, clock):
    assert not run_due_deadline(session, protocols, sent.id, clock=clock)
    clock.now = TUESDAY_3PM
    assert sent.id in due_referral_ids(session, clock.now)
    assert run_due_deadline(session, protocols, sent.id, clock=clock)
    assert not run_due_deadline(session, protocols, sent.id, clock=clock)  # once only
    reminder = events(session, sent)[-1]
    assert (reminder.kind, reminder.actor_party, reminder.to_state) == ("reminder", "system", "sent")
    assert sent.due_at == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # four business days after sending
    clock.now = sent.due_at
    assert run_due_deadline(session, protocols, sent.id, clock=clock)
    assert outbox(session, sent) == [
        ("referral_sent", "receiver"),
        ("deadline_reminder", "receiver"),
        ("deadline_escalation", "receiver_coordinator"),
        ("deadline_overdue_notice", "sender"),
    ]
    assert sent.due_at is None
    assert sent.id not in due_referral_ids(session, clock.advance(days=30))


def test_acting_restarts_the_deadline_of_the_new_state(session, protocols, network, sent, clock):
    clock.now = TUESDAY_3PM
    run_due_deadline(session, protocols, sent.id, clock=clock)
    referral = fire(session, protocols, sent.id, "acknowledge", network.shelter.caseworker, clock=clock)
    assert referral.deadline_step == 0
    assert referral.due_at == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # decision within 5 business days


def test_agreement_parameters_set_the_deadlines_within_bounds(session, protocols, network, clock):
    sender = network.womens_centre.caseworker
    receiver_id = network.shelter.organization.id
    referral = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=receiver_id,
        protocol_name="standard",
        parameters={"receipt_deadline": "1 business day"},
        clock=clock,
    )
    record_consent(session, referral.id, sender, method="verbal", shared_with="Maison", purpose="hébergement")
    referral = fire(session, protocols, referral.id, "send", sender, clock=clock)
    assert referral.due_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday
    before = session.scalar(select(func.count()).select_from(Referral))
    with pytest.raises(ParameterError):
        open_referral(
            session,
            protocols,
            sender,
            receiver_organization_id=receiver_id,
            protocol_name="standard",
            parameters={"receipt_deadline": "9 business days"},
            clock=clock,
        )
    assert session.scalar(select(func.count()).select_from(Referral)) == before


def test_a_referral_keeps_the_protocol_version_it_started_under(
    session, protocols, network, sent, clock, tmp_path: Path, protocols_folder: Path
):
    # Version 2 of the standard protocol gives the receiver a single business day.
    for path in protocols_folder.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    v1 = (protocols_folder / "standard.v1.yaml").read_text(encoding="utf-8")
    v2 = v1.replace("version: 1", "version: 2").replace(
        "default: 2 business days\n    min: 1 business day\n    max: 5 business days",
        "default: 1 business day\n    min: 1 business day\n    max: 5 business days",
    )
    assert v2 != v1
    (tmp_path / "standard.v2.yaml").write_text(v2, encoding="utf-8")
    newer: ProtocolLibrary = load_library(tmp_path)
    assert newer.get("standard").version == 2

    referral = fire(session, newer, sent.id, "acknowledge", network.shelter.caseworker, clock=clock)
    assert (referral.protocol_version, referral.state) == (1, "received")
    sender = network.womens_centre.caseworker
    fresh = open_referral(
        session,
        newer,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="standard",
        clock=clock,
    )
    assert (fresh.protocol_version, fresh.parameters["receipt_deadline"]) == (2, "1 business day")


def test_nobody_refers_to_their_own_organization(session, protocols, network, clock):
    with pytest.raises(NotAllowed):
        open_referral(
            session,
            protocols,
            network.shelter.caseworker,
            receiver_organization_id=network.shelter.organization.id,
            protocol_name="standard",
            clock=clock,
        )


def test_personal_data_is_never_loaded_by_accident(session, draft):
    session.expire_all()
    referral = session.get(Referral, draft.id)
    with pytest.raises(InvalidRequestError):
        _ = referral.person


def test_the_system_is_refused_what_a_person_must_do(session, protocols, sent, clock):
    with pytest.raises(NotAllowed):
        fire(session, protocols, sent.id, "acknowledge", Actor.system(), clock=clock)


# Drafts, her details, redirects ------------------------------------------------------


def audit_entries(session: Session, referral_id: int) -> list[tuple[str, int | None]]:
    query = select(AuditEntry).where(AuditEntry.referral_id == referral_id).order_by(AuditEntry.id)
    return [(entry.action, entry.user_id) for entry in session.scalars(query)]


def test_a_referral_records_the_agreement_it_follows(session, protocols, network, clock):
    centre, shelter = network.womens_centre, network.shelter
    low, high = sorted((centre.organization.id, shelter.organization.id))
    partnership = Partnership(first_organization_id=low, second_organization_id=high, created_at=clock.now)
    session.add(partnership)
    session.flush()
    agreement = ReferralAgreement(
        partnership_id=partnership.id,
        version=1,
        protocol_name="standard",
        effective_on=clock.now.date(),
        proposed_by_organization_id=centre.organization.id,
        proposed_at=clock.now,
        confirmed_at=clock.now,
    )
    session.add(agreement)
    session.commit()
    referral = open_referral(
        session,
        protocols,
        centre.caseworker,
        receiver_organization_id=shelter.organization.id,
        protocol_name="standard",
        agreement_id=agreement.id,
        clock=clock,
    )
    assert referral.agreement_id == agreement.id


def test_a_partner_contact_does_not_open_referrals(session, protocols, network, clock):
    user = User(
        email="contact@fictive.example.org",
        name="Répondante fictive",
        organization_id=network.womens_centre.organization.id,
        role=Role.PARTNER_CONTACT,
        created_at=clock.now,
    )
    session.add(user)
    session.commit()
    contact = Actor(user_id=user.id, organization_id=user.organization_id, role=Role.PARTNER_CONTACT)
    with pytest.raises(NotAllowed):
        open_referral(
            session,
            protocols,
            contact,
            receiver_organization_id=network.shelter.organization.id,
            protocol_name="standard",
            clock=clock,
        )


def test_the_sender_changes_her_draft_and_the_change_is_logged(session, protocols, network, draft, clock):
    sender = network.womens_centre.caseworker
    clock.advance(hours=1)
    referral = update_draft(
        session,
        protocols,
        draft.id,
        sender,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="urgent",
        need_codes=["safety_plan"],
        urgent=True,
        person=PersonDetails(name="Autre prénom", email="fictive@example.org"),
        expected_version=draft.version,
        clock=clock,
    )
    assert (referral.protocol_name, referral.urgent, referral.state) == ("urgent", True, "draft")
    assert [need.code for need in referral.needs] == ["safety_plan"]
    assert referral.parameters["receipt_deadline"] == "4 hours"
    assert referral.due_at == draft.state_entered_at + timedelta(hours=1)  # the urgent draft reminder
    person = session.get(ReferralPerson, draft.id)
    assert (person.name, person.phone, person.email) == ("Autre prénom", "", "fictive@example.org")
    edited = events(session, referral)[-1]
    assert (edited.kind, edited.from_state, edited.to_state, edited.actor_user_id) == (
        "edited",
        "draft",
        "draft",
        sender.user_id,
    )


def test_only_the_sending_side_changes_a_draft_and_only_while_it_is_one(
    session, protocols, network, draft, clock
):
    arguments = {
        "receiver_organization_id": network.shelter.organization.id,
        "protocol_name": "standard",
        "clock": clock,
    }
    sender = network.womens_centre.caseworker
    # The shelter, to which the draft is addressed, does not see it before it is sent: as for legal aid.
    with pytest.raises(ReferralNotFound):
        update_draft(session, protocols, draft.id, network.shelter.caseworker, **arguments)
    with pytest.raises(ReferralNotFound):
        update_draft(session, protocols, draft.id, network.legal_aid.coordinator, **arguments)
    with pytest.raises(ConcurrentUpdate):
        update_draft(session, protocols, draft.id, sender, expected_version=0, **arguments)
    assert [e.kind for e in events(session, draft)] == ["opened"]
    record_consent(session, draft.id, sender, method="verbal", shared_with="Maison", purpose="hébergement")
    fire(session, protocols, draft.id, "send", sender, clock=clock)
    with pytest.raises(InvalidTransition):
        update_draft(session, protocols, draft.id, sender, **arguments)
    assert [e.kind for e in events(session, draft)] == ["opened", "transition"]


def test_another_receiver_needs_another_consent(session, protocols, network, draft, clock):
    sender = network.womens_centre.caseworker
    record_consent(session, draft.id, sender, method="verbal", shared_with="Maison", purpose="hébergement")
    update_draft(
        session,
        protocols,
        draft.id,
        sender,
        receiver_organization_id=network.legal_aid.organization.id,
        protocol_name="standard",
        clock=clock,
    )
    with pytest.raises(ConsentRequired):
        fire(session, protocols, draft.id, "send", sender, clock=clock)


def test_reading_her_details_is_audited_and_refused_to_those_who_may_not(
    session, protocols, network, draft, clock
):
    sender = network.womens_centre.caseworker
    details = read_person(session, draft.id, sender, clock=clock)
    assert details.name == "Prénom Fictif"
    assert audit_entries(session, draft.id) == [("person.read", sender.user_id)]
    # The receiver does not see a draft; an outsider, the regional admin and the system never see her.
    region = Actor(user_id=None, organization_id=None, role=Role.REGIONAL_ADMIN)
    for stranger in (network.shelter.caseworker, network.legal_aid.coordinator, region, Actor.system()):
        with pytest.raises(ReferralNotFound):
            read_person(session, draft.id, stranger, clock=clock)
    assert len(audit_entries(session, draft.id)) == 1


def test_the_receiver_reads_her_details_only_under_a_valid_consent(session, protocols, network, sent, clock):
    receiver = network.shelter.caseworker
    assert read_person(session, sent.id, receiver, clock=clock).safety_constraints == "Pas de message"
    for consent in sent.consents:
        consent.withdrawn_at = clock.now
    session.commit()
    assert read_person(session, sent.id, receiver, clock=clock) is None
    assert audit_entries(session, sent.id) == [("person.read", receiver.user_id)]
    # Her own organization keeps them.
    assert read_person(session, sent.id, network.womens_centre.caseworker, clock=clock) is not None


def test_redirecting_opens_a_linked_draft_for_the_sender_in_the_same_commit(
    session, protocols, network, sent, clock
):
    receiver = network.shelter.caseworker
    fire(session, protocols, sent.id, "acknowledge", receiver, clock=clock)
    clock.advance(hours=2)
    referral = fire(
        session,
        protocols,
        sent.id,
        "redirect",
        receiver,
        reason="better_fit",
        target_organization_id=network.legal_aid.organization.id,
        clock=clock,
    )
    assert referral.state == "redirected"
    [linked_id] = linked_referral_ids(session, sent.id)
    linked = session.get(Referral, linked_id)
    assert (linked.state, linked.protocol_name, linked.protocol_version) == ("draft", "standard", 1)
    assert (linked.sender_organization_id, linked.receiver_organization_id) == (
        network.womens_centre.organization.id,
        network.legal_aid.organization.id,
    )
    assert (linked.created_by_id, linked.redirected_from_id) == (sent.created_by_id, sent.id)
    assert {need.code for need in linked.needs} == {"shelter_emergency", "safety_plan"}
    assert linked.consents == []  # consent names its recipient: hers must be asked anew
    assert linked.due_at is not None  # the draft reminder tells the sender to act
    copied = session.get(ReferralPerson, linked.id)
    assert (copied.name, copied.safety_constraints) == ("Prénom Fictif", "Pas de message")
    [opened] = events(session, linked)
    assert (opened.kind, opened.to_state, opened.actor_party, opened.at) == (
        "opened",
        "draft",
        "system",
        clock.now,
    )
    assert f"n° {sent.id}" in opened.comment
    assert ("person.copied", receiver.user_id) in audit_entries(session, sent.id)


def test_a_refused_redirect_opens_nothing(session, protocols, network, sent, clock):
    receiver = network.shelter.caseworker
    fire(session, protocols, sent.id, "acknowledge", receiver, clock=clock)
    for target in (None, network.womens_centre.organization.id, network.shelter.organization.id, 10**9):
        with pytest.raises(GuardFailed):
            fire(
                session,
                protocols,
                sent.id,
                "redirect",
                receiver,
                reason="better_fit",
                target_organization_id=target,
                clock=clock,
            )
    session.expire_all()
    assert session.get(Referral, sent.id).state == "received"
    assert linked_referral_ids(session, sent.id) == []


def test_a_decline_keeps_the_suggested_resource_and_opens_nothing(session, protocols, network, sent, clock):
    receiver = network.shelter.caseworker
    fire(session, protocols, sent.id, "acknowledge", receiver, clock=clock)
    referral = fire(
        session,
        protocols,
        sent.id,
        "decline",
        receiver,
        reason="no_capacity",
        target_organization_id=network.legal_aid.organization.id,
        clock=clock,
    )
    assert referral.state == "declined"
    assert events(session, referral)[-1].target_organization_id == network.legal_aid.organization.id
    assert linked_referral_ids(session, sent.id) == []

"""The periodic jobs, run as the worker runs them but in the test's session, with a moved clock:
each acts once per period, however often it runs."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.directory.operations import PartnershipTerms
from service.directory.operations import add_partnership_note
from service.directory.operations import create_partnership
from service.directory.reviews import queue_review_reminders
from service.notifications.digest import queue_digests
from service.notifications.emails import compose_summary
from service.notifications.models import OutboxMessage
from service.notifications.outbox import claim_due
from service.notifications.outbox import lock_pending
from service.notifications.outbox import lock_pending_batch
from service.referrals.consent_expiry import remind_lapsed_consents
from service.referrals.consent_expiry import silenced
from service.referrals.emergency import MinimumDetails
from service.referrals.emergency import send_in_emergency
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import withdraw_consent
from service.referrals.retention import purge_closed

HER = PersonDetails(name="Fictive Marie-Ève", phone="514-555-0123", notes="Fictive: call after 5 pm")


def sent_referral(session, protocols, network, clock, *, expires_in: timedelta | None = None, to=None) -> int:
    """The women's centre's caseworker refers a woman to the shelter (or `to`), with her consent."""
    sender = network.womens_centre.caseworker
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=(to or network.shelter).organization.id,
        protocol_name="standard",
        person=HER,
        clock=clock,
    )
    record_consent(
        session,
        draft.id,
        sender,
        method="verbal",
        shared_with="Maison Fictive du Phare",
        purpose="hébergement",
        expires_at=clock.now + expires_in if expires_in else None,
        clock=clock,
    )
    fire(session, protocols, draft.id, "send", sender, clock=clock)
    return draft.id


def messages(session, template: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    return list(session.scalars(query))


def audited(session, action: str, referral_id: int) -> int:
    query = select(func.count()).where(AuditEntry.action == action, AuditEntry.referral_id == referral_id)
    return session.scalar(query)


# Consent expiry ---------------------------------------------------------------------------


def test_a_lapsed_consent_asks_the_sender_once_and_is_in_the_audit_trail(session, protocols, network, clock):
    referral_id = sent_referral(session, protocols, network, clock, expires_in=timedelta(days=30))

    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    clock.advance(days=31)
    assert remind_lapsed_consents(session, protocols, clock=clock) == 1
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    clock.advance(hours=20)
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0

    [asked] = messages(session, "consent_lapsed")
    assert (asked.referral_id, asked.recipient_party) == (referral_id, "sender")
    assert asked.recipient_organization_id == network.womens_centre.organization.id
    assert audited(session, "consent.lapsed", referral_id) == 1


def test_a_renewed_consent_that_lapses_again_asks_again(session, protocols, network, clock):
    referral_id = sent_referral(session, protocols, network, clock, expires_in=timedelta(days=30))
    clock.advance(days=31)
    remind_lapsed_consents(session, protocols, clock=clock)
    record_consent(
        session,
        referral_id,
        network.womens_centre.caseworker,
        method="verbal",
        shared_with="Maison",
        purpose="hébergement",
        expires_at=clock.now + timedelta(days=10),
        clock=clock,
    )
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    clock.advance(days=11)
    assert remind_lapsed_consents(session, protocols, clock=clock) == 1
    assert len(messages(session, "consent_lapsed")) == 2


def test_a_withdrawn_consent_silences_the_referrals_messages_and_asks_nothing(
    session, protocols, network, clock
):
    referral_id = sent_referral(session, protocols, network, clock)
    [received] = messages(session, "referral_sent")
    assert silenced(session, received, clock.now) is None

    withdraw_consent(session, referral_id, network.womens_centre.caseworker, clock=clock)
    clock.advance(minutes=1)
    assert silenced(session, received, clock.now) == "consent_withdrawn"
    [notice] = messages(session, "consent_withdrawn")
    assert silenced(session, notice, clock.now) is None

    # The notice to the shelter is the only message after a withdrawal: her caseworker is not asked.
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    assert messages(session, "consent_lapsed") == []


def test_ending_the_referral_does_not_end_the_silence(session, protocols, network, clock):
    withdrawn = sent_referral(session, protocols, network, clock)
    expired = sent_referral(session, protocols, network, clock, expires_in=timedelta(days=30))
    withdraw_consent(session, withdrawn, network.womens_centre.caseworker, clock=clock)
    clock.advance(days=31)
    for referral_id in (withdrawn, expired):
        fire(
            session,
            protocols,
            referral_id,
            "cancel",
            network.womens_centre.caseworker,
            reason="consent_withdrawn",
            clock=clock,
        )

    reasons = {
        m.referral_id: silenced(session, m, clock.now) for m in messages(session, "referral_cancelled")
    }
    assert reasons == {withdrawn: "consent_withdrawn", expired: "consent_expired"}


def test_she_withdrew_then_consented_again_and_that_consent_expired(session, protocols, network, clock):
    referral_id = sent_referral(session, protocols, network, clock)
    withdraw_consent(session, referral_id, network.womens_centre.caseworker, clock=clock)
    clock.advance(days=1)
    record_consent(
        session,
        referral_id,
        network.womens_centre.caseworker,
        method="verbal",
        shared_with="Maison",
        purpose="hébergement",
        expires_at=clock.now + timedelta(days=10),
        clock=clock,
    )
    clock.advance(days=11)
    # The consent that ended last says why: an expiry, so her caseworker is asked to renew it.
    assert remind_lapsed_consents(session, protocols, clock=clock) == 1
    [asked] = messages(session, "consent_lapsed")
    assert silenced(session, asked, clock.now) is None
    [received] = messages(session, "referral_sent")
    assert silenced(session, received, clock.now) == "consent_expired"


def test_a_referral_sent_under_the_emergency_exception_has_no_consent_to_lapse(
    session, protocols, network, clock
):
    referral = send_in_emergency(
        session,
        protocols,
        network.womens_centre.coordinator,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name="urgent",
        need_codes=[],
        details=MinimumDetails(name="Alias Fictif Colibri"),
        reason="Menaces fictives ce soir; impossible de la joindre pour son consentement",
        clock=clock,
    )
    clock.advance(days=400)

    for message in messages(session, "referral_sent"):
        assert silenced(session, message, clock.now) is None
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0
    queue_digests(session, protocols, clock=clock)
    assert digests(session)[network.shelter.caseworker.user_id]["overdue"] == [referral.id]


def test_the_outbox_cancels_a_silenced_message_instead_of_handing_it_out(session, protocols, network, clock):
    # The outbox reads the real clock: this referral was sent, and its consent lapsed, in the past.
    clock.advance(days=-400)
    referral_id = sent_referral(session, protocols, network, clock, expires_in=timedelta(days=1))
    clock.advance(days=2)
    ids = [m.id for m in messages(session, "referral_sent")]
    assert claim_due(session, now=clock.now, lease=timedelta(minutes=2)) != []
    for message_id in ids:
        assert lock_pending(session, message_id) is None
    session.expire_all()
    for message in messages(session, "referral_sent"):
        assert (message.status, message.last_error) == ("cancelled", "consent_expired")
    assert session.get(Referral, referral_id) is not None


def test_a_closed_referral_or_a_draft_is_not_asked_about(session, protocols, network, clock):
    referral_id = sent_referral(session, protocols, network, clock, expires_in=timedelta(days=30))
    fire(
        session,
        protocols,
        referral_id,
        "cancel",
        network.womens_centre.caseworker,
        reason="need_resolved",
        clock=clock,
    )
    clock.advance(days=31)
    assert remind_lapsed_consents(session, protocols, clock=clock) == 0


# Retention ----------------------------------------------------------------------------------


def closed_referral(session, protocols, network, clock) -> int:
    referral_id = sent_referral(session, protocols, network, clock)
    fire(
        session,
        protocols,
        referral_id,
        "cancel",
        network.womens_centre.caseworker,
        reason="other",
        comment="Fictive: she moved in with her sister",
        clock=clock,
    )
    return referral_id


def test_her_data_is_erased_a_year_after_closing_once_and_the_record_stays(
    session, protocols, network, clock
):
    referral_id = closed_referral(session, protocols, network, clock)
    closed_state = session.get(Referral, referral_id).state

    clock.advance(days=364)
    assert purge_closed(session, protocols, months=12, clock=clock) == 0
    assert session.get(ReferralPerson, referral_id) is not None

    clock.advance(days=2)
    assert purge_closed(session, protocols, months=12, clock=clock) == 1
    assert purge_closed(session, protocols, months=12, clock=clock) == 0
    session.expire_all()

    assert session.get(ReferralPerson, referral_id) is None
    consent = session.scalars(select(Consent).where(Consent.referral_id == referral_id)).one()
    assert (consent.shared_with, consent.purpose, consent.method) == ("", "", "verbal")
    events = session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)).all()
    assert [e.comment for e in events] == [None] * len(events)
    assert [e.reason_code for e in events if e.reason_code] == ["other"]
    assert session.get(Referral, referral_id).state == closed_state
    assert audited(session, "person.purged", referral_id) == 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.purged")).one()
    assert (entry.user_id, entry.organization_id) == (None, None)


def test_a_referral_still_open_keeps_her_data_and_the_period_is_configurable(
    session, protocols, network, clock
):
    open_id = sent_referral(session, protocols, network, clock)
    closed_id = closed_referral(session, protocols, network, clock)
    clock.advance(days=100)
    assert purge_closed(session, protocols, months=6, clock=clock) == 0
    assert purge_closed(session, protocols, months=3, clock=clock) == 1
    assert session.get(ReferralPerson, open_id) is not None
    assert session.get(ReferralPerson, closed_id) is None


# Daily digest -------------------------------------------------------------------------------


def digests(session) -> dict[int, dict]:
    return {m.payload["user_id"]: m.payload for m in messages(session, "daily_digest")}


def test_the_digest_goes_once_a_day_to_those_a_referral_waits_on(session, protocols, network, clock):
    # Friday 27 November 2026, 10:00 in Montréal.
    referral_id = sent_referral(session, protocols, network, clock)
    draft = open_referral(
        session,
        protocols,
        network.womens_centre.caseworker,
        receiver_organization_id=network.legal_aid.organization.id,
        protocol_name="standard",
        person=HER,
        clock=clock,
    )

    assert queue_digests(session, protocols, clock=clock) == 4
    assert queue_digests(session, protocols, clock=clock) == 0
    clock.advance(hours=12)  # 22:00, the same day in Montréal
    assert queue_digests(session, protocols, clock=clock) == 0

    sent_to = digests(session)
    # The shelter's people for the referral it received, the centre's for its draft;
    # legal aid never saw the draft, and the shelter's caseworker hears of nothing else.
    assert sent_to[network.shelter.caseworker.user_id]["waiting"] == [referral_id]
    assert sent_to[network.shelter.coordinator.user_id]["waiting"] == [referral_id]
    assert sent_to[network.womens_centre.caseworker.user_id]["waiting"] == [draft.id]
    assert sent_to[network.womens_centre.coordinator.user_id]["waiting"] == [draft.id]
    assert set(sent_to) == {
        network.shelter.caseworker.user_id,
        network.shelter.coordinator.user_id,
        network.womens_centre.caseworker.user_id,
        network.womens_centre.coordinator.user_id,
    }


def test_the_next_morning_brings_the_next_digest_with_what_is_now_overdue(session, protocols, network, clock):
    referral_id = sent_referral(session, protocols, network, clock)
    queue_digests(session, protocols, clock=clock)
    clock.advance(days=4, hours=20)  # Wednesday 2 December, 6:00 in Montréal: too early
    assert queue_digests(session, protocols, clock=clock) == 0
    clock.advance(hours=1)
    assert queue_digests(session, protocols, clock=clock) == 2
    newest = messages(session, "daily_digest")[-1].payload
    assert (newest["overdue"], newest["waiting"]) == ([referral_id], [])


def test_a_referral_whose_consent_was_withdrawn_is_in_no_digest(session, protocols, network, clock):
    kept = sent_referral(session, protocols, network, clock)
    withdrawn = sent_referral(session, protocols, network, clock)
    withdraw_consent(session, withdrawn, network.womens_centre.caseworker, clock=clock)

    # Wednesday 2 December, 8:00 in Montréal: both are overdue, and the shelter hears of one.
    clock.advance(days=4, hours=22)
    assert queue_digests(session, protocols, clock=clock) == 2
    for payload in digests(session).values():
        assert (payload["overdue"], payload["waiting"]) == ([kept], [])


def test_a_digest_queued_before_her_withdrawal_goes_without_her_referral(session, protocols, network, clock):
    kept = sent_referral(session, protocols, network, clock)
    withdrawn = sent_referral(session, protocols, network, clock)
    only = sent_referral(session, protocols, network, clock, to=network.legal_aid)
    assert queue_digests(session, protocols, clock=clock) == 4
    queued = messages(session, "daily_digest")

    # She withdraws both her consents before the outbox sends the morning's digests.
    for referral_id in (withdrawn, only):
        withdraw_consent(session, referral_id, network.womens_centre.caseworker, clock=clock)
    clock.advance(minutes=1)
    sendable = lock_pending_batch(session, [m.id for m in queued], now=clock.now)
    session.commit()

    shelter = network.shelter.organization.id
    assert {m.recipient_organization_id for m in sendable} == {shelter}
    for message in sendable:
        assert (message.payload["overdue"], message.payload["waiting"]) == ([], [kept])
    session.expire_all()
    emptied = [m for m in messages(session, "daily_digest") if m.recipient_organization_id != shelter]
    assert [(m.status, m.last_error) for m in emptied] == [("cancelled", "consent_withdrawn")] * 2
    for message in messages(session, "daily_digest"):
        assert withdrawn not in message.payload["waiting"]


def test_nothing_waiting_no_digest_and_it_says_nothing_about_her(session, protocols, network, clock):
    assert queue_digests(session, protocols, clock=clock) == 0
    sent_referral(session, protocols, network, clock)
    queue_digests(session, protocols, clock=clock)
    for message in messages(session, "daily_digest"):
        for email in compose_summary(session, message, base_url="https://maillage.example.org"):
            everything = email.subject + email.text + email.html
            assert "/referrals/" in everything
            for value in (HER.name, HER.phone, HER.notes, "Maison Fictive du Phare"):
                assert value not in everything


# Partnership reviews ------------------------------------------------------------------------


def partnership(session, network, clock, *, kinds=("referral_protocol",), started_on=None):
    terms = PartnershipTerms(kinds=tuple(kinds), started_on=started_on, review_every_months=12)
    return create_partnership(
        session,
        network.womens_centre.coordinator,
        network.womens_centre.organization.id,
        network.shelter.organization.id,
        terms,
        clock=clock,
    )


def test_a_review_falls_due_a_year_after_the_start_and_both_coordinators_are_reminded_once(
    session, protocols, network, clock
):
    today = clock.now
    clock.now = today - timedelta(days=360)
    tie = partnership(session, network, clock, started_on=date(2025, 11, 2))
    first = sent_referral(session, protocols, network, clock)
    clock.advance(hours=5)
    fire(session, protocols, first, "acknowledge", network.shelter.caseworker, clock=clock)
    fire(session, protocols, first, "accept", network.shelter.caseworker, clock=clock)
    clock.advance(days=2)
    second = sent_referral(session, protocols, network, clock)
    clock.advance(hours=3)
    fire(session, protocols, second, "acknowledge", network.shelter.caseworker, clock=clock)
    fire(session, protocols, second, "decline", network.shelter.caseworker, reason="no_capacity", clock=clock)
    clock.now = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    assert queue_review_reminders(session, clock=clock) == 0

    clock.now = today  # 27 November 2026: due since 2 November
    assert queue_review_reminders(session, clock=clock) == 2
    assert queue_review_reminders(session, clock=clock) == 0
    reminders = messages(session, "partnership_review_due")
    assert {m.recipient_organization_id for m in reminders} == {
        network.womens_centre.organization.id,
        network.shelter.organization.id,
    }
    figures = reminders[0].payload
    assert (figures["referrals"], figures["accepted"], figures["decided"], figures["acceptance"]) == (
        2,
        1,
        2,
        50,
    )
    assert figures["median_receipt_hours"] == 4.0
    assert figures["path"] == f"/directory/partnerships/{tie.id}"
    assert not messages(session, "partnership_presentation_due")
    [email] = compose_summary(session, reminders[0], base_url="https://maillage.example")
    assert "2 novembre 2026" in email.text  # the due date as a French reader writes it
    assert "2026-11-02" not in email.text

    # The review is recorded: the next one is a year away.
    add_partnership_note(
        session, network.shelter.coordinator, tie.id, kind="review", text="Bilan fait", clock=clock
    )
    clock.advance(days=30)
    assert queue_review_reminders(session, clock=clock) == 0


def test_a_yearly_presentation_is_reminded_once_per_year(session, network, clock):
    clock.now -= timedelta(days=370)
    tie = partnership(session, network, clock, kinds=("yearly_presentation",))
    add_partnership_note(
        session, network.shelter.coordinator, tie.id, kind="review", text="Bilan", clock=clock
    )
    clock.advance(days=370)
    # Both fall due: the presentation a year after the start, the review a year after the last one.
    assert queue_review_reminders(session, clock=clock) == 4
    assert queue_review_reminders(session, clock=clock) == 0
    assert len(messages(session, "partnership_presentation_due")) == 2
    assert len(messages(session, "partnership_review_due")) == 2
    add_partnership_note(
        session, network.shelter.coordinator, tie.id, kind="presentation", text="Présentation", clock=clock
    )
    clock.advance(days=364)
    assert queue_review_reminders(session, clock=clock) == 0
    clock.advance(days=2)
    assert queue_review_reminders(session, clock=clock) == 2
    assert len(messages(session, "partnership_presentation_due")) == 4
    assert len(messages(session, "partnership_review_due")) == 2


def test_an_overdue_review_counts_the_referrals_up_to_now_not_up_to_its_due_date(
    session, protocols, network, clock
):
    today = clock.now  # 27 November 2026
    clock.now = today - timedelta(days=400)
    partnership(session, network, clock, started_on=date(2025, 11, 2))  # due 2 November 2026
    clock.now = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
    sent_referral(session, protocols, network, clock)  # before the due date
    clock.now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    late = sent_referral(session, protocols, network, clock)  # after it, while the review is overdue
    clock.advance(hours=6)
    fire(session, protocols, late, "acknowledge", network.shelter.caseworker, clock=clock)

    clock.now = today
    assert queue_review_reminders(session, clock=clock) == 2
    figures = messages(session, "partnership_review_due")[0].payload
    assert (figures["referrals"], figures["since"], figures["due"]) == (2, "2025-11-02", "2026-11-02")
    assert figures["median_receipt_hours"] == 6.0

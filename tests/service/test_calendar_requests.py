"""Requests between organizations in the calendars: a loan asked by the women's centre shows, in both
organizations' feeds, its next deadline and its dates (start and end of the loan); a third
organization sees nothing of it; a mobilization shows its answer day to its proposer and each
invitation's deadline to the invited; the email asking for the loan carries its `.ics`, with the
feeds' uid."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from icalendar import Calendar

from service.calendars.request_sources import request_invitation
from service.calendars.sources import Audience
from service.calendars.sources import dated_things
from service.partnership_requests import operations
from service.partnership_requests.emails import compose_request
from tests.service.test_partnership_requests import LOAN
from tests.service.test_partnership_requests import ask_loan
from tests.service.test_partnership_requests import outbox


def things(session, protocols, organization_id, clock, *, user=None) -> dict[str, object]:
    audience = Audience(
        organization_id,
        user.user_id if user else None,
        user.role if user else None,
        "fr",
        protocols,
        clock.now,
    )
    return {t.uid: t for t in dated_things(session, audience) if "request" in t.uid or "mobiliz" in t.uid}


def test_a_loan_is_in_both_organizations_calendars_and_no_one_elses(session, protocols, network, clock):
    loan = ask_loan(session, protocols, network, clock)
    shelter = things(session, protocols, network.shelter.organization.id, clock)
    centre = things(session, protocols, network.womens_centre.organization.id, clock)
    assert set(shelter) == set(centre) == {f"request-{loan.id}-deadline", f"request-{loan.id}"}
    happening = shelter[f"request-{loan.id}"]
    # Monday 7 December 2026, 18:00 to Tuesday 8, 21:00 in Montréal (LOAN's dates).
    assert happening.start == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert happening.end == datetime(2026, 12, 9, 2, 0, tzinfo=UTC)
    assert "Maison Fictive du Phare" in happening.summary
    assert happening.path == f"/partnership-requests/{loan.id}"
    deadline = shelter[f"request-{loan.id}-deadline"]
    assert deadline.start == loan.due_at
    assert deadline.summary.startswith(f"Demande #{loan.id} : ")
    assert things(session, protocols, network.legal_aid.organization.id, clock) == {}
    # A person's feed: her organization's requests are hers to act on, not a privacy officer's.
    assert set(
        things(session, protocols, network.shelter.organization.id, clock, user=network.shelter.caseworker)
    )
    assert LOAN["what"] not in str(shelter)  # what is lent stays on the request's page


def test_a_declined_loan_leaves_the_calendars(session, protocols, network, clock):
    loan = ask_loan(session, protocols, network, clock)
    operations.fire(
        session,
        protocols,
        loan.id,
        "decline",
        network.shelter.coordinator,
        reason="not_available",
        clock=clock,
    )
    assert things(session, protocols, network.shelter.organization.id, clock) == {}


def test_a_mobilization_gives_its_answer_day_to_its_proposer_and_deadlines_to_the_invited(
    session, protocols, network, clock
):
    mobilization = operations.propose_mobilization(
        session,
        protocols,
        network.womens_centre.coordinator,
        title="Lettre commune sur le logement",
        text="Signer la lettre au ministère.",
        answer_by=date(2026, 12, 11),
        organization_ids=[network.shelter.organization.id, network.legal_aid.organization.id],
        clock=clock,
    )
    proposer = things(session, protocols, network.womens_centre.organization.id, clock)
    answers = proposer.pop(f"mobilization-{mobilization.id}-answers")
    assert answers.start == date(2026, 12, 11)
    assert "Lettre commune sur le logement" in answers.summary
    assert proposer == {}  # the invitations' deadlines are the invited organizations' to meet
    invited = things(session, protocols, network.shelter.organization.id, clock)
    assert [t.category for t in invited.values()].count("partnership_request") >= 1
    assert not any("legal" in uid for uid in invited)


def test_an_email_about_a_loan_can_carry_its_dates_with_the_feeds_uid(session, protocols, network, clock):
    loan = ask_loan(session, protocols, network, clock)
    ics = request_invitation(
        session, protocols, loan, language="fr", base_url="https://maillage.example", now=clock.now
    )
    calendar = Calendar.from_ical(ics)
    calendar.validate()
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.events
    assert event["UID"] == f"request-{loan.id}@maillage.example"
    assert event.start.tzinfo.key == "America/Montreal"


def test_the_email_asking_for_a_loan_carries_its_ics(session, protocols, network, clock):
    loan = ask_loan(session, protocols, network, clock)
    [asked] = outbox(session, "partnership_request_asked")
    [sent] = compose_request(session, protocols, asked, base_url="https://maillage.example", now=clock.now)
    [event] = Calendar.from_ical(sent.calendar).events
    assert event["UID"] == f"request-{loan.id}@maillage.example"
    # Once declined, it has no date to keep: its email goes without.
    operations.fire(
        session,
        protocols,
        loan.id,
        "decline",
        network.shelter.coordinator,
        reason="not_available",
        clock=clock,
    )
    declined = outbox(session, "partnership_request_changed")[-1]
    assert all(
        email.calendar is None
        for email in compose_request(
            session, protocols, declined, base_url="https://maillage.example", now=clock.now
        )
    )

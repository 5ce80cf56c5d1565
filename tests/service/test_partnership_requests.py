"""Requests between partner organizations (issue 15), driven by their protocols through the same
machine as requests to join: asked, answered, reminded by the sweep from their own dates, ended with a
trace on the partnership. Only their two organizations see them; a partner without an account acts
through a signed link; a joint mobilization lists those who joined. SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.directory.models import PartnershipNote
from service.directory.operations import PartnershipTerms
from service.directory.operations import create_partnership
from service.directory.reviews import queue_review_reminders
from service.errors import ConcurrentUpdate
from service.errors import GuardFailed
from service.errors import InvalidTransition
from service.errors import NotAllowed
from service.links.operations import LinkExpired
from service.links.operations import LinkInvalid
from service.notifications.emails import compose
from service.notifications.models import OutboxMessage
from service.partnership_requests import links
from service.partnership_requests import operations
from service.partnership_requests import queries
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.models import PartnershipRequestEvent
from service.partnership_requests.operations import RequestNotFound
from service.referrals.actors import Actor
from tests.conftest import make_side
from worker.tasks import sweep
from workflows.errors import FieldProblem

BASE = "https://maillage.example.org"
# Monday 7 December 2026 at 18:00 in Montréal, to Tuesday 8 at 21:00.
STARTS = "2026-12-07T18:00"
ENDS = "2026-12-08T21:00"
LOAN = {"what": "Salle communautaire", "starts_at": STARTS, "ends_at": ENDS, "conditions": "Clés au bureau"}


@pytest.fixture
def tie(session, network, clock):
    """The shelter and the women's centre are partners."""
    return create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(kinds=("shared_premises",)),
        clock=clock,
    )


def outbox(session, template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template is not None:
        query = query.where(OutboxMessage.template == template)
    return [m for m in session.scalars(query) if (m.payload or {}).get("partnership_request_id")]


def ask_loan(session, protocols, network, clock, **fields) -> PartnershipRequest:
    return operations.ask(
        session,
        protocols,
        network.womens_centre.caseworker,
        protocol_name="loan",
        answering_organization_id=network.shelter.organization.id,
        fields={**LOAN, **fields},
        clock=clock,
    )


def events(session, request) -> list[PartnershipRequestEvent]:
    return queries.events_of(session, request)


def test_a_loan_is_asked_accepted_handed_over_returned_and_leaves_a_trace(
    session, protocols, network, clock, tie
):
    request = ask_loan(session, protocols, network, clock)
    assert (request.kind, request.state, request.partnership_id) == ("loan", "asked", tie.id)
    assert request.fields["starts_at"] == "2026-12-07T23:00:00+00:00"  # 18:00 in Montréal, kept in UTC
    assert request.happens_at == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    [asked] = outbox(session, "partnership_request_asked")
    assert (asked.recipient_party, asked.recipient_organization_id) == (
        "answering",
        network.shelter.organization.id,
    )
    assert "Salle" not in str(asked.payload)  # no field's value in the outbox

    shelter = network.shelter.coordinator
    operations.fire(session, protocols, request.id, "accept", shelter, clock=clock)
    assert request.state == "accepted"
    # The reminder counts from the loan's start: 2 days before, same time.
    assert request.due_at == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    operations.fire(session, protocols, request.id, "hand_over", shelter, clock=clock)
    with pytest.raises(FieldProblem) as missing:
        operations.fire(session, protocols, request.id, "return", shelter, clock=clock)
    assert (missing.value.field, missing.value.code) == ("return_condition", "missing")
    assert request.state == "in_use"
    operations.fire(
        session,
        protocols,
        request.id,
        "return",
        shelter,
        fields={"return_condition": "Propre, clés rendues"},
        clock=clock,
    )
    assert request.state == "returned"
    assert request.due_at is None
    assert [e.trigger for e in events(session, request)] == ["ask", "accept", "hand_over", "return"]
    assert events(session, request)[-1].fields == {"return_condition": "Propre, clés rendues"}
    [note] = session.scalars(select(PartnershipNote).where(PartnershipNote.partnership_id == tie.id))
    assert note.kind == "loan"
    assert note.text.startswith(f"Prêt de locaux ou d'équipement n° {request.id} : Rendu.")
    assert "État au retour : Propre, clés rendues" in note.text
    assert "Début du prêt : 7 décembre 2026 à 18 h" in note.text


def test_declining_needs_a_reason_and_ends_it(session, protocols, network, clock, tie):
    request = ask_loan(session, protocols, network, clock)
    with pytest.raises(GuardFailed):
        operations.fire(session, protocols, request.id, "decline", network.shelter.caseworker, clock=clock)
    operations.fire(
        session,
        protocols,
        request.id,
        "decline",
        network.shelter.caseworker,
        reason="not_available",
        clock=clock,
    )
    assert request.state == "declined"
    [note] = session.scalars(select(PartnershipNote).where(PartnershipNote.partnership_id == tie.id))
    assert "Motif : Non disponible à ces dates" in note.text


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"what": ""}, "what", "missing"),
        ({"starts_at": "demain"}, "starts_at", "bad_datetime"),
        ({"ends_at": "2026-12-06T09:00"}, "ends_at", "order"),
        ({"her_name": "x"}, "her_name", "unknown_field"),
        ({"what": "x" * 201}, "what", "too_long"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_kept(session, protocols, network, clock, fields, field, code):
    with pytest.raises(FieldProblem) as refused:
        ask_loan(session, protocols, network, clock, **fields)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert list(session.scalars(select(PartnershipRequest))) == []


def test_only_its_two_organizations_see_it_or_act_on_it(session, protocols, network, clock):
    request = ask_loan(session, protocols, network, clock)
    bystander = network.legal_aid.coordinator
    with pytest.raises(RequestNotFound):
        queries.get_request(session, request.id, bystander)
    with pytest.raises(RequestNotFound):
        operations.fire(session, protocols, request.id, "accept", bystander, clock=clock)
    region = Actor(user_id=None, organization_id=None, role="regional_admin")
    with pytest.raises(RequestNotFound):
        queries.get_request(session, request.id, region)
    # The asking side may not answer its own request.
    with pytest.raises(NotAllowed):
        operations.fire(
            session, protocols, request.id, "accept", network.womens_centre.coordinator, clock=clock
        )
    assert queries.get_request(session, request.id, network.shelter.caseworker) is request
    assert [r.id for r in queries.requests_of(session, network.shelter.organization.id)] == [request.id]
    assert queries.requests_of(session, network.legal_aid.organization.id) == []
    assert [
        t.trigger for t in queries.triggers_for(protocols.get("loan"), request, network.shelter.caseworker)
    ] == [
        "accept",
        "decline",
    ]


def test_an_organization_cannot_ask_itself_nor_through_a_partnership_of_others(
    session, protocols, network, clock, tie
):
    with pytest.raises(NotAllowed):
        operations.ask(
            session,
            protocols,
            network.shelter.caseworker,
            protocol_name="loan",
            answering_organization_id=network.shelter.organization.id,
            fields=LOAN,
            clock=clock,
        )
    with pytest.raises(NotAllowed):
        operations.ask(
            session,
            protocols,
            network.legal_aid.caseworker,
            protocol_name="loan",
            answering_organization_id=network.shelter.organization.id,
            partnership_id=tie.id,
            fields=LOAN,
            clock=clock,
        )


def test_an_old_page_is_told_the_request_changed(session, protocols, network, clock):
    request = ask_loan(session, protocols, network, clock)
    seen = request.version
    operations.fire(session, protocols, request.id, "accept", network.shelter.caseworker, clock=clock)
    with pytest.raises(ConcurrentUpdate):
        operations.fire(
            session,
            protocols,
            request.id,
            "cancel",
            network.womens_centre.caseworker,
            expected_version=seen,
            clock=clock,
        )
    with pytest.raises(InvalidTransition):
        operations.fire(session, protocols, request.id, "accept", network.shelter.caseworker, clock=clock)


def test_the_sweep_reminds_before_the_loan_and_after_its_end_while_not_returned(
    session, protocols, network, clock
):
    request = ask_loan(session, protocols, network, clock)
    shelter = network.shelter.caseworker
    operations.fire(session, protocols, request.id, "accept", shelter, clock=clock)
    clock.now = datetime(2026, 12, 5, 22, 59, tzinfo=UTC)
    assert operations.due_request_ids(session, clock.now) == []
    clock.now = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert operations.run_due_deadline(session, protocols, request.id, clock=clock)
    assert not operations.run_due_deadline(session, protocols, request.id, clock=clock)
    reminders = outbox(session, "partnership_request_reminder")
    assert {m.recipient_party for m in reminders} == {"asking", "answering"}
    operations.fire(session, protocols, request.id, "hand_over", shelter, clock=clock)
    # Not returned: reminded the day after its end, then the overdue notice 5 days after it.
    assert request.due_at == datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    clock.now = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    assert sweep(lambda: nullcontext(session), clock=clock) == 1
    assert request.deadline_step == 1
    assert request.due_at == datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
    assert [e.kind for e in events(session, request)][-1] == "reminder"
    assert len(outbox(session, "partnership_request_reminder")) == 4


def test_the_emails_name_the_organizations_and_link_the_request_or_give_a_signed_link(
    session, protocols, network, clock
):
    request = ask_loan(session, protocols, network, clock)
    [asked] = outbox(session, "partnership_request_asked")
    [email] = compose(session, protocols, asked, base_url=BASE, now=clock.now)
    assert email.language == "fr"
    assert email.subject == (
        f"Centre de femmes Fictif des Rivières demande à votre organisme : "
        f"prêt de locaux ou d'équipement (n° {request.id})"
    )
    assert f"{BASE}/partnership-requests/{request.id}" in email.text
    assert "Salle communautaire" not in email.text + email.html + email.subject
    # An organization with a referral address (perhaps a partner without an account) gets a signed link.
    network.shelter.organization.referral_email = "accueil@phare.example.org"
    session.commit()
    [email] = compose(session, protocols, asked, base_url=BASE, now=clock.now)
    assert email.to == "accueil@phare.example.org"
    token = email.text.split(f"{BASE}/partnership-requests/link/")[1].split()[0]
    page = links.open_request_link(session, protocols, token, clock=clock)
    assert page.request.id == request.id
    assert request.state == "asked"  # opening never acts
    assert [t.trigger for t in page.actions] == ["accept", "decline"]
    links.act_through_request_link(
        session, protocols, token, "accept", expected_version=request.version, clock=clock
    )
    assert request.state == "accepted"
    with pytest.raises(ConcurrentUpdate):
        links.act_through_request_link(
            session, protocols, token, "hand_over", expected_version=request.version - 1, clock=clock
        )
    with pytest.raises(LinkInvalid):
        links.open_request_link(session, protocols, token + "x", clock=clock)
    clock.advance(days=60)
    with pytest.raises(LinkExpired):
        links.open_request_link(session, protocols, token, clock=clock)


def test_a_link_serves_only_the_answering_organization(session, protocols, network, clock):
    request = ask_loan(session, protocols, network, clock)
    with pytest.raises(NotAllowed):
        links.issue_request_link(session, request.id, network.womens_centre.organization.id, clock=clock)
    token = links.issue_request_link(session, request.id, network.shelter.organization.id, clock=clock)
    with pytest.raises(NotAllowed):
        # The link holder stands for the answering side: cancelling is the asking side's.
        links.act_through_request_link(
            session, protocols, token, "cancel", expected_version=request.version, clock=clock
        )
    assert request.state == "asked"


def test_a_mobilization_joined_by_two_organizations_and_declined_by_one(session, protocols, network, clock):
    fourth = make_side(session, "Table Fictive de concertation", clock.now)
    session.commit()
    mobilization = operations.propose_mobilization(
        session,
        protocols,
        network.womens_centre.coordinator,
        title="Lettre commune sur le logement",
        text="Signer la lettre au ministère.",
        answer_by=date(2026, 12, 11),
        organization_ids=[
            network.shelter.organization.id,
            network.legal_aid.organization.id,
            fourth.organization.id,
            network.womens_centre.organization.id,  # its own: left out
        ],
        clock=clock,
    )
    invitations = queries.invitations_of(session, mobilization.id)
    assert len(invitations) == 3
    assert {r.state for r, _ in invitations} == {"invited"}
    # Reminded 2 days before the answer date (9:00 in Montréal).
    assert {r.due_at for r, _ in invitations} == {datetime(2026, 12, 9, 14, 0, tzinfo=UTC)}
    by_organization = {organization.id: request for request, organization in invitations}
    operations.fire(
        session,
        protocols,
        by_organization[network.shelter.organization.id].id,
        "join",
        network.shelter.caseworker,
        fields={"contribution": "Nous signons"},
        clock=clock,
    )
    operations.fire(
        session,
        protocols,
        by_organization[fourth.organization.id].id,
        "join",
        fourth.coordinator,
        clock=clock,
    )
    operations.fire(
        session,
        protocols,
        by_organization[network.legal_aid.organization.id].id,
        "decline",
        network.legal_aid.caseworker,
        reason="outside_mandate",
        clock=clock,
    )
    joined = queries.joined_organizations(session, mobilization.id)
    assert [o.name for o in joined] == ["Maison Fictive du Phare", "Table Fictive de concertation"]
    assert queries.get_mobilization(session, mobilization.id, network.legal_aid.caseworker) is mobilization
    outsider = make_side(session, "Organisme Fictif non invité", clock.now)
    with pytest.raises(RequestNotFound):
        queries.get_mobilization(session, mobilization.id, outsider.caseworker)


def test_the_yearly_presentation_reminder_opens_a_presentation_whose_trace_restarts_the_year(
    session, protocols, network, clock
):
    clock.now -= timedelta(days=370)
    tie = create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(kinds=("yearly_presentation",)),
        clock=clock,
    )
    clock.advance(days=370)
    queue_review_reminders(session, clock=clock, protocols=protocols)
    [request] = session.scalars(select(PartnershipRequest).where(PartnershipRequest.partnership_id == tie.id))
    assert (request.kind, request.state) == ("presentation", "to_plan")
    queue_review_reminders(session, clock=clock, protocols=protocols)
    assert len(list(session.scalars(select(PartnershipRequest)))) == 1  # not twice
    coordinator = network.womens_centre.coordinator
    operations.fire(
        session,
        protocols,
        request.id,
        "plan",
        coordinator,
        fields={"starts_at": "2026-12-10T13:30", "place": "Salle du Phare"},
        clock=clock,
    )
    operations.fire(session, protocols, request.id, "hold", coordinator, clock=clock)
    operations.fire(
        session,
        protocols,
        request.id,
        "record",
        coordinator,
        fields={
            "attendance": "Deux équipes d'intervention",
            "presented": "Hébergement, suivi post-hébergement",
        },
        clock=clock,
    )
    [note] = session.scalars(select(PartnershipNote).where(PartnershipNote.partnership_id == tie.id))
    assert note.kind == "presentation"
    clock.advance(days=300)
    queue_review_reminders(session, clock=clock, protocols=protocols)
    assert (
        len(list(session.scalars(select(PartnershipRequest)))) == 1
    )  # the next one is a year after the trace


def test_the_reports_and_fhir_read_referral_protocols_only(protocols):
    """A request between organizations is no referral: its states and reasons are no report's columns."""
    from service.reports.queries import known_states
    from service.reports.queries import reason_codes

    states = known_states(protocols)
    assert {"sent", "received", "closed"} <= set(states)
    assert not {"asked", "in_use", "returned", "invited", "joined", "submitted"} & set(states)
    assert "not_lent" not in reason_codes(protocols, "decline")
    assert "no_capacity" in reason_codes(protocols, "decline")


def test_every_message_of_a_loan_composes_in_french_and_english_without_its_fields(
    session, protocols, network, clock
):
    from service.notifications.emails import render

    request = ask_loan(session, protocols, network, clock, purpose="Atelier de couture")
    shelter = network.shelter.coordinator
    operations.fire(session, protocols, request.id, "accept", shelter, clock=clock)
    clock.now = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    operations.run_due_deadline(session, protocols, request.id, clock=clock)
    operations.fire(session, protocols, request.id, "hand_over", shelter, clock=clock)
    for moment in (datetime(2026, 12, 10, 2, 0, tzinfo=UTC), datetime(2026, 12, 14, 2, 0, tzinfo=UTC)):
        clock.now = moment
        assert operations.run_due_deadline(session, protocols, request.id, clock=clock)
    templates = {m.template for m in outbox(session)}
    assert templates == {
        "partnership_request_asked",
        "partnership_request_changed",
        "partnership_request_reminder",
        "partnership_request_overdue",
    }
    for message in outbox(session):
        for email in compose(session, protocols, message, base_url=BASE, now=clock.now):
            assert f"n° {request.id}" in email.subject
            for words in ("Salle communautaire", "Atelier de couture", "Clés au bureau"):
                assert words not in email.subject + email.text + email.html
    context = {
        "number": 7, "title": "Loan", "asking": "A", "answering": "B", "state": "In use", "done": "Returned",
        "deadline": "Return it", "due": "Monday", "when": "Tuesday", "signed": True, "expires": "Friday",
        "link": f"{BASE}/partnership-requests/link/x",
    }  # fmt: skip
    for template in templates:
        subject, text, _html = render(template, "en", **context)
        assert "no. 7" in subject
        assert "without an account" in text

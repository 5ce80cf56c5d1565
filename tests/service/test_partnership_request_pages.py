"""The pages of requests between partner organizations: a caseworker asks a partner for a loan from
the partnership's page; the partner answers from its account or from the signed link emailed to it;
each button asks what the protocol says (a reason, the condition on return), and a form with gaps is
answered in French, keeping nothing. Only the two organizations see a request: anyone else gets a
404. A joint mobilization is proposed to organizations of the network, which join or decline. The
dashboard and the inbox list the requests apart from the referrals, a page at a time.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from service.app import create_app
from service.directory.models import PartnershipNote
from service.directory.operations import PartnershipTerms
from service.directory.operations import create_partnership
from service.partnership_requests import operations
from service.partnership_requests.links import issue_request_link
from service.partnership_requests.models import Mobilization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.pages import PAGE_SIZE
from tests.conftest import sign_in

LOAN = {
    "field_what": "La grande salle du sous-sol",
    "field_starts_at": "2026-12-10T09:00",
    "field_ends_at": "2026-12-10T17:00",
    "field_purpose": "Une journée de formation sur les clés d'intervention",
    "comment": "Merci d'avance!",
}


@pytest.fixture
def partnership(session, network, clock):
    """The shelter and the women's centre are partners; legal aid is a bystander."""
    made = create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(kinds=("shared_premises",)),
        clock=clock,
    )
    session.commit()
    return made


def requests_in(session) -> list[PartnershipRequest]:
    return list(
        session.scalars(
            select(PartnershipRequest)
            .order_by(PartnershipRequest.id)
            .execution_options(populate_existing=True)
        )
    )


def ask_loan(client, partnership, data=None):
    return client.post(f"/directory/partnerships/{partnership.id}/requests/loan/new", data=data or LOAN)


@pytest.fixture
def loan(app, session, network, partnership) -> PartnershipRequest:
    """A loan of a room the women's centre asked of the shelter, through the page."""
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    answer = ask_loan(centre, partnership)
    assert answer.status_code == 303, answer.text
    return requests_in(session)[-1]


def press(client, request_id: int, trigger: str, version: int, **fields: str):
    data = {"trigger": trigger, f"{trigger}-version": str(version)}
    data |= {f"{trigger}-{name}": value for name, value in fields.items()}
    return client.post(f"/partnership-requests/{request_id}/actions", data=data)


# Starting from the partnership's page ---------------------------------------------------------------


def test_the_partnership_page_offers_the_four_requests_to_its_two_organizations_only(
    app, session, network, partnership
):
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    page = centre.get(f"/directory/partnerships/{partnership.id}").text
    for label in (
        "Demander un prêt de locaux ou de matériel",
        "Proposer une activité commune",
        "Planifier la présentation annuelle",
        "Proposer une séance d’équipe à équipe",  # noqa: RUF001 - French typography
    ):
        assert label in page
    assert f'href="/directory/partnerships/{partnership.id}/requests/loan/new"' in page
    bystander = sign_in(app.test_client(), network.legal_aid.caseworker, session)
    assert "Demander un prêt" not in bystander.get(f"/directory/partnerships/{partnership.id}").text
    assert bystander.get(f"/directory/partnerships/{partnership.id}/requests/loan/new").status_code == 404
    assert ask_loan(bystander, partnership).status_code == 404
    assert requests_in(session) == []


@pytest.mark.parametrize(
    ("kind", "label", "data"),
    [
        (
            "activity",
            "Activité ou événement",
            {
                "field_what": "Kiosque commun au salon des organismes",
                "field_starts_at": "2027-02-12T13:00",
                "field_place": "Centre communautaire",
            },
        ),
        ("presentation", "Précisions", {"field_notes": "Présenter nos nouveaux services"}),
        ("session", "Thème", {"field_topic": "Accueillir les femmes immigrantes"}),
    ],
)
def test_each_kind_is_asked_from_the_partnership_page_with_its_own_fields(
    app, session, network, partnership, kind, label, data
):
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    address = f"/directory/partnerships/{partnership.id}/requests/{kind}/new"
    assert label in centre.get(address).text
    answer = centre.post(address, data=data)
    assert answer.status_code == 303, answer.text
    (made,) = requests_in(session)
    assert made.kind == kind
    assert made.partnership_id == partnership.id
    assert made.answering_organization_id == network.shelter.organization.id


def test_an_unknown_kind_of_request_is_a_404(app, session, network, partnership):
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    for kind in ("mobilization", "referral", "standard", "x"):
        assert centre.get(f"/directory/partnerships/{partnership.id}/requests/{kind}/new").status_code == 404


def test_a_loan_asked_with_gaps_is_answered_in_french_and_keeps_nothing(app, session, network, partnership):
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    form = centre.get(f"/directory/partnerships/{partnership.id}/requests/loan/new")
    assert "<h1>Demander un prêt de locaux ou de matériel</h1>" in form.text
    assert "Local ou équipement demandé" in form.text
    answer = ask_loan(centre, partnership, {"field_what": "", "field_starts_at": "pas une date"})
    assert answer.status_code == 200
    assert "Veuillez corriger ce qui suit" in answer.text
    assert "Remplissez « Local ou équipement demandé »." in answer.text
    assert "Remplissez « Fin du prêt »." in answer.text
    backwards = ask_loan(centre, partnership, LOAN | {"field_ends_at": "2026-12-09T17:00"})
    assert "La fin ne peut pas venir avant le début." in backwards.text
    assert requests_in(session) == []


def test_a_loan_asked_is_shown_to_both_organizations_and_a_404_to_any_other(
    app, session, network, partnership, loan
):
    assert loan.kind == "loan"
    assert loan.state == "asked"
    assert loan.fields["what"] == "La grande salle du sous-sol"
    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    page = shelter.get(f"/partnership-requests/{loan.id}")
    assert page.status_code == 200
    assert f"Demande nº {loan.id}" in page.text
    assert "La grande salle du sous-sol" in page.text
    assert "Merci d&#39;avance!" in page.text
    assert "Accepter le prêt" in page.text
    assert "Refuser le prêt" in page.text
    centre = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    theirs = centre.get(f"/partnership-requests/{loan.id}").text
    assert "Annuler la demande de prêt" in theirs
    assert "Accepter le prêt" not in theirs

    bystander = sign_in(app.test_client(), network.legal_aid.coordinator, session)
    assert bystander.get(f"/partnership-requests/{loan.id}").status_code == 404
    assert press(bystander, loan.id, "accept", loan.version).status_code == 404
    assert bystander.get(f"/partnership-requests/{loan.id + 1000}").status_code == 404
    assert requests_in(session)[0].state == "asked"


def test_a_decline_without_its_reason_is_refused_in_french(app, session, network, loan):
    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    answer = press(shelter, loan.id, "decline", loan.version)
    assert answer.status_code == 400
    assert "Choisissez un motif." in answer.text
    other = press(shelter, loan.id, "decline", loan.version, reason="other")
    assert other.status_code == 400
    assert "Expliquez le motif dans un commentaire." in other.text
    assert requests_in(session)[0].state == "asked"
    done = press(shelter, loan.id, "decline", loan.version, reason="not_available")
    assert done.status_code == 303
    assert requests_in(session)[0].state == "declined"
    assert "Non disponible à ces dates" in shelter.get(f"/partnership-requests/{loan.id}").text


def test_a_page_out_of_date_acts_on_nothing_and_says_so(app, session, network, loan):
    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    answer = press(shelter, loan.id, "accept", loan.version - 1)
    assert answer.status_code == 303
    assert requests_in(session)[0].state == "asked"
    assert "a changé entre-temps" in shelter.get(f"/partnership-requests/{loan.id}").text
    # A button of another state, or of the other organization: the page was old, nothing happens.
    assert press(shelter, loan.id, "return", loan.version).status_code == 303
    assert press(shelter, loan.id, "cancel", loan.version).status_code == 303
    assert press(shelter, loan.id, "no_such_trigger", loan.version).status_code == 400
    assert requests_in(session)[0].state == "asked"


def test_a_loan_accepted_handed_over_and_returned_leaves_its_trace_on_the_partnership(
    app, session, network, partnership, loan
):
    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    page = shelter.get(f"/partnership-requests/{loan.id}").text
    # The dates the partner may change when accepting are offered as they were asked.
    assert 'value="2026-12-10T09:00"' in page
    assert press(shelter, loan.id, "accept", loan.version).status_code == 303
    version = requests_in(session)[0].version
    assert press(shelter, loan.id, "hand_over", version).status_code == 303
    version = requests_in(session)[0].version
    refused = press(shelter, loan.id, "return", version)
    assert refused.status_code == 400
    assert "Remplissez « État au retour »." in refused.text
    returned = press(shelter, loan.id, "return", version, field_return_condition="Rangée, propre")
    assert returned.status_code == 303
    assert requests_in(session)[0].state == "returned"
    history = shelter.get(f"/partnership-requests/{loan.id}").text
    assert "Rangée, propre" in history
    assert "Cette demande est terminée." in history
    assert session.scalar(
        select(func.count())
        .select_from(PartnershipNote)
        .where(PartnershipNote.partnership_id == partnership.id)
    )
    on_partnership = shelter.get(f"/directory/partnerships/{partnership.id}").text
    assert f'href="/partnership-requests/{loan.id}"' in on_partnership


# CSRF ------------------------------------------------------------------------------------------------


@pytest.fixture
def guarded_app(app: Flask, session, engine, clock) -> Flask:
    """The app with CSRF on, as people get it."""
    guarded = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "CLOCK": clock,
        }
    )
    guarded.extensions["maillage.sessions"] = lambda: session
    return guarded


def test_a_button_without_the_pages_csrf_token_acts_on_nothing(guarded_app, session, network, loan):
    shelter = sign_in(guarded_app.test_client(), network.shelter.caseworker, session, csrf=True)
    forged = press(shelter, loan.id, "accept", loan.version)
    assert forged.status_code == 400
    assert 'lang="fr"' in forged.text
    assert requests_in(session)[0].state == "asked"
    page = shelter.get(f"/partnership-requests/{loan.id}").text
    token = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)
    data = {"trigger": "accept", "accept-version": str(loan.version), "accept-csrf_token": token}
    assert shelter.post(f"/partnership-requests/{loan.id}/actions", data=data).status_code == 303
    assert requests_in(session)[0].state == "accepted"


# The signed link -------------------------------------------------------------------------------------


def test_the_signed_link_shows_without_acting_and_acts_on_a_post(app, session, network, clock, loan):
    token = issue_request_link(session, loan.id, network.shelter.organization.id, clock=clock)
    partner = app.test_client()
    before = loan.version
    for _ in range(2):
        page = partner.get(f"/partnership-requests/link/{token}")
        assert page.status_code == 200
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "Accepter le prêt" in page.text
        assert "La grande salle du sous-sol" in page.text
    assert requests_in(session)[0].version == before
    answer = partner.post(
        f"/partnership-requests/link/{token}", data={"trigger": "accept", "accept-version": str(before)}
    )
    assert answer.status_code == 303
    assert requests_in(session)[0].state == "accepted"
    assert "Merci. La demande est maintenant : Accepté." in partner.get(answer.headers["Location"]).text
    # The asking organization's own buttons are not the link's.
    version = requests_in(session)[0].version
    assert (
        partner.post(
            f"/partnership-requests/link/{token}", data={"trigger": "cancel", "cancel-version": str(version)}
        ).status_code
        == 303
    )
    assert requests_in(session)[0].state == "accepted"


def test_an_unknown_or_expired_link_says_so_in_french(app, session, network, clock, loan):
    partner = app.test_client()
    unknown = partner.get("/partnership-requests/link/" + "x" * 43)
    assert unknown.status_code == 404
    assert "Ce lien n’est plus valide" in unknown.text  # noqa: RUF001
    token = issue_request_link(
        session, loan.id, network.shelter.organization.id, clock=clock, valid_for=timedelta(hours=1)
    )
    clock.advance(hours=2)
    expired = partner.get(f"/partnership-requests/link/{token}")
    assert expired.status_code == 410
    assert network.womens_centre.organization.name in expired.text


# Joint mobilization ----------------------------------------------------------------------------------


def test_a_mobilization_with_gaps_is_answered_in_french_and_keeps_nothing(app, session, network, clock):
    centre = sign_in(app.test_client(), network.womens_centre.coordinator, session)
    form = centre.get("/mobilizations/new")
    assert "<h1>Proposer une mobilisation commune</h1>" in form.text
    assert network.shelter.organization.name in form.text
    assert network.womens_centre.organization.name not in form.text
    answer = centre.post("/mobilizations/new", data={"title": "", "answer_by": "2026-11-01"})
    assert answer.status_code == 200
    assert "Donnez un titre à la mobilisation." in answer.text
    assert "Donnez une date après aujourd’hui." in answer.text  # noqa: RUF001
    assert "Choisissez au moins un organisme." in answer.text
    foreign = centre.post(
        "/mobilizations/new",
        data={"title": "T", "text": "X", "answer_by": "2026-12-15", "organizations": ["2147483647"]},
    )
    assert "Choisissez des organismes de la liste." in foreign.text
    assert session.scalar(select(func.count()).select_from(Mobilization)) == 0


def test_a_mobilization_is_joined_by_one_and_declined_by_another(app, session, network, protocols, clock):
    centre = sign_in(app.test_client(), network.womens_centre.coordinator, session)
    answer = centre.post(
        "/mobilizations/new",
        data={
            "title": "Journée d'action du 6 décembre",
            "text": "Une vigile commune devant l'hôtel de ville.",
            "answer_by": "2026-12-04",
            "organizations": [str(network.shelter.organization.id), str(network.legal_aid.organization.id)],
        },
    )
    assert answer.status_code == 303, answer.text
    mobilization = session.scalars(select(Mobilization)).one()
    assert answer.headers["Location"].endswith(f"/mobilizations/{mobilization.id}")
    invitations = {r.answering_organization_id: r for r in requests_in(session)}
    assert set(invitations) == {network.shelter.organization.id, network.legal_aid.organization.id}

    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    mine = invitations[network.shelter.organization.id]
    assert "Une vigile commune" in shelter.get(f"/partnership-requests/{mine.id}").text
    assert (
        press(shelter, mine.id, "join", mine.version, field_contribution="Deux bénévoles").status_code == 303
    )
    legal = sign_in(app.test_client(), network.legal_aid.caseworker, session)
    theirs = invitations[network.legal_aid.organization.id]
    assert press(legal, theirs.id, "decline", theirs.version, reason="no_capacity").status_code == 303
    # The shelter may not answer for legal aid.
    assert press(shelter, theirs.id, "join", theirs.version).status_code == 404

    summary = centre.get(f"/mobilizations/{mobilization.id}").text
    joined = summary.split('id="joined-title"')[1].split("</section>")[0]
    assert network.shelter.organization.name in joined
    assert network.legal_aid.organization.name not in joined
    assert "Refusé" in summary
    # An organization invited sees who joined, and so does the proposer's staff; one not invited gets a 404.
    assert legal.get(f"/mobilizations/{mobilization.id}").status_code == 200
    colleague = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    assert colleague.get(f"/mobilizations/{mobilization.id}").status_code == 200
    other = operations.propose_mobilization(
        session,
        protocols,
        network.legal_aid.coordinator,
        title="Autre",
        text="Sans la maison d'hébergement.",
        answer_by=date(2026, 12, 4),
        organization_ids=[network.womens_centre.organization.id],
        clock=clock,
    )
    assert shelter.get(f"/mobilizations/{other.id}").status_code == 404
    assert shelter.get(f"/mobilizations/{other.id + 1}").status_code == 404


# The dashboard and the inbox -------------------------------------------------------------------------


def test_the_dashboard_and_the_inbox_list_the_requests_apart_a_page_at_a_time(
    app, session, network, protocols, clock, partnership
):
    centre_actor = network.womens_centre.caseworker
    for number in range(PAGE_SIZE + 3):
        operations.ask(
            session,
            protocols,
            centre_actor,
            protocol_name="loan",
            answering_organization_id=network.shelter.organization.id,
            fields={
                "what": f"Salle {number}",
                "starts_at": "2026-12-10T09:00",
                "ends_at": "2026-12-10T17:00",
            },
            clock=clock,
        )
    shelter = sign_in(app.test_client(), network.shelter.caseworker, session)
    inbox = shelter.get("/referrals/received").text
    section = inbox.split('id="requests-title"')[1]
    assert "Demandes entre organismes" in section
    assert f"({PAGE_SIZE + 3})" in section
    assert section.count('href="/partnership-requests/') >= PAGE_SIZE
    assert "requests_page=2" in section
    second = shelter.get("/referrals/received?requests_page=2").text.split('id="requests-title"')[1]
    assert second.count("<tr>") == 3 + 1  # three rows and the header's
    dashboard = shelter.get("/").text
    assert "Demandes entre organismes" in dashboard
    assert "En attente de notre part" in dashboard.split('id="requests-title"')[1]
    # Hostile page numbers are the nearest page that exists.
    assert shelter.get("/?requests_page=-5").status_code == 200
    assert shelter.get("/?requests_page=99999999999999999999").status_code == 200
    # Another organization sees none of them.
    legal = sign_in(app.test_client(), network.legal_aid.caseworker, session)
    assert "Aucune demande" in legal.get("/referrals/received").text

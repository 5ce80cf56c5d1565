"""A partnership's bilan: a year of referrals both ways and traces, made through the domain operations on
the tests' clock, read back per review period on the page and in the CSV file, by whom may read it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from html import unescape

import pytest

from service.accounts.models import Role
from service.directory.bilans import bilan
from service.directory.bilans import periods
from service.directory.operations import PartnershipTerms
from service.directory.operations import add_partnership_note
from service.directory.operations import create_partnership
from service.directory.reviews import figures
from service.partnership_requests.operations import ask
from service.partnership_requests.operations import fire as fire_request
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user

HER = PersonDetails(name="Fictive Marie-Ève Canari", phone="514-555-0199", notes="Fictive: only mornings")
DECISION = '=HYPERLINK("http://example.org") Continuer le protocole; rencontre au printemps'


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def sent(session, protocols, clock, sender, receiver) -> int:
    """`sender` (a caseworker) refers a woman to `receiver`, with her consent."""
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=receiver.organization.id,
        protocol_name="standard",
        person=HER,
        clock=clock,
    )
    record_consent(
        session, draft.id, sender, method="verbal", shared_with="x", purpose="hébergement", clock=clock
    )
    fire(session, protocols, draft.id, "send", sender, clock=clock)
    return draft.id


@pytest.fixture
def year(session, protocols, network, clock):
    """A partnership since 2 November 2025, reviewed on 1 June 2026; referrals before and after.

    Before the review: one referral from the centre, received in 5 hours, accepted.
    Since: from the centre, one declined (no capacity), one accepted and closed (service received),
    one cancelled before any answer; from the shelter, one redirected (better fit). A meeting's trace.
    """
    today = clock.now
    centre, shelter, legal = network.womens_centre, network.shelter, network.legal_aid
    clock.now = at(date(2025, 11, 2))
    tie = create_partnership(
        session,
        centre.coordinator,
        centre.organization.id,
        shelter.organization.id,
        PartnershipTerms(kinds=("referral_protocol",), started_on=date(2025, 11, 2)),
        clock=clock,
    )
    clock.now = at(date(2026, 3, 10))
    early = sent(session, protocols, clock, centre.caseworker, shelter)
    clock.advance(hours=5)
    fire(session, protocols, early, "acknowledge", shelter.caseworker, clock=clock)
    fire(session, protocols, early, "accept", shelter.caseworker, clock=clock)

    clock.now = at(date(2026, 6, 1))
    add_partnership_note(session, shelter.coordinator, tie.id, kind="review", text=DECISION, clock=clock)

    clock.now = at(date(2026, 9, 1))
    declined = sent(session, protocols, clock, centre.caseworker, shelter)
    clock.advance(hours=4)
    fire(session, protocols, declined, "acknowledge", shelter.caseworker, clock=clock)
    clock.advance(hours=2)
    fire(session, protocols, declined, "decline", shelter.caseworker, reason="no_capacity", clock=clock)

    clock.now = at(date(2026, 9, 15))
    accepted = sent(session, protocols, clock, centre.caseworker, shelter)
    clock.advance(hours=2)
    fire(session, protocols, accepted, "acknowledge", shelter.caseworker, clock=clock)
    clock.advance(hours=8)
    fire(session, protocols, accepted, "accept", shelter.caseworker, clock=clock)
    fire(session, protocols, accepted, "record_first_contact", shelter.caseworker, clock=clock)
    fire(session, protocols, accepted, "record_follow_up", centre.caseworker, clock=clock)
    fire(session, protocols, accepted, "close", centre.caseworker, reason="service_received", clock=clock)

    clock.now = at(date(2026, 10, 1))
    cancelled = sent(session, protocols, clock, centre.caseworker, shelter)
    fire(session, protocols, cancelled, "cancel", centre.caseworker, reason="need_resolved", clock=clock)

    clock.now = at(date(2026, 10, 20))
    redirected = sent(session, protocols, clock, shelter.caseworker, centre)
    clock.advance(hours=1)
    fire(session, protocols, redirected, "acknowledge", centre.caseworker, clock=clock)
    clock.advance(hours=2)
    fire(
        session,
        protocols,
        redirected,
        "redirect",
        centre.caseworker,
        reason="better_fit",
        target_organization_id=legal.organization.id,
        clock=clock,
    )
    add_partnership_note(
        session, centre.caseworker, tie.id, kind="meeting", text="-Rencontre des équipes", clock=clock
    )
    clock.now = today
    return tie


def flows_of(found, network, tie):
    """(from the centre, from the shelter), whichever of the two is the partnership's first."""
    if tie.first_organization_id == network.womens_centre.organization.id:
        return found.there, found.back
    return found.back, found.there


def test_the_periods_run_from_review_to_review_the_current_one_first(session, network, clock, year):
    current, earlier = periods(session, year, clock)
    assert (current.start, current.end, current.current) == (date(2026, 6, 1), date(2026, 11, 28), True)
    assert (earlier.start, earlier.last_day, earlier.current) == (date(2025, 11, 2), date(2026, 5, 31), False)


def test_a_partnership_never_reviewed_has_one_period_from_its_start_to_today(session, network, clock):
    tie = create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.legal_aid.organization.id,
        PartnershipTerms(kinds=("referral_protocol",)),
        clock=clock,
    )
    [only] = periods(session, tie, clock)
    assert (only.start, only.last_day, only.current) == (date(2026, 11, 27), date(2026, 11, 27), True)
    found = bilan(session, tie, only)
    assert (found.there.sent, found.back.sent, found.traces, found.decisions) == (0, 0, [], [])


def test_the_current_period_counts_both_ways_with_outcomes_reasons_and_times(session, network, clock, year):
    current, _earlier = periods(session, year, clock)
    found = bilan(session, year, current)
    centre, shelter = flows_of(found, network, year)

    assert (centre.sent, centre.acknowledged, centre.accepted, centre.cancelled) == (3, 2, 1, 1)
    assert dict(centre.declined) == {"no_capacity": 1}
    assert dict(centre.redirected) == {}
    assert dict(centre.closed) == {"service_received": 1}
    assert centre.median_receipt_hours == 3.0  # 4 and 2 hours
    assert centre.median_decision_hours == 8.0  # 6 and 10 hours
    assert (shelter.sent, shelter.acknowledged, shelter.decided) == (1, 1, 1)
    assert dict(shelter.redirected) == {"better_fit": 1}
    assert shelter.median_decision_hours == 3.0

    assert [d.text for d in found.decisions] == [DECISION]  # the review that opened the period
    assert [(t.kind, t.day) for t in found.traces] == [("meeting", date(2026, 10, 20))]


def test_an_earlier_period_has_its_own_referrals_and_the_review_that_closed_it(session, network, clock, year):
    _current, earlier = periods(session, year, clock)
    found = bilan(session, year, earlier)
    centre, shelter = flows_of(found, network, year)
    assert (centre.sent, centre.accepted, centre.median_receipt_hours) == (1, 1, 5.0)
    assert shelter.sent == 0
    assert [d.day for d in found.decisions] == [date(2026, 6, 1)]
    assert found.traces == []


def test_the_review_reminder_counts_with_the_same_figures(session, network, clock, year):
    counted = figures(session, year, date(2026, 6, 1), date(2026, 11, 28))
    assert (counted.referrals, counted.accepted, counted.decided) == (4, 1, 3)
    assert counted.median_receipt_hours == 2.0  # 4, 2 and 1 hours, both ways


def test_the_requests_between_the_two_organizations_are_counted_by_kind_and_where_they_stand(
    session, protocols, network, clock, year, as_
):
    centre, shelter, legal = network.womens_centre, network.shelter, network.legal_aid
    today = clock.now
    clock.now = at(date(2026, 10, 5))
    room = {"what": "La grande salle", "starts_at": "2026-12-10T09:00", "ends_at": "2026-12-10T17:00"}

    def loan(asking, answering) -> int:
        asked = ask(
            session,
            protocols,
            asking.coordinator,
            protocol_name="loan",
            answering_organization_id=answering.organization.id,
            fields=room,
            clock=clock,
        )
        return asked.id

    accepted = loan(centre, shelter)
    dates = {key: room[key] for key in ("starts_at", "ends_at")}
    fire_request(session, protocols, accepted, "accept", shelter.coordinator, fields=dates, clock=clock)
    declined = loan(centre, shelter)
    fire_request(
        session, protocols, declined, "decline", shelter.coordinator, reason="not_available", clock=clock
    )
    loan(shelter, centre)  # not answered yet
    loan(centre, legal)  # another partnership's
    clock.now = today

    current, earlier = periods(session, year, clock)
    centre_first = year.first_organization_id == centre.organization.id

    def ways(from_centre: int, from_shelter: int) -> tuple[int, int]:
        return (from_centre, from_shelter) if centre_first else (from_shelter, from_centre)

    counted = {(c.protocol_name, c.state): (c.there, c.back) for c in bilan(session, year, current).requests}
    assert counted == {
        ("loan", "accepted"): ways(1, 0),
        ("loan", "declined"): ways(1, 0),
        ("loan", "asked"): ways(0, 1),
    }
    assert bilan(session, year, earlier).requests == []

    browser = as_(shelter.caseworker)
    words = text_of(browser.get(f"/directory/partnerships/{year.id}/bilan"))
    assert "Demandes entre les deux organismes, par genre et où elles en sont" in words
    assert "Prêt de locaux ou d'équipement : Accepté" in words
    text = browser.get(f"/directory/partnerships/{year.id}/bilan.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert ["Demandes faites pendant la période", *map(str, ways(2, 1)), "3"] in rows


# The page and the file -------------------------------------------------------------------------


@pytest.fixture
def as_(app, session):
    def signed_in(actor):
        return sign_in(app.test_client(), actor, session)

    return signed_in


def text_of(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def test_the_partnership_page_leads_to_the_bilan_of_the_current_period(as_, network, year):
    browser = as_(network.shelter.caseworker)
    page = browser.get(f"/directory/partnerships/{year.id}").get_data(as_text=True)
    assert f'href="/directory/partnerships/{year.id}/bilan"' in page
    assert "Bilan du partenariat" in page

    response = browser.get(f"/directory/partnerships/{year.id}/bilan")
    assert response.status_code == 200
    words = text_of(response)
    assert "Depuis le 1er juin 2026 (la période en cours)" in words
    assert "Référencements envoyés pendant la période" in words
    assert "Référencements refusés, par motif" in words
    assert "Aucune place disponible" in words
    assert "Rencontre des équipes" in words
    assert "Continuer le protocole" in words
    for private in (HER.name, HER.phone, HER.notes):
        assert private not in words


def test_an_earlier_period_is_chosen_from_the_list_and_a_bad_choice_is_refused_in_french(as_, network, year):
    browser = as_(network.womens_centre.coordinator)
    earlier = browser.get(f"/directory/partnerships/{year.id}/bilan?period=2025-11-02")
    assert earlier.status_code == 200
    assert "Du 2 novembre 2025 au 31 mai 2026" in text_of(earlier)
    for bad in ("2026-01-01", "nonsense", "2025-11-02" * 100):
        refused = browser.get(f"/directory/partnerships/{year.id}/bilan", query_string={"period": bad})
        assert refused.status_code == 400
        assert "Choisissez une des périodes de bilan de la liste." in text_of(refused)
    # A NUL is refused before any page reads it, in French too.
    nul = browser.get(f"/directory/partnerships/{year.id}/bilan", query_string={"period": "\x00"})
    assert nul.status_code == 400
    assert "pas pu être comprise" in text_of(nul)
    assert browser.get(f"/directory/partnerships/{year.id}/bilan.csv?period=nonsense").status_code == 404


def test_the_csv_file_has_the_figures_and_escapes_what_looks_like_a_formula(as_, network, year):
    response = as_(network.shelter.coordinator).get(f"/directory/partnerships/{year.id}/bilan.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"maillage-bilan-{year.id}-2026-06-01.csv" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    by_label = {row[0]: row[1:] for row in rows if row}
    centre_first = year.first_organization_id == network.womens_centre.organization.id
    expected_sent = ["3", "1", "4"] if centre_first else ["1", "3", "4"]
    assert by_label["Référencements envoyés"] == expected_sent
    assert by_label["Référencements acceptés"][2] == "1"
    assert by_label["Aucune place disponible"][2] == "1"
    assert by_label["Service reçu"][2] == "1"
    assert by_label["Délai médian jusqu'à l'accusé de réception (heures)"][2] == "2,0"
    cells = [cell for row in rows for cell in row]
    assert "'" + DECISION in cells
    assert "'-Rencontre des équipes" in cells
    assert not any(cell.startswith(("=", "-", "+", "@")) for cell in cells)
    for private in (HER.name, HER.phone, HER.notes):
        assert private not in text


def test_only_the_two_organizations_and_the_regional_table_read_it(session, as_, network, clock, year):
    address = f"/directory/partnerships/{year.id}/bilan"
    assert as_(network.legal_aid.coordinator).get(address).status_code == 404
    assert as_(network.legal_aid.coordinator).get(address + ".csv").status_code == 404
    nowhere = as_(network.womens_centre.caseworker).get("/directory/partnerships/999999/bilan")
    assert nowhere.status_code == 404
    stranger = as_(network.legal_aid.coordinator).get(f"/directory/partnerships/{year.id}")
    assert f"{address}" not in stranger.get_data(as_text=True)

    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    seen = as_(admin).get(address)
    assert seen.status_code == 200
    words = text_of(seen)
    # The region's figures hide small cells, as its reports do.
    assert "< 5" in words
    assert "Référencements envoyés 4" not in words


def test_a_signed_out_visitor_is_sent_to_sign_in(app, year):
    response = app.test_client().get(f"/directory/partnerships/{year.id}/bilan")
    assert response.status_code in (302, 303)
    assert "/bilan" not in response.headers["Location"].split("?")[0]

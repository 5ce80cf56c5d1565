"""Report figures on a small fixed network, checked against numbers worked out by hand.

The story (`story`): on Friday 27 November 2026 at 10:00 in Montréal, the
women's centre sends six referrals, the shelter one, and a seventh draft
stays unsent. Over the day the receivers acknowledge, accept, decline,
redirect and make first contact at known hours; one referral is never
acknowledged, and the deadline sweep reminds, then escalates. Every figure
below is worked out from those hours. Each test runs on SQLite and on
PostgreSQL, against the same numbers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.referrals.models import Referral
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from service.reports import suppression
from service.reports.models import ReferralFigure
from service.reports.queries import BUCKET
from service.reports.queries import MILESTONES
from service.reports.queries import SEND
from service.reports.queries import Period
from service.reports.queries import Spread
from service.reports.queries import changed_buckets
from service.reports.queries import figures
from service.reports.queries import figures_from_kept_rows
from service.reports.queries import percentile
from service.reports.queries import stale_referrals
from service.reports.queries import unmet_needs
from service.reports.region import stale_months

HOUR = 3600
NOVEMBER = Period.containing("month", date(2026, 11, 27))


@dataclass
class Story:
    referrals: dict[str, Referral]


def send(session, protocols, clock, sender, receiver_id, needs=()) -> Referral:
    draft = open_referral(
        session,
        protocols,
        sender,
        receiver_organization_id=receiver_id,
        protocol_name="standard",
        need_codes=needs,
        clock=clock,
    )
    record_consent(
        session, draft.id, sender, method="verbal", shared_with="partner", purpose="help", clock=clock
    )
    return fire(session, protocols, draft.id, SEND, sender, clock=clock)


@pytest.fixture
def story(session, protocols, network, clock) -> Story:
    centre, shelter, legal = network.womens_centre, network.shelter, network.legal_aid
    to_shelter = shelter.organization.id
    referrals = {
        "A": send(session, protocols, clock, centre.caseworker, to_shelter, ["shelter_emergency"]),
        "B": send(session, protocols, clock, centre.caseworker, to_shelter, ["shelter_emergency"]),
        "C": send(session, protocols, clock, centre.caseworker, to_shelter, ["shelter_emergency"]),
        "D": send(
            session, protocols, clock, centre.caseworker, to_shelter, ["shelter_emergency", "safety_plan"]
        ),
        "E": send(session, protocols, clock, centre.caseworker, to_shelter),
        "F": send(session, protocols, clock, shelter.caseworker, centre.organization.id, ["safety_plan"]),
        "H": send(session, protocols, clock, centre.caseworker, legal.organization.id),
    }
    open_referral(  # never sent: counts nowhere
        session,
        protocols,
        centre.caseworker,
        receiver_organization_id=to_shelter,
        protocol_name="standard",
        clock=clock,
    )
    start = clock.now

    def at(hours: int, name: str, trigger: str, actor, **details) -> None:
        clock.now = start
        clock.advance(hours=hours)
        fire(session, protocols, referrals[name].id, trigger, actor, clock=clock, **details)

    at(1, "A", "acknowledge", shelter.caseworker)
    at(1, "F", "acknowledge", centre.caseworker)
    at(2, "B", "acknowledge", shelter.caseworker)
    at(2, "F", "decline", centre.caseworker, reason="outside_mandate")
    at(3, "A", "accept", shelter.caseworker)
    at(4, "C", "acknowledge", shelter.caseworker)
    at(5, "B", "accept", shelter.caseworker)
    at(6, "C", "decline", shelter.caseworker, reason="no_capacity")
    at(6, "H", "acknowledge", legal.caseworker)
    at(7, "H", "accept", legal.caseworker)
    at(8, "D", "acknowledge", shelter.caseworker)
    at(
        9,
        "D",
        "redirect",
        shelter.caseworker,
        reason="outside_mandate",
        target_organization_id=legal.organization.id,
    )
    at(10, "A", "record_first_contact", shelter.caseworker)
    at(20, "B", "record_first_contact", shelter.caseworker)
    # E is never acknowledged: Tuesday the sweep reminds (2 business days), Thursday it escalates (4).
    clock.now = start
    clock.advance(days=4, hours=1)
    assert run_due_deadline(session, protocols, referrals["E"].id, clock=clock)
    clock.advance(days=2)
    assert run_due_deadline(session, protocols, referrals["E"].id, clock=clock)
    return Story(referrals)


def test_every_shipped_protocol_marks_the_milestones_with_the_triggers_the_reports_read(protocols):
    referral_protocols = [protocol for protocol in protocols if protocol.subject == "referral"]
    assert {protocol.name for protocol in referral_protocols} >= {"standard", "urgent", "accompanied"}
    for protocol in referral_protocols:
        triggers = {transition.trigger for transition in protocol.transitions}
        assert {SEND, *MILESTONES.values(), "decline", "redirect", "close"} <= triggers, protocol.name


def test_periods_are_months_quarters_and_years_of_montreal_days():
    assert Period.containing("quarter", date(2026, 11, 27)) == Period(
        "quarter", date(2026, 10, 1), date(2027, 1, 1)
    )
    assert Period.containing("year", date(2026, 2, 1)).next().start == date(2027, 1, 1)
    assert NOVEMBER.previous() == Period("month", date(2026, 10, 1), date(2026, 11, 1))
    assert str(NOVEMBER.moments[0]) == "2026-11-01 00:00:00-04:00"
    with pytest.raises(ValueError, match="unknown period"):
        Period.containing("decade", date(2026, 1, 1))


def test_the_sending_organization_sees_its_referrals_by_state_with_rates_and_times(
    session, protocols, network, story
):
    centre = network.womens_centre.organization.id
    sent = figures(session, protocols, NOVEMBER, organization_id=centre, by="direction")["sent"]
    # A, B, C, D, E, H: the draft never sent does not count.
    assert sent.referrals == 6
    assert {state: n for state, n in sent.states.items() if n} == {
        "in_progress": 2,
        "declined": 1,
        "redirected": 1,
        "sent": 1,
        "accepted": 1,
    }
    assert (sent.accepted, sent.decided, sent.acceptance_percent) == (3, 5, 60)
    # E missed its receipt deadline: one reminder, one escalation, 1 referral in 6.
    assert (sent.missed, sent.missed_percent, sent.reminders, sent.escalations) == (1, 17, 1, 1)
    # Receipt after 1, 2, 4, 8 and 6 hours: median 4 h; 90th percentile between 6 and 8 h, at 0.6.
    assert sent.times["received"] == Spread(5, 4 * HOUR, round(7.2 * HOUR))
    assert sent.times["accepted"] == Spread(3, 5 * HOUR, round(6.6 * HOUR))
    assert sent.times["first_contact"] == Spread(2, 15 * HOUR, 19 * HOUR)


def test_the_receiving_side_and_each_partner_have_their_own_figures(session, protocols, network, story):
    centre = network.womens_centre.organization.id
    received = figures(session, protocols, NOVEMBER, organization_id=centre, by="direction")["received"]
    assert (received.referrals, received.accepted, received.decided, received.acceptance_percent) == (
        1,
        0,
        1,
        0,
    )
    assert received.times["received"] == Spread(1, HOUR, HOUR)

    partners = figures(session, protocols, NOVEMBER, organization_id=centre, by="partner")
    shelter, legal = network.shelter.organization.id, network.legal_aid.organization.id
    assert set(partners) == {shelter, legal}
    # With the shelter, both ways: A-E and F; receipt after 1, 1, 2, 4, 8 hours.
    assert (partners[shelter].referrals, partners[shelter].acceptance_percent) == (6, 40)
    assert partners[shelter].times["received"].median == 2 * HOUR
    assert (partners[legal].referrals, partners[legal].acceptance_percent) == (1, 100)


def test_an_organization_sees_only_the_referrals_it_sent_or_received(session, protocols, network, story):
    legal = network.legal_aid.organization.id
    by_direction = figures(session, protocols, NOVEMBER, organization_id=legal, by="direction")
    assert set(by_direction) == {"received"}
    assert by_direction["received"].referrals == 1
    assert set(figures(session, protocols, NOVEMBER, organization_id=legal, by="partner")) == {
        network.womens_centre.organization.id
    }


def test_the_region_counts_every_sent_referral_once(session, protocols, story):
    region = figures(session, protocols, NOVEMBER)["region"]
    assert region.referrals == 7
    assert (region.accepted, region.decided) == (3, 6)
    # Receipt after 1, 1, 2, 4, 6, 8 hours: median between 2 and 4; 90th percentile between 6 and 8.
    assert region.times["received"] == Spread(6, 3 * HOUR, 7 * HOUR)


def test_another_period_is_empty(session, protocols, story):
    assert figures(session, protocols, NOVEMBER.previous()) == {}
    assert unmet_needs(session, NOVEMBER.next()).counts == {}


def test_unmet_needs_count_declines_and_redirects_by_need_and_reason(session, story):
    # C (shelter: no capacity), D (shelter, safety plan: outside mandate), F (safety plan: outside mandate).
    assert unmet_needs(session, NOVEMBER).counts == {
        "shelter_emergency": {"no_capacity": 1, "outside_mandate": 1},
        "safety_plan": {"outside_mandate": 2},
    }
    assert unmet_needs(session, NOVEMBER, ["redirect"]).counts == {
        "shelter_emergency": {"outside_mandate": 1},
        "safety_plan": {"outside_mandate": 1},
    }


def test_figures_follow_the_log_when_a_referral_moves_after_a_report(
    session, protocols, network, story, clock
):
    before = figures(session, protocols, NOVEMBER)["region"]
    assert (before.states["closed"], before.states["in_progress"]) == (0, 2)
    a = story.referrals["A"]
    fire(
        session,
        protocols,
        a.id,
        "close",
        network.womens_centre.caseworker,
        reason="service_received",
        clock=clock,
    )
    # Only the referral that moved needs its figures brought up to date.
    assert session.scalars(stale_referrals(NOVEMBER)).all() == [a.id]
    assert changed_buckets(session, NOVEMBER) == [a.id // BUCKET]
    region = figures(session, protocols, NOVEMBER)["region"]
    assert (region.states["closed"], region.states["in_progress"]) == (1, 1)
    assert {code: n for code, n in region.outcomes.items() if n} == {"service_received": 1}
    assert session.scalars(stale_referrals(NOVEMBER)).all() == []


# The region's months ------------------------------------------------------------------


def test_the_regions_months_give_the_figures_of_the_kept_rows_as_referrals_move(
    session, protocols, network, story, clock
):
    year = Period.containing("year", NOVEMBER.start)
    quarter = Period.containing("quarter", NOVEMBER.start)
    for period in (NOVEMBER, quarter, year):
        assert figures(session, protocols, period) == figures_from_kept_rows(session, protocols, period)
    assert stale_months(session, year) == []
    centre, shelter = network.womens_centre, network.shelter
    # Times to the microsecond, as the real clock gives them: the months keep them exactly.
    clock.now = datetime(2026, 11, 30, 20, 0, 0, 123457, tzinfo=UTC)
    fire(session, protocols, story.referrals["E"].id, "acknowledge", shelter.caseworker, clock=clock)
    late = send(session, protocols, clock, centre.caseworker, shelter.organization.id)
    clock.advance(seconds=99, microseconds=999_999)
    fire(session, protocols, late.id, "acknowledge", shelter.caseworker, clock=clock)
    # Only the month of the referrals that moved, or were opened, is rolled up again.
    assert stale_months(session, year) == [NOVEMBER.start]
    region = figures(session, protocols, year)["region"]
    assert stale_months(session, year) == []
    assert region.referrals == 8
    # Receipt after 100 s (late), 1, 1, 2, 4, 6, 8 and 77 h (E, from Friday 10:00 to Monday 15:00):
    # median between 2 and 4 h; 90th percentile between 8 and 77 h, at 0.3.
    assert region.times["received"] == Spread(8, 3 * HOUR, round(28.7 * HOUR))
    for period in (NOVEMBER, quarter, year):
        assert figures(session, protocols, period) == figures_from_kept_rows(session, protocols, period)


def test_the_regions_months_pick_the_exact_percentiles_among_many_durations(session, protocols, network):
    """Durations from a second to months, to the microsecond, some on the edges of the months' buckets."""
    draw = random.Random(6)
    edges = [0.0, 99.999999, 100.0, 100.000001, 999.999999, 1000.0, 86_400.0, -0.5]
    sent_at = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)
    durations: dict[str, list[float]] = {"received": [], "accepted": [], "first_contact": []}
    for n in range(400):
        opened = sent_at + timedelta(days=n % 50, microseconds=draw.randrange(10**6))
        referral = Referral(
            protocol_name="standard",
            protocol_version=1,
            sender_organization_id=network.womens_centre.organization.id,
            receiver_organization_id=network.shelter.organization.id,
            state="in_progress",
            state_entered_at=opened,
            last_seq=0,
            created_at=opened,
        )
        session.add(referral)
        session.flush()
        # The buckets' edges, then spread over powers of ten: receipt within minutes, acceptance
        # within hours, first contact within days to months; fewer reach the later steps.
        after = {
            name: (edges[n % len(edges)] if n < 40 else round(10 ** draw.uniform(*powers), 6))
            if draw.random() < reach
            else None
            for name, reach, powers in (
                ("received", 0.95, (0, 2.5)),
                ("accepted", 0.6, (2, 5)),
                ("first_contact", 0.3, (4, 7)),
            )
        }
        for name, seconds in after.items():
            if seconds is not None:
                durations[name].append(timedelta(seconds=seconds).total_seconds())
        # Kept figures stamped with the referral's `last_seq`: up to date, so they count as they are
        # (there is no log to refresh them from).
        session.add(
            ReferralFigure(
                referral_id=referral.id,
                last_seq=0,
                sender_organization_id=referral.sender_organization_id,
                receiver_organization_id=referral.receiver_organization_id,
                created_at=opened,
                state="in_progress",
                sent_at=opened,
                **{
                    f"{name}_at": None if seconds is None else opened + timedelta(seconds=seconds)
                    for name, seconds in after.items()
                },
                decided=True,
                accepted=True,
                outcome=None,
                reminders=0,
                escalations=0,
            )
        )
    session.commit()
    quarter = Period.containing("quarter", sent_at.date())
    region = figures(session, protocols, quarter)["region"]
    assert region == figures_from_kept_rows(session, protocols, quarter)["region"]
    assert region.referrals == 400
    for name, values in durations.items():
        # Rounded half up, as the reports show seconds.
        median, p90 = (math.floor(percentile(values, fraction) + 0.5) for fraction in (0.5, 0.9))
        assert region.times[name] == Spread(len(values), median, p90), name


# Small cells ---------------------------------------------------------------------------


def test_a_small_cell_is_hidden_and_so_is_the_cell_that_would_give_it_back():
    # Shelter: 3 for lack of room, 10 outside the mandate; safety plan: 6 and 8.
    cells = suppression.suppress([[3, 10, 13], [6, 8, 14], [9, 18, 27]])
    shown = [[cell.shown for cell in row] for row in cells]
    # The 3 alone would come back as 13 - 10: its row's 10 goes too, then the
    # columns' 6 and 8 for the same reason. The totals, all 5 or more, stay.
    assert shown == [["< 5", "x", "13"], ["x", "x", "14"], ["9", "18", "27"]]


def test_a_small_total_is_hidden_with_its_cells():
    cells, total = suppression.suppress_line([2, 0, 1])
    assert [cell.shown for cell in cells] == ["< 5", "0", "< 5"]
    assert total.shown == "< 5"


def test_a_lone_small_cell_beside_a_total_hides_another_cell():
    cells, total = suppression.suppress_line([40, 3, 0, 12])
    assert [cell.shown for cell in cells] == ["40", "< 5", "0", "x"]
    assert total.shown == "55"


@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(min_value=0, max_value=30), min_size=width, max_size=width),
            min_size=1,
            max_size=6,
        )
    )
)
def test_no_suppressed_cell_can_be_worked_out_from_a_total(inner):
    table = [[*row, sum(row)] for row in inner]
    table.append([sum(row[j] for row in table) for j in range(len(table[0]))])
    cells = suppression.suppress(table)
    lines = list(cells) + [list(column) for column in zip(*cells, strict=True)]
    for line in lines:
        # One hidden number in an additive line is its total minus the rest: never exactly one.
        assert sum(1 for cell in line if cell.hidden) != 1, line
    for row in cells:
        for cell in row:
            assert cell.hidden or not suppression.is_small(cell.value)
            assert cell.visible is None or cell.visible >= suppression.THRESHOLD or cell.visible == 0


def test_percentiles_interpolate_as_postgresql_does():
    assert percentile([1, 2, 4, 6, 8], 0.9) == pytest.approx(7.2)
    assert percentile([5], 0.5) == 5
    assert percentile([], 0.5) is None

"""Stories of a dashboard after years of use: each part comes a page at a time, sorted, counted and
cut in the database, so a page costs the same few queries however many referrals there are."""

from __future__ import annotations

import html as markup
import re
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.db import without_parallel_workers
from service.partnership_requests.models import PartnershipRequest
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.queries import DASHBOARD_PAGE_SIZE
from service.referrals.queries import in_states
from service.referrals.queries import status
from tests.conftest import Network
from tests.service.test_api_referrals import statements
from tests.service.test_referral_pages import signed_in

PAGE = DASHBOARD_PAGE_SIZE


def written(
    session: Session,
    protocols,
    state: str,
    sender: Actor,
    receiver_organization_id: int,
    start: datetime,
    *,
    count: int = 1,
    every: timedelta = timedelta(hours=5),
    urgent: bool = False,
) -> list[Referral]:
    """`count` standard referrals left in `state`, opened (and sent, but drafts) from `start`, `every` apart.

    Written as the operations leave them rather than walked through the protocol: walking
    hundreds of referrals would take minutes.
    """
    protocol = protocols.get("standard")
    parameters = protocol.resolve_parameters({})
    referrals = []
    for n in range(count):
        at = start + n * every
        referrals.append(
            Referral(
                protocol_name=protocol.name,
                protocol_version=protocol.version,
                parameters=parameters,
                urgent=urgent,
                sender_organization_id=sender.organization_id,
                receiver_organization_id=receiver_organization_id,
                created_by_id=sender.user_id,
                state=state,
                state_entered_at=at,
                deadline_step=0,
                due_at=protocol.due_at(state, at, 0, parameters),
                last_seq=1 if state == protocol.initial else 2,
                created_at=at,
                sent_at=None if state == protocol.initial else at,
            )
        )
    session.add_all(referrals)
    session.flush()
    if state != protocol.initial:
        session.add_all(
            ReferralEvent(
                referral_id=referral.id,
                seq=2,
                kind="transition",
                trigger=SHARING_TRIGGER,
                from_state=protocol.initial,
                to_state=state,
                actor_user_id=sender.user_id,
                actor_party="sender",
                at=referral.created_at,
            )
            for referral in referrals
        )
    session.commit()
    return referrals


def part(html: str, name: str) -> str:
    """One part of the dashboard: "ours", "theirs" or "finished"."""
    start = html.index(f'id="{name}-title"')
    return html[start : html.index("</section>", start)]


def listed(html: str) -> list[int]:
    return [int(number) for number in re.findall(r"No\. (\d+)<", html)]


def total(html: str) -> int:
    return int(re.search(r'class="ref-count">\((\d+)\)', html).group(1))


def link(html: str, rel: str) -> str:
    return markup.unescape(re.search(rf'<a href="([^"]+)" rel="{rel}">', html).group(1))


def current_page(html: str) -> int:
    return int(re.search(r'aria-current="page"[^>]*>(\d+)</a>', html).group(1))


def test_finished_referrals_come_a_page_at_a_time_newest_first_and_next_leads_to_the_rest(
    app, session, protocols, network: Network, clock
):
    centre = network.womens_centre
    closed = written(
        session,
        protocols,
        "closed",
        centre.caseworker,
        network.shelter.organization.id,
        clock.now - timedelta(days=400),
        count=PAGE + 5,
    )
    newest_first = [r.id for r in reversed(closed)]
    client = signed_in(app, centre.coordinator, session)

    first = part(client.get("/").text, "finished")
    assert total(first) == PAGE + 5
    assert listed(first) == newest_first[:PAGE]
    assert '<nav aria-label="Pages of the finished referrals">' in first
    assert current_page(first) == 1
    assert 'rel="prev"' not in first

    second = part(client.get(link(first, "next")).text, "finished")
    assert total(second) == PAGE + 5
    assert listed(second) == newest_first[PAGE:]
    assert current_page(second) == 2
    assert 'rel="next"' not in second
    assert listed(part(client.get(link(second, "prev")).text, "finished")) == newest_first[:PAGE]


def test_a_page_link_keeps_the_rest_of_the_address(app, session, protocols, network: Network, clock):
    centre = network.womens_centre
    shelter_id = network.shelter.organization.id
    start = clock.now - timedelta(days=400)
    written(session, protocols, "closed", centre.caseworker, shelter_id, start, count=PAGE + 1)
    written(session, protocols, "sent", centre.caseworker, shelter_id, start, count=PAGE + 1)
    page = signed_in(app, centre.coordinator, session).get("/?theirs_page=2&_external=1&_anchor=x").text
    assert current_page(part(page, "theirs")) == 2
    following = link(part(page, "finished"), "next")
    assert "theirs_page=2" in following
    assert "finished_page=2" in following
    assert following.startswith("/?")
    assert following.endswith("#finished-title")


def test_each_part_is_counted_whole_and_sorted_as_before_overdue_and_urgent_first(
    app, session, protocols, network: Network, clock
):
    centre, shelter = network.womens_centre, network.shelter
    start = clock.now - timedelta(days=30)
    # Sent by the centre, waiting on the shelter: the older ones are overdue; a few are urgent.
    theirs = written(
        session, protocols, "sent", centre.caseworker, shelter.organization.id, start, count=PAGE
    )
    theirs += written(
        session, protocols, "sent", centre.caseworker, shelter.organization.id, start, count=3, urgent=True
    )
    theirs += written(
        session,
        protocols,
        "sent",
        centre.caseworker,
        shelter.organization.id,
        clock.now,
        count=2,
        urgent=True,
    )
    # Waiting on the centre: its own drafts, and what the shelter sent it.
    ours = written(session, protocols, "draft", centre.caseworker, shelter.organization.id, start, count=2)
    ours += written(
        session, protocols, "received", shelter.caseworker, centre.organization.id, start, count=3
    )
    finished = written(session, protocols, "declined", centre.caseworker, shelter.organization.id, start)
    # The shelter's drafts for the centre: not sent, so not the centre's, not even in a count.
    written(session, protocols, "draft", shelter.caseworker, centre.organization.id, start, count=4)

    page = signed_in(app, centre.coordinator, session).get("/").text

    def by_urgency(referral: Referral) -> tuple:
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        deadline = status(protocol, referral, "en", clock.now).deadline
        overdue = deadline is not None and deadline.overdue
        due = deadline.due_at.timestamp() if deadline else float("inf")
        return (not overdue, not referral.urgent, due, -referral.created_at.timestamp(), -referral.id)

    assert total(part(page, "ours")) == 5
    assert listed(part(page, "ours")) == [r.id for r in sorted(ours, key=by_urgency)]
    assert total(part(page, "theirs")) == PAGE + 5
    assert listed(part(page, "theirs")) == [r.id for r in sorted(theirs, key=by_urgency)][:PAGE]
    assert total(part(page, "finished")) == 1
    assert listed(part(page, "finished")) == [finished[0].id]


def test_a_page_costs_the_same_statements_with_10_referrals_or_200(
    app, session, engine, protocols, network: Network, clock
):
    centre, shelter = network.womens_centre, network.shelter
    client = signed_in(app, centre.coordinator, session)

    def add(each: int) -> None:
        start = clock.now - timedelta(days=60)
        to_shelter, to_centre = shelter.organization.id, centre.organization.id
        written(session, protocols, "sent", centre.caseworker, to_shelter, start, count=each)
        written(session, protocols, "received", shelter.caseworker, to_centre, start, count=each)
        written(session, protocols, "closed", centre.caseworker, to_shelter, start, count=each)

    def cost(address: str) -> int:
        client.get(address)  # the first request after a change may fill a cache
        with statements(engine) as sent:
            assert client.get(address).status_code == 200
        return len(sent)

    add(each=4)  # 12: every part on one page
    few = [cost("/"), cost("/?finished_page=2")]
    add(each=66)  # 210: every part on two pages
    many = [cost("/"), cost("/?finished_page=2")]
    assert many == few
    assert len(listed(client.get("/").text)) == 3 * PAGE


@pytest.mark.parametrize(
    ("asked", "shown"),
    [("abc", 1), ("-1", 1), ("0", 1), ("", 1), ("1.5", 1), ("3", 2), ("99999999999999999999999", 2)],
)
def test_a_page_that_does_not_exist_gives_the_nearest_one(
    app, session, protocols, network: Network, clock, asked, shown
):
    centre = network.womens_centre
    closed = written(
        session,
        protocols,
        "closed",
        centre.caseworker,
        network.shelter.organization.id,
        clock.now - timedelta(days=400),
        count=PAGE + 1,
    )
    response = signed_in(app, centre.coordinator, session).get(f"/?finished_page={asked}")
    assert response.status_code == 200
    finished = part(response.text, "finished")
    assert current_page(finished) == shown
    assert listed(finished) == ([r.id for r in reversed(closed)][:PAGE] if shown == 1 else [closed[0].id])


def test_a_receiver_never_sees_unsent_drafts_on_any_page(app, session, protocols, network: Network, clock):
    centre, shelter = network.womens_centre, network.shelter
    start = clock.now - timedelta(days=10)
    drafts = written(
        session, protocols, "draft", centre.caseworker, shelter.organization.id, start, count=PAGE + 3
    )
    sent = written(session, protocols, "sent", centre.caseworker, shelter.organization.id, start, count=2)
    for actor in (shelter.coordinator, shelter.caseworker):
        client = signed_in(app, actor, session)
        for address in ("/", "/?ours_page=2", "/?theirs_page=2", "/?finished_page=2"):
            page = client.get(address).text
            assert set(listed(page)) == {r.id for r in sent}, (actor.role, address)
            assert [total(part(page, name)) for name in ("ours", "theirs", "finished")] == [2, 0, 0]
            assert "Pages of the" not in page
    # The centre's own caseworker has them all, a page at a time.
    page = part(signed_in(app, centre.caseworker, session).get("/").text, "ours")
    assert total(page) == PAGE + 3
    assert len(listed(page)) == PAGE
    assert set(listed(page)) <= {r.id for r in drafts}


def test_the_finished_part_merges_what_was_sent_and_received_newest_sent_first_on_every_page(
    app, session, protocols, network: Network, clock
):
    centre, shelter = network.womens_centre, network.shelter
    start = clock.now - timedelta(days=400)
    sent = written(
        session, protocols, "closed", centre.caseworker, shelter.organization.id, start, count=PAGE + 3
    )
    # Received from the shelter: ten hours after the sent ones start, so some were sent at the same moment.
    received = written(
        session,
        protocols,
        "declined",
        shelter.caseworker,
        centre.organization.id,
        start + timedelta(hours=10),
        count=PAGE + 3,
    )
    # Cancelled before it was ever sent: among the others by when it was opened.
    cancelled = written(
        session, protocols, "cancelled", centre.caseworker, shelter.organization.id, start + timedelta(days=5)
    )
    cancelled[0].sent_at = None
    session.commit()
    newest_first = [
        r.id for r in sorted(sent + received + cancelled, key=lambda r: (r.sent_at or r.created_at, r.id))
    ][::-1]

    coordinator = signed_in(app, centre.coordinator, session)
    shown = []
    for number in (1, 2, 3):
        page = part(coordinator.get(f"/?finished_page={number}").text, "finished")
        assert total(page) == 2 * (PAGE + 3) + 1
        shown.append(listed(page))
    assert shown == [newest_first[:PAGE], newest_first[PAGE : 2 * PAGE], newest_first[2 * PAGE :]]

    # A caseworker's finished part: what she sent, never what the organization received.
    mine = [i for i in newest_first if i not in {r.id for r in received}]
    caseworker = signed_in(app, centre.caseworker, session)
    first = part(caseworker.get("/").text, "finished")
    second = part(caseworker.get("/?finished_page=2").text, "finished")
    assert total(first) == PAGE + 4
    assert [listed(first), listed(second)] == [mine[:PAGE], mine[PAGE:]]


def test_the_lists_filters_name_only_the_protocols_of_their_own_subject(protocols):
    """A referral is never under a partnership request's protocol: naming those states too made each
    part's filter look costly enough that PostgreSQL planned two workers for it (a 15 ms statement
    instead of 2.5 ms at ten years of data, bench/pages.py)."""

    def named(which: Any) -> set[str]:
        return set(
            re.findall(r"protocol_name = '(\w+)'", str(which.compile(compile_kwargs={"literal_binds": True})))
        )

    terminal = lambda spec: spec.terminal  # noqa: E731 - the same rule for both subjects
    of_referrals = named(in_states(protocols, terminal))
    of_requests = named(in_states(protocols, terminal, PartnershipRequest, "partnership_request"))
    assert of_referrals == {p.name for p in protocols if p.subject == "referral"}
    assert of_requests == {p.name for p in protocols if p.subject == "partnership_request"}
    assert len(of_referrals) >= 3
    assert len(of_requests) >= 5


def test_a_page_plans_its_statements_without_parallel_workers_and_only_for_itself(session):
    """PostgreSQL: within the page's transaction, no parallel workers (their start outlasts the scans
    of one organization's rows); the connection's setting comes back with the next transaction."""
    if session.get_bind().dialect.name != "postgresql":
        without_parallel_workers(session)  # nothing to set on SQLite, and nothing fails
        return
    setting = "SHOW max_parallel_workers_per_gather"
    before = session.scalar(text(setting))
    without_parallel_workers(session)
    assert session.scalar(text(setting)) == "0"
    session.rollback()
    assert session.scalar(text(setting)) == before != "0"

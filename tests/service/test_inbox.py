"""Stories of the inbox and the other pages after years of use: the inbox comes a page at a time,
each referral on exactly one page, in the order it always had; no page costs more statements
because the organization has more referrals."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from service.referrals.models import ReferralEvent
from service.referrals.operations import SHARING_TRIGGER
from service.referrals.queries import INBOX_PAGE_SIZE
from service.referrals.queries import status
from tests.conftest import Network
from tests.service.test_api_referrals import statements
from tests.service.test_dashboard import link
from tests.service.test_dashboard import total
from tests.service.test_dashboard import written
from tests.service.test_referral_pages import signed_in

PAGE = INBOX_PAGE_SIZE


def listed(html: str) -> list[int]:
    """The numbers of the referrals a page lists, in English ("No. 12") or French ("Nº 12")."""
    return [int(number) for number in re.findall(r"(?:No\.|Nº) (\d+)<", html)]


def received_by_shelter(session, protocols, network: Network, clock, each: int) -> list:
    """Referrals to the shelter from the centre in every kind of place: overdue, fresh, finished, drafts."""
    centre, shelter = network.womens_centre, network.shelter
    to_shelter, hour = shelter.organization.id, timedelta(hours=1)
    long_ago, lately = clock.now - timedelta(days=90), clock.now - timedelta(hours=each + 1)
    return [
        *written(session, protocols, "sent", centre.caseworker, to_shelter, long_ago, count=each),
        *written(
            session, protocols, "received", centre.coordinator, to_shelter, lately, count=each, every=hour
        ),
        *written(
            session, protocols, "sent", centre.caseworker, to_shelter, lately, count=each, every=timedelta(0)
        ),
        *written(session, protocols, "closed", centre.caseworker, to_shelter, long_ago, count=each),
        *written(session, protocols, "draft", centre.caseworker, to_shelter, lately, count=each, every=hour),
    ]


def expected_order(session, protocols, referrals, now) -> list[int]:
    """The inbox's order as it was sorted in Python before it was paged: open ones first, overdue
    first, then the newest sent, then the highest number; never a draft."""
    sent = dict(  # from the event log, which `referrals.sent_at` stands for
        session.execute(
            select(ReferralEvent.referral_id, func.min(ReferralEvent.at))
            .where(
                ReferralEvent.referral_id.in_([r.id for r in referrals]),
                ReferralEvent.trigger == SHARING_TRIGGER,
            )
            .group_by(ReferralEvent.referral_id)
        ).all()
    )
    shown = [r for r in referrals if r.id in sent]

    def key(referral) -> tuple:
        seen = status(protocols.get(referral.protocol_name, referral.protocol_version), referral, "fr", now)
        overdue = seen.deadline is not None and seen.deadline.overdue
        return (seen.finished, not overdue, -sent[referral.id].timestamp(), -referral.id)

    return [r.id for r in sorted(shown, key=key)]


def test_the_inbox_shows_every_received_referral_once_across_its_pages_in_its_old_order(
    app, session, protocols, network: Network, clock
):
    referrals = received_by_shelter(session, protocols, network, clock, each=23)  # 92 sent: two pages
    client = signed_in(app, network.shelter.caseworker, session, language="fr")
    first = client.get("/referrals/received").text
    assert total(first) == 92
    assert len(listed(first)) == PAGE
    assert "Page suivante" in first
    assert 'rel="prev"' not in first
    second = client.get(link(first, "next")).text
    assert 'rel="next"' not in second
    assert "Page précédente" in second
    shown = listed(first) + listed(second)
    assert shown == expected_order(session, protocols, referrals, clock.now)
    assert len(set(shown)) == len(shown) == 92
    assert listed(client.get(link(second, "prev")).text) == listed(first)


def test_an_inbox_page_that_does_not_exist_gives_the_nearest_one(app, session, protocols, network, clock):
    received_by_shelter(session, protocols, network, clock, each=15)  # 60 sent: two pages
    client = signed_in(app, network.shelter.caseworker, session)
    last = listed(client.get("/referrals/received?page=2").text)
    assert len(last) == 60 - PAGE
    assert listed(client.get("/referrals/received?page=99999999999999999999").text) == last
    assert listed(client.get("/referrals/received?page=abc").text) == listed(
        client.get("/referrals/received").text
    )


def test_no_page_costs_more_statements_with_more_referrals(
    app, session, engine, protocols, network: Network, clock
):
    centre, shelter = network.womens_centre, network.shelter
    one = written(session, protocols, "received", centre.caseworker, shelter.organization.id, clock.now)[0]
    caseworker = signed_in(app, shelter.caseworker, session)
    coordinator = signed_in(app, shelter.coordinator, session)
    pages = [
        (caseworker, "/"),
        (coordinator, "/"),
        (caseworker, "/referrals/received"),
        (caseworker, "/referrals/received?page=2"),
        (caseworker, f"/referrals/{one.id}"),
        (caseworker, "/directory/?q=refuge"),
    ]

    def costs() -> list[int]:
        counted = []
        for client, address in pages:
            client.get(address)  # the first request after a change may fill a cache
            with statements(engine) as sent:
                assert client.get(address).status_code == 200
            counted.append(len(sent))
        return counted

    received_by_shelter(session, protocols, network, clock, each=4)
    written(session, protocols, "sent", shelter.caseworker, centre.organization.id, clock.now, count=4)
    few = costs()
    received_by_shelter(session, protocols, network, clock, each=60)
    written(session, protocols, "sent", shelter.caseworker, centre.organization.id, clock.now, count=120)
    many = costs()
    assert many == few

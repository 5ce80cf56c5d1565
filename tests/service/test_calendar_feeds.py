"""Stories of the calendar: a coordinator makes her organization's feed address and a caseworker her
own; a calendar application reads them (parsed back and validated by the `icalendar` library); a
revoked address answers 404; no other organization's dated thing and nothing of a woman is in them;
the regional calendar's events are filtered by clientele and need; a review reminder carries an
`.ics` invitation with the feed's uid."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.calendars.feeds import create_feed
from service.calendars.models import CalendarFeed
from service.calendars.models import PublicEvent
from service.calendars.public_events import EventDetails
from service.calendars.public_events import post_event
from service.directory.operations import PartnershipTerms
from service.directory.operations import create_partnership
from service.directory.reviews import queue_review_reminders
from service.links.redaction import mask_tokens
from service.notifications.emails import compose_summary
from service.notifications.models import OutboxMessage
from tests.conftest import sign_in
from tests.service.test_referral_pages import PERSON
from tests.service.test_referral_pages import referral_in

MONTREAL = ZoneInfo("America/Montreal")
# The uids' domain: the host of the configured public address (MAILLAGE_BASE_URL's default here).
HOST = "127.0.0.1"
FEED_ADDRESS = re.compile(r"http://localhost/calendar/feed/(cal_[A-Za-z0-9_-]{40,})\.ics")


def made_address(client, scope: str) -> str:
    """Make a feed address from the « Calendrier » page; the path of the feed it shows once."""
    made = client.post(f"/calendar/feeds/{scope}")
    assert made.status_code == 201, made.text
    token = FEED_ADDRESS.search(made.text)[1]
    assert token not in client.get("/calendar/").text  # shown once
    return f"/calendar/feed/{token}.ics"


def read_feed(client, path: str) -> Calendar:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    calendar = Calendar.from_ical(answer.data)
    calendar.validate()
    return calendar


def presentation_partnership(session, network, clock):
    return create_partnership(
        session,
        network.womens_centre.coordinator,
        network.womens_centre.organization.id,
        network.shelter.organization.id,
        PartnershipTerms(kinds=("referral_protocol", "yearly_presentation"), started_on=date(2026, 3, 2)),
        clock=clock,
    )


def test_an_organizations_feed_is_valid_icalendar_with_its_deadlines_and_reviews(
    client, session, protocols, network, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    partnership = presentation_partnership(session, network, clock)
    session.commit()
    sign_in(client, network.shelter.coordinator, session)
    path = made_address(client, "organization")

    calendar = read_feed(client, path)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert [tz.tz_name for tz in calendar.timezones] == ["America/Montreal"]
    assert calendar.get_missing_tzids() == set()
    events = {str(event["UID"]): event for event in calendar.events}
    assert set(events) == {
        f"referral-{referral.id}-deadline@{HOST}",
        f"partnership-{partnership.id}-review@{HOST}",
        f"partnership-{partnership.id}-presentation@{HOST}",
    }
    for event in calendar.events:
        assert clock.now == event.DTSTAMP
        assert event.start is not None
        assert event.end is not None
    deadline = events[f"referral-{referral.id}-deadline@{HOST}"]
    assert deadline["DTSTART"].params["TZID"] == "America/Montreal"
    assert deadline.start.tzinfo.key == "America/Montreal"
    assert deadline.start == referral.due_at
    assert str(deadline["SUMMARY"]).startswith(f"Référence #{referral.id} : ")
    review = events[f"partnership-{partnership.id}-review@{HOST}"]
    assert review.start == date(2027, 3, 2)  # a day: an all-day event, a year after the start
    assert "Bilan de partenariat" in str(review["SUMMARY"])
    assert "Centre de femmes Fictif des Rivières" in str(review["SUMMARY"])
    # Nothing of her, anywhere in the feed.
    text = client.get(path).text
    for value in (PERSON.name, PERSON.phone, PERSON.email):
        assert value not in text

    # Read again later, after the referral moved on: the same uids, its deadline moved.
    clock.advance(hours=3)
    again = read_feed(client, path)
    assert {str(e["UID"]) for e in again.events} == set(events)
    assert all(clock.now == e.DTSTAMP for e in again.events)


def test_a_revoked_address_answers_404_and_is_audited(client, session, network, clock):
    sign_in(client, network.shelter.caseworker, session)
    path = made_address(client, "mine")
    assert client.get(path).status_code == 200
    feed = session.scalar(
        select(CalendarFeed).where(CalendarFeed.user_id == network.shelter.caseworker.user_id)
    )
    assert feed.token_hash not in path
    assert feed.prefix in path

    assert client.post(f"/calendar/feeds/{feed.id}/revoke").status_code == 303
    assert client.get(path).status_code == 404
    assert client.get("/calendar/feed/cal_unknown.ics").status_code == 404
    assert client.get(path.replace("cal_", "mlg_")).status_code == 404
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.organization_id == network.shelter.organization.id)
    ).all()
    assert {"calendar_feed.created", "calendar_feed.revoked"} <= set(actions)
    # The token never reaches a log line.
    assert mask_tokens(f"GET {path} HTTP/1.1") == "GET /calendar/feed/*** HTTP/1.1"


def test_a_caseworker_makes_no_organization_feed_and_revokes_no_one_elses(client, session, network, clock):
    _feed, _token = create_feed(session, network.shelter.coordinator, for_organization=True, clock=clock)
    _other, _ = create_feed(session, network.legal_aid.caseworker, for_organization=False, clock=clock)
    sign_in(client, network.shelter.caseworker, session)
    assert client.post("/calendar/feeds/organization").status_code == 403
    assert client.post(f"/calendar/feeds/{_feed.id}/revoke").status_code == 404
    assert client.post(f"/calendar/feeds/{_other.id}/revoke").status_code == 404
    assert session.get(CalendarFeed, _other.id).active
    assert session.get(CalendarFeed, _feed.id).active


def test_other_organizations_things_never_appear(client, session, protocols, network, clock):
    referral_in("received", session, protocols, network, clock)
    presentation_partnership(session, network, clock)
    post_event(
        session,
        network.shelter.coordinator,
        EventDetails(
            "training",
            "Formation du Phare",
            clock.now + timedelta(days=5),
            clock.now + timedelta(days=5, hours=2),
        ),
        clock=clock,
    )
    session.commit()
    sign_in(client, network.legal_aid.coordinator, session)
    calendar = read_feed(client, made_address(client, "organization"))
    assert list(calendar.events) == []  # valid all the same: its VTIMEZONE
    text = client.get("/calendar/").text
    assert "Référence #" not in text
    assert "Formation du Phare" not in text


def test_a_persons_feed_has_her_referrals_and_her_organizations_received_ones(
    client, session, protocols, network, clock
):
    opened = referral_in("sent", session, protocols, network, clock)
    by_a_colleague = referral_in(
        "sent", session, protocols, network, clock, sender=network.womens_centre.coordinator
    )
    presentation_partnership(session, network, clock)
    session.commit()
    sign_in(client, network.womens_centre.caseworker, session)
    mine = read_feed(client, made_address(client, "mine"))
    # Her referral's deadline; neither her colleague's nor the coordinators' reviews.
    assert [str(e["UID"]) for e in mine.events] == [f"referral-{opened.id}-deadline@{HOST}"]
    assert str(mine["X-WR-CALNAME"]) == "Maillage — mon calendrier (Centre de femmes Fictif des Rivières)"

    receiving = sign_in(client.application.test_client(), network.shelter.caseworker, session)
    theirs = read_feed(receiving, made_address(receiving, "mine"))
    assert {str(e["UID"]) for e in theirs.events} == {
        f"referral-{opened.id}-deadline@{HOST}",
        f"referral-{by_a_colleague.id}-deadline@{HOST}",
    }


def test_a_persons_feed_closes_with_her_account(client, session, network, clock):
    sign_in(client, network.shelter.caseworker, session)
    path = made_address(client, "mine")
    from service.accounts.models import User

    session.get(User, network.shelter.caseworker.user_id).active = False
    session.commit()
    assert client.application.test_client().get(path).status_code == 404


# The regional calendar -----------------------------------------------------------------------


def event(session, actor, title, clock, *, clientele="", needs=(), days=7):
    starts = clock.now + timedelta(days=days)
    details = EventDetails(
        "webinar", title, starts, starts + timedelta(hours=1), clientele=clientele, needs=needs
    )
    return post_event(session, actor, details, clock=clock)


def test_the_regional_calendar_filters_by_clientele_and_need(client, session, network, clock):
    newcomers = "Personnes immigrantes arrivées depuis moins de cinq ans."
    network.legal_aid.organization.clienteles = newcomers
    session.commit()
    event(
        session,
        network.shelter.coordinator,
        "Webinaire francisation",
        clock,
        clientele=newcomers,
        needs=("french_classes",),
    )
    event(session, network.legal_aid.caseworker, "Concertation logement", clock, needs=("housing",))
    event(
        session,
        network.womens_centre.caseworker,
        "Formation violence",
        clock,
        clientele="Autre clientèle",
        needs=("intimate_violence",),
    )
    past = event(session, network.shelter.caseworker, "Déjà passé", clock, days=1)
    past.starts_at, past.ends_at = clock.now - timedelta(days=2), clock.now - timedelta(days=2, hours=-1)
    session.commit()
    sign_in(client, network.womens_centre.caseworker, session)

    def titles(path: str) -> list[str]:
        page = client.get(path)
        assert page.status_code == 200
        return re.findall(r'/calendar/events/\d+">([^<]+)</a>', page.text)

    assert titles("/calendar/events") == [
        "Webinaire francisation",
        "Concertation logement",
        "Formation violence",
    ]
    # A clientele: its events and those for every clientele.
    assert titles(f"/calendar/events?clientele={newcomers}") == [
        "Webinaire francisation",
        "Concertation logement",
    ]
    assert titles("/calendar/events?need=housing") == ["Concertation logement"]
    assert titles(f"/calendar/events?need=housing&clientele={newcomers}") == ["Concertation logement"]
    # An unknown value filters nothing rather than failing.
    assert len(titles("/calendar/events?need=nothing-such")) == 3

    # Its feed, public, with the same filters.
    public = client.application.test_client()
    feed = public.get("/calendar/events.ics", query_string={"need": "french_classes"})
    assert feed.status_code == 200
    calendar = Calendar.from_ical(feed.data)
    calendar.validate()
    assert [str(e["SUMMARY"]) for e in calendar.events] == ["Webinaire francisation"]
    assert calendar.events[0].start.tzinfo.key == "America/Montreal"


def test_an_event_cancelled_leaves_the_calendar_and_a_partner_cannot_cancel_it(
    client, session, network, clock
):
    posted = event(session, network.shelter.coordinator, "Formation du Phare", clock)
    other = sign_in(client.application.test_client(), network.legal_aid.coordinator, session)
    assert other.post(f"/calendar/events/{posted.id}/cancel").status_code == 404
    sign_in(client, network.shelter.caseworker, session)
    assert client.post(f"/calendar/events/{posted.id}/cancel").status_code == 303
    assert client.get(f"/calendar/events/{posted.id}").status_code == 404
    assert "Formation du Phare" not in client.get("/calendar/events").text


def test_an_event_form_says_what_is_wrong_in_french(client, session, network, clock):
    sign_in(client, network.shelter.caseworker, session)
    day = (clock.now + timedelta(days=3)).astimezone(MONTREAL).date().isoformat()
    data = {"kind": "training", "title": "Formation", "day": day, "starts": "10:00", "ends": "09:00"}
    refused = client.post("/calendar/events", data=data)
    assert refused.status_code == 422
    assert "L’heure de fin doit venir après l’heure de début." in refused.text  # noqa: RUF001
    yesterday = (clock.now - timedelta(days=1)).astimezone(MONTREAL).date().isoformat()
    past = client.post("/calendar/events", data=data | {"day": yesterday, "ends": "11:00"})
    assert "L’événement doit commencer dans le futur." in past.text  # noqa: RUF001
    assert client.post("/calendar/events", data=data | {"day": "pas une date"}).status_code == 422
    assert session.scalar(select(PublicEvent)) is None
    assert client.post("/calendar/events", data=data | {"ends": "11:30"}).status_code == 303


# The .ics invitation of a dated email ------------------------------------------------------------


@pytest.mark.parametrize("template", ["partnership_review_due", "partnership_presentation_due"])
def test_a_review_reminder_carries_an_ics_invitation_with_the_feeds_uid(session, network, clock, template):
    partnership = presentation_partnership(session, network, clock)
    clock.now = datetime(2027, 3, 2, 14, 0, tzinfo=MONTREAL)
    queue_review_reminders(session, clock=clock)
    [message] = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == template,
            OutboxMessage.recipient_organization_id == network.shelter.organization.id,
        )
    ).all()
    [sent] = compose_summary(session, message, base_url="https://maillage.example", now=clock.now)
    invitation = Calendar.from_ical(sent.calendar)
    invitation.validate()
    assert invitation["METHOD"] == "PUBLISH"
    [due] = invitation.events
    cycle = "review" if template == "partnership_review_due" else "presentation"
    assert due["UID"] == f"partnership-{partnership.id}-{cycle}@maillage.example"
    assert due.start == date(2027, 3, 2)
    assert str(due["SUMMARY"]) == sent.subject

    parsed = email.message_from_bytes(
        sent.as_bytes("Maillage <maillage@example.org>"), policy=email.policy.default
    )
    [attached] = [part for part in parsed.walk() if part.get_content_type() == "text/calendar"]
    assert attached.get_param("method") == "PUBLISH"
    assert attached.get_filename() == "invitation.ics"
    assert Calendar.from_ical(attached.get_content())["METHOD"] == "PUBLISH"
    assert parsed.get_body(("plain",)).get_content() == sent.text


def test_an_email_about_no_dated_thing_carries_no_invitation(session, network, clock):
    message = OutboxMessage(
        dedupe_key="x",
        template="daily_digest",
        recipient_party="coordinators",
        recipient_organization_id=network.shelter.organization.id,
        payload={"overdue": [], "waiting": [], "path": "/"},
        created_at=clock.now,
        available_at=clock.now,
    )
    from service.calendars.invitations import invitation_for

    assert (
        invitation_for(message.template, message.payload, "x", base_url="https://m.example", now=clock.now)
        is None
    )

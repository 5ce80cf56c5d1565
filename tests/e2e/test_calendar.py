"""A caseworker, in French, finds « Calendrier » in the menu, makes her calendar's address, copies it
into a calendar application (here: reads it as one would, parsed by the `icalendar` library),
revokes it (the address then answers 404), and posts a webinar on the regional calendar, found
again by its need and not by another; axe checks each page."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from icalendar import Calendar
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit

FR = WORDS["fr"]
TITLE = "Webinaire : le logement après la maison d'hébergement"


def test_a_caseworker_makes_her_calendar_address_and_posts_a_public_event(live, page: Page, screenshot):
    audit = Audit()
    referral_id = live.sent_referral()
    sign_in_as(page, live, live.network.shelter.caseworker, "fr")
    # From her dashboard, where she lands (the menu stays one row).
    page.get_by_role("main").get_by_role("link", name="Calendrier", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calendrier")
    audit(page, "calendar")

    page.get_by_role("button", name="Créer une adresse pour mon calendrier").click()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Votre nouvelle adresse de calendrier")
    address = field(page, "Adresse du calendrier").input_value()
    assert "/calendar/feed/cal_" in address
    audit(page, "calendar address made")
    screenshot("calendar-address")

    feed = page.request.get(address)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.body())
    calendar.validate()
    [deadline] = calendar.events
    assert str(deadline["SUMMARY"]).startswith(f"Référence #{referral_id} : ")

    page.goto(f"{live.url}/calendar/")
    page.get_by_role("button", name="Révoquer l’adresse").click()  # noqa: RUF001
    expect(page.get_by_role("status")).to_contain_text("elle n’ouvre plus rien")  # noqa: RUF001
    assert page.request.get(address).status == 404

    page.get_by_role("link", name="Calendrier régional des événements publics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calendrier régional")
    audit(page, "regional calendar")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    field(page, "Type d’événement").select_option(label="Webinaire")  # noqa: RUF001
    field(page, "Titre").fill(TITLE)
    field(page, "Date").fill(day)
    field(page, "Heure de début").fill("13:30")
    field(page, "Heure de fin").fill("15:00")
    field(page, "Lieu ou lien").fill("https://visio.example.org/logement")
    page.get_by_role("group", name="Besoins visés").get_by_label("Logement", exact=True).check()
    page.get_by_role("button", name="Publier l’événement").click()  # noqa: RUF001
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("status")).to_contain_text("L’événement est au calendrier régional.")  # noqa: RUF001
    audit(page, "public event")

    page.get_by_role("link", name="Retour au calendrier régional").click()
    field(page, "Besoin").select_option(label="Logement")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    field(page, "Besoin").select_option(label="Francisation")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("Aucun événement à venir ne correspond.")).to_be_visible()
    audit(page, "regional calendar filtered")
    screenshot("regional-calendar")
    audit.assert_clean()

"""A caseworker refers a woman; the partner answers from the signed link; the caseworker sees it.

The whole path in a real browser, in French (the default) and in English
(chosen once with `?lang=en`, then remembered): sign-in, the intake's steps,
her consent, sending; then the partner's signed link, taken from the database
as the email would carry it. A mail scanner's plain open changes nothing; the
click on the page's button acknowledges receipt; the caseworker's timeline
shows it. Every address the browsers asked for is recorded on the way: none
carries her name, phone or email, and none leaves 127.0.0.1.
"""

from __future__ import annotations

import re
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import func
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.links.operations import issue_link
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from tests.e2e.browser import WORDS
from tests.e2e.browser import Her
from tests.e2e.browser import field
from tests.e2e.browser import her
from tests.e2e.browser import referral_id_of
from tests.e2e.browser import sign_in

LOOPBACK = "127.0.0.1"


def state_and_events(live, referral_id: int) -> tuple[str, int]:
    with live.session() as session:
        state = session.get_one(Referral, referral_id).state
        count = session.scalar(
            select(func.count()).select_from(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
        )
    return state, count


def link_uses(live, referral_id: int, action: str) -> int:
    with live.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.referral_id == referral_id,
                AuditEntry.action == action,
                AuditEntry.signed_link_id.is_not(None),
            )
        )


def assert_private(urls: list[str], woman: Her) -> None:
    """Nothing of her in any address asked for, and nothing asked of another host than ours."""
    assert urls, "no request was recorded"
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "blob"):
            continue
        assert parts.hostname == LOOPBACK, f"a request left the machine: {url}"
        readable = unquote(url).lower()
        for secret in woman.secrets:
            assert secret.lower() not in readable, f"{secret!r} is in the address {url}"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_referral_goes_from_intake_to_receipt_and_back(live, page: Page, new_context, screenshot, language):
    words = WORDS[language]
    woman = her("7731" if language == "fr" else "7732", language)

    def shot(name: str, of: Page | None = None) -> None:
        screenshot(f"{language}-{name}", of)

    urls: list[str] = []
    page.context.on("request", lambda request: urls.append(request.url))
    centre, shelter = live.network.womens_centre, live.network.shelter

    # She signs in. English is chosen once, on the first page, and the choice is remembered.
    query = "?lang=en" if language == "en" else ""
    page.goto(f"{live.url}/sign-in{query}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_have_text(words["sign_in_title"])
    shot("01-sign-in")
    sign_in(page, live.url, live.email(centre.caseworker), words, query=query)
    assert page.url == f"{live.url}/"
    expect(page.locator("html")).to_have_attribute("lang", language)
    shot("02-dashboard")

    # Step 1: her needs and how urgent.
    menu = page.get_by_role("navigation", name=words["main_menu"])
    menu.get_by_role("link", name=words["new_referral"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["new_referral"])
    field(page, words["need_shelter"]).check()
    field(page, words["need_safety_plan"]).check()
    field(page, words["standard"]).check()
    shot("03-intake-needs")
    page.get_by_role("button", name=words["continue"]).click()

    # Steps 2 and 3: the partner Maillage suggests, and how to reach her safely.
    partner = field(page, words["partner"])
    expect(partner).to_be_visible()
    partner.check()
    field(page, words["name"]).fill(woman.name)
    field(page, words["phone"]).fill(woman.phone)
    field(page, words["her_email"]).fill(woman.email)
    field(page, words["language"]).fill("français")
    field(page, words["safety_constraints"]).fill(woman.safety)
    field(page, words["contact_preferences"]).fill(woman.preferences)
    shot("04-intake-details")
    page.get_by_role("button", name=words["to_consent"]).click()

    # Step 4: her consent, its own page.
    page.wait_for_url(re.compile(r"/referrals/\d+/consent$"))
    field(page, words["verbally"]).check()
    field(page, words["shared_with"]).fill("Son nom, son téléphone et ses besoins")
    field(page, words["purpose"]).fill("Une place en hébergement d'urgence")
    shot("05-consent")
    page.get_by_role("button", name=words["record_consent"]).click()

    # Back on the draft: send it.
    page.wait_for_url(re.compile(r"/referrals/\d+$"))
    referral_id = referral_id_of(page)
    page.get_by_role("button", name=words["send"], exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text(shelter.organization.name)
    assert state_and_events(live, referral_id)[0] == "sent"
    shot("06-referral-sent")

    # The partner's link, as the email carries it.
    with live.session() as session:
        token = issue_link(session, referral_id, shelter.organization.id)
    link = f"{live.url}/link/{token}"
    before = state_and_events(live, referral_id)
    assert before[0] == "sent"

    # A mail scanner opens the link, without cookies, and so does a careless click: nothing changes.
    partner_context = new_context()
    partner_context.on("request", lambda request: urls.append(request.url))
    scanner = partner_context.request.get(link)
    assert scanner.status == 200
    assert partner_context.request.head(link).status == 200
    partner_page = partner_context.new_page()
    partner_page.set_default_timeout(8_000)
    partner_page.goto(link + query)
    partner_page.reload()
    assert state_and_events(live, referral_id) == before, "opening the link acted"
    assert link_uses(live, referral_id, "link.opened") >= 3, "an opening of the link was not logged"
    assert link_uses(live, referral_id, "link.acted") == 0

    # What the scanner kept, and the page she lands on, show nothing of the woman until she asks.
    for opened in (scanner.text(), partner_page.content()):
        assert woman.name not in opened
        assert woman.safety not in opened
        assert woman.phone not in opened
    assert link_uses(live, referral_id, "person.read") == 0
    expect(partner_page.locator("html")).to_have_attribute("lang", language)
    partner_page.get_by_role("button", name=words["show_details"]).click()

    # Asked for, her safety constraints come first, in their box; the read is audited for the link.
    safety = partner_page.get_by_role("region", name=words["safety_title"])
    expect(safety).to_be_visible()
    expect(safety).to_contain_text(woman.safety)
    assert link_uses(live, referral_id, "person.read") == 1
    reach = partner_page.get_by_role("region", name=words["reach_title"])
    answer = partner_page.get_by_role("region", name=words["answer_title"])
    expect(reach).to_contain_text(woman.name)
    safety_top = safety.bounding_box()["y"]
    assert safety_top < reach.bounding_box()["y"] < answer.bounding_box()["y"]
    border = safety.evaluate("e => getComputedStyle(e).borderTopWidth")
    assert float(border.removesuffix("px")) >= 2, "the safety box has no border to stand out"
    assert woman.name not in partner_page.title()
    shot("07-link", partner_page)

    # Her click on the button acknowledges receipt.
    answer.get_by_role("button", name=words["acknowledge"], exact=True).click()
    expect(partner_page.get_by_role("status").first).to_have_text(words["thanks"])
    after = state_and_events(live, referral_id)
    assert after[0] == "received"
    assert after[1] == before[1] + 1
    assert link_uses(live, referral_id, "link.acted") == 1
    shot("08-link-acknowledged", partner_page)

    # The caseworker's page: the timeline says it was received.
    page.reload()
    timeline = page.get_by_role("region", name=words["timeline"])
    expect(timeline).to_contain_text(words["received"])
    expect(timeline).to_contain_text(words["acknowledged"])  # what happened, not the button's verb
    expect(page.locator("html")).to_have_attribute("lang", language)
    shot("09-referral-received")

    # Privacy in the browser: the addresses of every page, form, redirect and file asked for.
    assert any(url.endswith("/referrals/new") for url in urls)
    assert any(url.startswith(link) for url in urls)
    assert_private(urls, woman)

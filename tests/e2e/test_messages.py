"""Messages in a real browser: the partner writes one from her signed link, without an account; the
sending caseworker sees it counted as unread on her dashboard, then reads it on the timeline."""

from __future__ import annotations

import re

from playwright.sync_api import Page
from playwright.sync_api import expect

from service.links.operations import issue_link
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as

FR = WORDS["fr"]
WORDS_OF_HER_PARTNER = "Nous l'attendons demain à 10 h; qu'elle apporte sa carte d'assurance maladie."


def test_the_partner_writes_through_her_link_and_the_sender_reads_it(live, page: Page, new_context):
    referral_id = live.sent_referral()
    shelter = live.network.shelter.organization
    with live.session() as session:
        token = issue_link(session, referral_id, shelter.id)

    partner = new_context().new_page()
    partner.goto(f"{live.url}/link/{token}")
    form = partner.get_by_role("region", name=re.compile("^Écrire à "))
    field(form, "Message").fill(WORDS_OF_HER_PARTNER)
    form.get_by_role("button", name="Envoyer le message").click()
    expect(partner.get_by_role("status").first).to_contain_text("Message envoyé")
    # The link's page, as a mail scanner fetches it, shows no message: they speak of her.
    expect(partner.locator("body")).not_to_contain_text(WORDS_OF_HER_PARTNER)

    sign_in_as(page, live, live.network.womens_centre.caseworker, "fr")
    expect(page.locator(".ref-unread")).to_contain_text("1 message non lu")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Nº {referral_id}"))
    expect(row.first).to_contain_text("1 message non lu")

    page.goto(f"{live.url}/referrals/{referral_id}")
    timeline = page.get_by_role("region", name=FR["timeline"])
    expect(timeline).to_contain_text(WORDS_OF_HER_PARTNER)
    expect(timeline).to_contain_text(f"{shelter.name} (par lien sécurisé)")
    page.goto(live.url + "/")
    expect(page.locator(".ref-unread")).to_have_count(0)

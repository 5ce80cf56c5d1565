"""A coordinator's failed messages page, in a browser: no serious axe finding, and Retry works
from its button, in French as served."""

from __future__ import annotations

from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import update

from service.notifications.models import OutboxMessage
from tests.e2e.browser import sign_in
from tests.e2e.test_accessibility import FR
from tests.e2e.test_accessibility import Audit


def test_the_coordinator_retries_a_failed_message(live, page: Page, screenshot):
    audit = Audit()
    shelter = live.network.shelter
    referral_id = live.sent_referral()
    with live.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.referral_id == referral_id,
                OutboxMessage.recipient_organization_id == shelter.organization.id,
            )
            .values(status="failed", attempts=8, last_error="SMTPRecipientsRefused:550")
        )
        session.commit()
    live.set_language(shelter.coordinator, "fr")

    sign_in(page, live.url, live.email(shelter.coordinator), FR)
    page.get_by_role("link", name="Mon organisme").click()
    page.get_by_role("link", name="Messages en échec").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages en échec")
    expect(page.get_by_role("link", name=f"Nº {referral_id}")).to_be_visible()
    audit(page, "failed messages")
    screenshot("fr-failed-messages")
    page.get_by_role("button", name="Réessayer").first.click()
    expect(page.get_by_role("status").first).to_contain_text("de retour dans la file")
    audit(page, "failed messages, after a retry")
    audit.assert_clean()

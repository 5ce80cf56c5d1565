"""Documents in a real browser, by their French labels: the sending caseworker attaches her signed
consent (a PDF) on the referral's page; the receiving caseworker, in her own browser, downloads it
under the name it was attached with, the same bytes."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.service.test_documents import pdf

NAME = "Consentement signé.pdf"


def test_the_sender_attaches_a_signed_consent_and_the_receiver_downloads_it(live, page: Page, new_context):
    referral_id = live.sent_referral()
    signed = pdf("Consentement signe le 27 novembre")

    sign_in_as(page, live, live.network.womens_centre.caseworker, "fr")
    page.goto(f"{live.url}/referrals/{referral_id}")
    documents = page.get_by_role("region", name="Documents")
    expect(documents).to_contain_text("Aucun document joint.")
    field(documents, "Document (PDF, JPEG ou PNG)").set_input_files(
        {"name": NAME, "mimeType": "application/pdf", "buffer": signed}
    )
    documents.get_by_role("button", name="Joindre un document").click()
    expect(page.get_by_role("status").first).to_contain_text("Document joint")
    expect(page.get_by_role("region", name="Documents").get_by_role("link", name=NAME)).to_be_visible()

    receiver = new_context().new_page()
    sign_in_as(receiver, live, live.network.shelter.caseworker, "fr")
    receiver.goto(f"{live.url}/referrals/{referral_id}")
    link = receiver.get_by_role("region", name="Documents").get_by_role("link", name=NAME)
    with receiver.expect_download() as waiting:
        link.click()
    download = waiting.value
    assert download.suggested_filename == NAME
    assert Path(download.path()).read_bytes() == signed

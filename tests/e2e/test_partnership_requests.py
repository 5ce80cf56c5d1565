"""Requests between partner organizations, in the browser, in French, by the labels a person reads.

A caseworker of the women's centre asks the shelter, its partner, for the loan of a room from the
partnership's page; the shelter, which has no account in this story, accepts from the signed link
emailed to its referral address; the reminder before the loan comes (the deadline is run with a
clock moved to two days before); the room is handed over, returned with its condition noted, and
the loan's trace is on the partnership's page. Then the women's centre proposes a joint mobilization
to two organizations: the shelter joins, legal aid declines, and the list of those who joined says so.

axe checks each new page.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from service.directory.models import Organization
from service.partnership_requests.models import PartnershipRequest
from service.partnership_requests.operations import run_due_deadline
from service.protocols import protocol_library
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import sign_in_as
from tests.e2e.test_accessibility import Audit
from tests.e2e.test_password_reset import send_pending_emails
from workflows.durations import TIME_ZONE

FR = WORDS["fr"]
SHELTER_ADDRESS = "accueil@phare-fictif.example.org"
ROOM = "La grande salle du sous-sol"


def local(moment: datetime) -> str:
    """A moment as a datetime-local field takes it: Montréal's wall-clock time, to the minute."""
    return moment.astimezone(TIME_ZONE).strftime("%Y-%m-%dT%H:%M")


def request_of(live, number: int) -> PartnershipRequest:
    with live.session() as session:
        return session.get_one(PartnershipRequest, number)


def link_from_the_mailbox(mailbox: Page, live, to: str) -> str:
    """The path of the signed link in the newest email to `to`, read on the development mailbox."""
    mailbox.goto(f"{live.url}/dev/mailbox/")
    mailbox.get_by_role("row").filter(has_text=to).first.get_by_role("link").first.click()
    text = mailbox.locator("pre.email-text").inner_text()
    return urlsplit(re.search(r"https?://\S+/partnership-requests/link/[A-Za-z0-9_-]+", text).group(0)).path


def test_a_room_is_lent_through_a_signed_link_reminded_returned_and_traced(
    live, page: Page, browser: Browser
):
    audit = Audit()
    with live.session() as session:
        shelter = session.get_one(Organization, live.network.shelter.organization.id)
        shelter.referral_email = SHELTER_ADDRESS
        session.commit()
    # The loan is in ten days, from 9 to 17, whatever day the test runs: no date is written here.
    starts = (
        (datetime.now(UTC) + timedelta(days=10))
        .astimezone(TIME_ZONE)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    ends = starts.replace(hour=17)

    sign_in_as(page, live, live.network.womens_centre.caseworker, "fr")
    page.get_by_role("navigation", name=FR["main_menu"]).get_by_role("link", name="Partenariats").click()
    page.get_by_role("link", name=live.network.shelter.organization.name).click()
    page.get_by_role("link", name="Demander un prêt de locaux ou de matériel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demander un prêt de locaux ou de matériel")
    audit(page, "ask for a loan")
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.get_by_role("alert")).to_contain_text("Remplissez « Local ou équipement demandé ».")
    audit(page, "ask for a loan, with gaps")
    field(page, "Local ou équipement demandé").fill(ROOM)
    field(page, "Début du prêt").fill(local(starts))
    field(page, "Fin du prêt").fill(local(ends))
    field(page, "Pour quelle activité").fill("Une journée de formation sur les clés d’intervention")  # noqa: RUF001
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demande nº")
    expect(page.get_by_role("status")).to_contain_text("envoyée à Maison Fictive du Phare")
    number = int(re.search(r"/partnership-requests/(\d+)$", page.url).group(1))
    expect(page.get_by_role("main")).to_contain_text("Demandé")
    audit(page, "the loan asked")

    # The shelter reads its email at its referral address and answers from the signed link.
    # (The development mailbox is read by someone signed in, on another browser.)
    send_pending_emails(live)
    mailbox = browser.new_context().new_page()
    sign_in_as(mailbox, live, live.network.legal_aid.caseworker, "fr")
    link = link_from_the_mailbox(mailbox, live, SHELTER_ADDRESS)
    partner = browser.new_context().new_page()
    partner.goto(f"{live.url}{link}")
    expect(partner.get_by_role("heading", level=1)).to_have_text(f"Demande nº {number}")
    expect(partner.get_by_role("main")).to_contain_text(ROOM)
    assert request_of(live, number).state == "asked", "opening the link acted"
    audit(partner, "the loan's signed link")
    partner.get_by_role("button", name="Accepter le prêt").click()
    expect(partner.get_by_role("status")).to_have_text("Merci. La demande est maintenant : Accepté.")
    audit(partner, "the loan accepted through the link")

    # Two days before the loan, the reminder: the deadline is run with the clock moved there.
    accepted = request_of(live, number)
    assert accepted.state == "accepted"
    assert accepted.due_at is not None
    with live.session() as session:
        assert run_due_deadline(session, protocol_library(), number, clock=lambda: accepted.due_at)
    page.reload()
    timeline = page.get_by_role("region", name="Historique")
    expect(timeline).to_contain_text("Prêt accepté")
    expect(timeline).to_contain_text("Rappel : Préparer le prêt")

    # The protocol file writes the straight apostrophe.
    page.get_by_role("button", name="Remettre le local ou l'équipement").click()
    expect(page.get_by_role("status")).to_contain_text("En cours d'utilisation")
    page.get_by_role("button", name="Noter le retour").click()
    expect(page.get_by_role("alert").first).to_contain_text("Remplissez « État au retour ».")
    audit(page, "the return, with gaps")
    field(page, "État au retour").fill("Rangée et propre; une chaise à réparer")
    page.get_by_role("button", name="Noter le retour").click()
    expect(page.get_by_role("status")).to_contain_text("La demande est maintenant : Rendu.")
    expect(page.get_by_role("main")).to_contain_text("Cette demande est terminée.")
    audit(page, "the loan returned")

    page.get_by_role("link", name="Retour au partenariat").click()
    traces = page.locator("ol.dir-traces")
    expect(traces).to_contain_text(f"n° {number} : Rendu.")
    expect(traces).to_contain_text("Rangée et propre; une chaise à réparer")
    made = "Demandes faites dans ce partenariat, les plus récentes d’abord"  # noqa: RUF001
    expect(page.get_by_role("table", name=made)).to_contain_text("Rendu")
    audit(page, "the partnership with the loan's trace")
    audit.assert_clean()


def test_a_joint_mobilization_is_joined_by_one_organization_and_declined_by_another(
    live, page: Page, browser: Browser
):
    audit = Audit()
    answer_by = (datetime.now(UTC) + timedelta(days=14)).astimezone(TIME_ZONE).date()
    sign_in_as(page, live, live.network.womens_centre.coordinator, "fr")
    page.get_by_role("link", name="Proposer une mobilisation commune").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Proposer une mobilisation commune")
    audit(page, "propose a mobilization")
    page.get_by_role("button", name="Proposer la mobilisation").click()
    expect(page.get_by_role("alert")).to_contain_text("Choisissez au moins un organisme.")
    audit(page, "propose a mobilization, with gaps")
    field(page, "Titre").fill("Vigile du 6 décembre")
    field(page, "La prise de position ou l’action proposée").fill(  # noqa: RUF001
        "Une vigile commune devant l’hôtel de ville, à 17 h."  # noqa: RUF001
    )
    field(page, "Répondre au plus tard le").fill(answer_by.isoformat())
    page.get_by_label(live.network.shelter.organization.name).check()
    page.get_by_label(live.network.legal_aid.organization.name).check()
    page.get_by_role("button", name="Proposer la mobilisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mobilisation : Vigile du 6 décembre")
    audit(page, "the mobilization proposed")

    with live.session() as session:
        invitations = {
            r.answering_organization_id: r.id
            for r in session.scalars(
                select(PartnershipRequest).where(PartnershipRequest.kind == "mobilization")
            )
        }
    for side, button in ((live.network.shelter, "Se joindre"), (live.network.legal_aid, "Refuser")):
        theirs = browser.new_context().new_page()
        sign_in_as(theirs, live, side.caseworker, "fr")
        theirs.get_by_role("link", name="Reçus").click()
        section = theirs.get_by_role("region", name=re.compile("Demandes entre organismes"))
        section.get_by_role("link", name=f"Nº {invitations[side.organization.id]}").click()
        expect(theirs.get_by_role("main")).to_contain_text("Vigile du 6 décembre")
        audit(theirs, f"the invitation of {side.organization.name}")
        if button == "Refuser":
            field(theirs, "Motif").select_option(label="Pas de disponibilité")
        theirs.get_by_role("button", name=button, exact=True).click()
        expect(theirs.get_by_role("status")).to_contain_text("La demande est maintenant")

    page.reload()
    joined = page.get_by_role("region", name=re.compile("Organismes qui se sont joints"))
    expect(joined).to_contain_text(live.network.shelter.organization.name)
    expect(joined).not_to_contain_text(live.network.legal_aid.organization.name)
    answers = page.get_by_role("table", name="Les organismes invités et leurs réponses")
    expect(
        answers.get_by_role("row").filter(has_text=live.network.legal_aid.organization.name)
    ).to_contain_text("Refusé")
    expect(
        answers.get_by_role("row").filter(has_text=live.network.shelter.organization.name)
    ).to_contain_text("Joint")
    audit(page, "the mobilization with its answers")
    audit.assert_clean()

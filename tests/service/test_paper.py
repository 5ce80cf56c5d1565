"""Paper for the woman: her sheet and the consent form she signs, printed from a referral's page.

Each is read by the two organizations of the referral only, in French or English
whatever the pages' language, carries nothing about her nor about any other
referral, and leaves a line in the audit trail as reading her details does.
"""

from __future__ import annotations

from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.audit.views import ACTIONS
from service.dates import format_day
from service.directory.models import Organization
from service.referrals.operations import PersonDetails
from tests.service.test_referral_pages import HER
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in


@pytest.fixture
def shelter(network, session):
    """The shelter as the directory lists it (it keeps its address to itself, as shelters do)."""
    organization = network.shelter.organization
    organization.phone = "450-555-0101"
    organization.hours = "24 heures sur 24, 7 jours sur 7"
    organization.languages = ["fr", "es"]
    organization.accessibility = "Rez-de-chaussée accessible"
    organization.address_confidential = True
    network.womens_centre.organization.phone = "450-555-0202"
    session.commit()
    return organization


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.text)


def test_her_sheet_says_where_to_go_and_what_comes_next_in_the_language_she_reads(
    app, session, network, protocols, clock, shelter
):
    referral = referral_in("accepted", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)  # her pages are in English

    french = text_of(client.get(f"/referrals/{referral.id}/sheet?paper=fr"))
    assert '<article class="paper" lang="fr">' in french
    assert "Language of the paper:" in french  # the page around it stays in English
    for expected in (
        shelter.name,
        "450-555-0101",
        "24 heures sur 24, 7 jours sur 7",
        "français, espagnol",
        "Rez-de-chaussée accessible",
        "Adresse confidentielle",
        "Prochaine étape",
        "Faire le premier contact",
        format_day(referral.due_at, "fr", "weekday"),
        "Quoi apporter",
        f"référencement nº {referral.id}",
        "450-555-0202",  # whom to call when no news comes
    ):
        assert expected in french, expected

    english = text_of(client.get(f"/referrals/{referral.id}/sheet?paper=en"))
    assert '<article class="paper" lang="en">' in english
    for expected in (
        "Confidential address",
        "French, Spanish",
        "Next step",
        "Make first contact",
        format_day(referral.due_at, "en", "weekday"),
        "What to bring",
    ):
        assert expected in english, expected


def test_her_sheet_gives_a_public_address_and_what_the_organization_asks_to_bring(
    app, session, network, protocols, clock
):
    receiver = network.shelter.organization
    receiver.public_address = "1234, boulevard Fictif, Laval (Québec) H7X 0A1"
    receiver.what_to_bring = "Avis de la cour\nPièce d'identité"
    session.commit()
    referral = referral_in("accepted", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session)

    page = text_of(client.get(f"/referrals/{referral.id}/sheet?paper=fr"))
    assert "1234, boulevard Fictif, Laval (Québec) H7X 0A1" in page
    assert "Adresse confidentielle" not in page
    assert "<li>Avis de la cour</li>" in page
    assert "<li>Pièce d'identité</li>" in page
    assert "votre carte d\u2019assurance maladie" not in page  # its own list, not what most ask

    # Flagged confidential, the sheet says so, whatever an address left in the database.
    session.get(Organization, receiver.id).address_confidential = True
    session.commit()
    page = text_of(client.get(f"/referrals/{referral.id}/sheet?paper=fr"))
    assert "Adresse confidentielle" in page
    assert "boulevard Fictif" not in page


def test_her_sheet_before_sending_and_once_finished_promises_no_date(app, session, network, protocols, clock):
    client = signed_in(app, network.womens_centre.caseworker, session)
    draft = referral_in("draft", session, protocols, network, clock)
    page = text_of(client.get(f"/referrals/{draft.id}/sheet?paper=en"))
    assert "sends your referral to this organization" in page
    assert "By</dt>" not in page

    # The sending side acts next: the sheet says so to her, not in the protocol's words about her.
    followed = referral_in("in_progress", session, protocols, network, clock)
    page = text_of(client.get(f"/referrals/{followed.id}/sheet?paper=en"))
    assert "keeps in touch with you, to know whether you received the service" in page
    assert "did she get the service" not in page
    assert format_day(followed.due_at, "en", "weekday") in page

    closed = referral_in("closed", session, protocols, network, clock)
    page = text_of(client.get(f"/referrals/{closed.id}/sheet?paper=en"))
    assert "Nothing more is planned" in page
    assert "No news by then?" not in page


def test_the_papers_carry_nothing_about_her_nor_about_another_referral(
    app, session, network, protocols, clock, shelter
):
    referral = referral_in("received", session, protocols, network, clock)
    other = referral_in(
        "sent",
        session,
        protocols,
        network,
        clock,
        receiver_organization_id=network.legal_aid.organization.id,
        person=PersonDetails(name="Autre Fictive-Gagnon", phone="450-555-0333"),
    )
    for side in (network.womens_centre.caseworker, network.shelter.caseworker):
        client = signed_in(app, side, session)
        for path in ("sheet", "consent-form"):
            for language in ("fr", "en"):
                page = text_of(client.get(f"/referrals/{referral.id}/{path}?paper={language}"))
                for secret in [
                    *HER,
                    "Autre Fictive-Gagnon",
                    "450-555-0333",
                    network.legal_aid.organization.name,
                ]:
                    assert secret not in page, (path, language, secret)
                assert f"/referrals/{other.id}" not in page
                assert f"nº {other.id}<" not in page
                assert f"no. {other.id}<" not in page


def test_another_organization_gets_404_and_the_receiver_sees_no_paper_of_an_unsent_draft(
    app, session, network, protocols, clock
):
    sent = referral_in("sent", session, protocols, network, clock)
    draft = referral_in("draft", session, protocols, network, clock)
    outsider = signed_in(app, network.legal_aid.coordinator, session)
    receiver = signed_in(app, network.shelter.caseworker, session)
    for path in ("sheet", "consent-form"):
        assert outsider.get(f"/referrals/{sent.id}/{path}").status_code == 404
        assert outsider.get(f"/referrals/{sent.id}/{path}?paper=fr").status_code == 404
        assert receiver.get(f"/referrals/{draft.id}/{path}").status_code == 404
        assert receiver.get(f"/referrals/{sent.id}/{path}").status_code == 200
    refused = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action.like("paper.%"),
            AuditEntry.organization_id.in_([network.legal_aid.organization.id]),
        )
    ).all()
    assert refused == []


def test_the_consent_form_says_to_whom_what_why_and_for_how_long_with_lines_to_sign(
    app, session, network, protocols, clock, shelter
):
    shelter.retention_months = 6  # shorter than the regional 12: the shorter of the two wins
    session.commit()
    draft = referral_in("draft", session, protocols, network, clock)
    client = signed_in(app, network.womens_centre.caseworker, session, language="fr")

    french = text_of(client.get(f"/referrals/{draft.id}/consent-form"))  # the page's language by default
    assert '<article class="paper" lang="fr">' in french
    for expected in (
        "Consentement à la communication de mes renseignements",
        f"de {network.womens_centre.organization.name} vers {shelter.name}",
        f"Pour que {shelter.name} puisse m\u2019offrir un service pour",
        "Hébergement d'urgence (maison d'hébergement)",
        "mon nom, comment me joindre",
        "au plus 6 mois après sa fermeture",
        "Je peux retirer mon consentement en tout temps",
        "Ma signature :",
        "Date :",
        f'/referrals/{draft.id}/consent"',  # then she records it in Maillage, as today
    ):
        assert expected in french, expected

    english = text_of(client.get(f"/referrals/{draft.id}/consent-form?paper=en"))
    assert "Langue du document :" in english  # her pages stay in French
    for expected in (
        "Consent to share my information",
        "Emergency shelter",
        "at most 6 months after it is closed",
        "I may withdraw my consent at any time",
        "My signature:",
    ):
        assert expected in english, expected


def test_printing_a_paper_is_audited_as_reading_her_details_is(app, session, network, protocols, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    caseworker = network.womens_centre.caseworker
    client = signed_in(app, caseworker, session)
    client.get(f"/referrals/{referral.id}/sheet")
    client.get(f"/referrals/{referral.id}/consent-form?paper=fr")
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.referral_id == referral.id, AuditEntry.action.like("paper.%"))
    ).all()
    assert [(e.action, e.user_id, e.organization_id) for e in entries] == [
        ("paper.sheet_viewed", caseworker.user_id, caseworker.organization_id),
        ("paper.consent_form_viewed", caseworker.user_id, caseworker.organization_id),
    ]
    # The audit page names them in words, and lets a coordinator pick them out.
    assert {"paper.sheet_viewed", "paper.consent_form_viewed"} <= set(ACTIONS)


def test_the_referral_page_leads_to_the_papers_and_every_page_prints_without_its_menus(
    app, session, network, protocols, clock
):
    referral = referral_in("sent", session, protocols, network, clock)
    sender = signed_in(app, network.womens_centre.caseworker, session)
    page = sender.get(f"/referrals/{referral.id}").text
    assert f'href="/referrals/{referral.id}/sheet"' in page
    assert f'href="/referrals/{referral.id}/consent-form"' in page
    consent_step = sender.get(f"/referrals/{referral.id}/consent").text
    assert f'href="/referrals/{referral.id}/consent-form"' in consent_step

    receiver = signed_in(app, network.shelter.caseworker, session)
    page = receiver.get(f"/referrals/{referral.id}").text
    assert f'href="/referrals/{referral.id}/sheet"' in page
    assert "/consent-form" not in page  # her consent is the sending organization's to record

    # Any page, signed in or not, brings the print stylesheet.
    for path in ("/sign-in", "/privacy/"):
        assert 'href="/static/print.css" media="print"' in app.test_client().get(path).text
    rules = (Path(app.static_folder) / "print.css").read_text()
    for hidden in (".site-header", "nav", ".skip-link", ".flashes", "button", ".paper-controls"):
        assert hidden in rules.split("display: none")[0]
    assert "break-inside: avoid" in rules

"""What the end-to-end tests do in the browser, as a person would: by label and by role.

`WORDS` holds what a person reads on the pages, in each language: the English
is the code's msgids; the French is the catalog's (or the protocols' YAML for
states and buttons).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
from playwright.sync_api import Page
from playwright.sync_api import expect

from service.referrals.actors import Actor
from tests.conftest import PASSWORD
from tests.conftest import TOTP_SECRET

WORDS: dict[str, dict[str, str]] = {
    "en": {
        # Sign-in and menu
        "sign_in_title": "Sign in",
        "email": "Email",
        "password": "Password",
        "sign_in": "Sign me in",
        "main_menu": "Main menu",
        "my_referrals": "My referrals",
        "new_referral": "New referral",
        # Intake, step 1
        "need_shelter": "Emergency shelter",
        "need_safety_plan": "Safety planning",
        "standard": "Standard",
        "continue": "Continue: choose the organization",
        # Intake, steps 2 and 3
        "partner": "Maison Fictive du Phare (covers 2 of 2 needs; places available)",
        "name": "Her name, or how she wants to be called",
        "phone": "Phone",
        "her_email": "Email",
        "language": "Language she prefers",
        "safety_constraints": "Safety constraints",
        "contact_preferences": "Contact preferences",
        "notes": "Notes for the partner",
        "to_consent": "Save and go to her consent",
        # Consent
        "verbally": "Verbally",
        "shared_with": "What may be shared, and with whom",
        "purpose": "For what purpose",
        "record_consent": "Record her consent",
        # The referral and the link's page (states and buttons come from the protocols)
        "send": "Send",
        "sent": "Sent",
        "acknowledge": "Acknowledge receipt",
        "acknowledged": "Receipt acknowledged",
        "received": "Received",
        "timeline": "Timeline",
        "safety_title": "Her safety: read before contacting her",
        "answer_title": "Your answer",
        "reach_title": "How to reach her",
        "show_details": "Show her contact details",
        "thanks": "Thank you. The referral is now: Received.",
        # Errors
        "error_summary": "Please correct the following",
    },
    "fr": {
        "sign_in_title": "Connexion",
        "email": "Courriel",
        "password": "Mot de passe",
        "sign_in": "Me connecter",
        "main_menu": "Menu principal",
        "my_referrals": "Mes référencements",
        "new_referral": "Nouveau référencement",
        "need_shelter": "Hébergement d'urgence (maison d'hébergement)",
        "need_safety_plan": "Scénario de protection",
        "standard": "Standard",
        # The catalog writes the typographic apostrophe (U+2019), as French typesetting does.
        "continue": "Continuer : choisir l’organisme",  # noqa: RUF001
        "partner": "Maison Fictive du Phare (besoins couverts : 2 sur 2; places disponibles)",
        "name": "Son nom, ou comment elle veut être appelée",
        "phone": "Téléphone",
        "her_email": "Courriel",
        "language": "Langue qu’elle préfère",  # noqa: RUF001
        "safety_constraints": "Consignes de sécurité",
        "contact_preferences": "Préférences de contact",
        "notes": "Notes pour le partenaire",
        "to_consent": "Enregistrer et passer à son consentement",
        "verbally": "Verbalement",
        "shared_with": "Ce qui peut être communiqué, et à qui",
        "purpose": "Dans quel but",
        "record_consent": "Consigner son consentement",
        "send": "Envoyer",
        "sent": "Envoyé",
        "acknowledge": "Accuser réception",
        "acknowledged": "Réception accusée",
        "received": "Reçu",
        "timeline": "Historique",
        "safety_title": "Sa sécurité : à lire avant de communiquer avec elle",
        "answer_title": "Votre réponse",
        "reach_title": "Comment la joindre",
        "show_details": "Afficher ses coordonnées",
        "thanks": "Merci. Le référencement est maintenant : Reçu.",
        "error_summary": "Veuillez corriger ce qui suit",
    },
}


@dataclass(frozen=True)
class Her:
    """The woman referred: canary strings that must never show up in an address."""

    name: str
    phone: str
    email: str
    safety: str
    preferences: str

    @property
    def secrets(self) -> list[str]:
        return [self.name, self.phone, self.phone.replace("-", ""), self.email]


def her(suffix: str = "7731", language: str = "fr") -> Her:
    if language == "en":
        safety = "No voicemail. Call only between 9 and 11. Do not write to her home address."
        preferences = "Send a text first."
    else:
        safety = "Pas de message vocal. Appeler seulement entre 9 h et 11 h. Ne pas écrire à son adresse."
        preferences = "Texto d'abord."
    return Her(
        name=f"Canari-Prénom-{suffix}",
        phone=f"450-555-{suffix}",
        email=f"canari{suffix}@courriel-fictif.example.org",
        safety=safety,
        preferences=preferences,
    )


def field(page: Page, label: str):
    """The field labelled `label`, followed or not by its "(required)" mark."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(\s+\([^)]*\))?$"))


def sign_in(page: Page, base_url: str, email: str, words: dict[str, str], *, query: str = "") -> None:
    """Through the sign-in form, by its labels; ends on the dashboard."""
    page.goto(f"{base_url}/sign-in{query}")
    field(page, words["email"]).fill(email)
    field(page, words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    page.wait_for_url(lambda url: urlsplit(url).path in ("/", "/sign-in/code"))
    # A coordinator has a second factor (tests.conftest.TOTP_SECRET): type her app's code. A code
    # already used (a second sign-in within the same 30 seconds) is refused; the next one is accepted.
    for ahead in (0, 30):
        if urlsplit(page.url).path != "/sign-in/code":
            break
        field(page, "Code").fill(pyotp.TOTP(TOTP_SECRET).at(time.time() + ahead))
        field(page, "Code").press("Enter")
        page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["my_referrals"])


def sign_in_as(page: Page, live, actor: Actor, language: str = "en") -> None:
    """Sign `actor` in; her pages speak `language` (her profile's, and this browser's choice)."""
    live.set_language(actor, language)
    query = "?lang=en" if language == "en" else ""
    sign_in(page, live.url, live.email(actor), WORDS[language], query=query)


def referral_id_of(page: Page) -> int:
    found = re.search(r"/referrals/(\d+)$", urlsplit(page.url).path)
    assert found, f"not on a referral's page: {page.url}"
    return int(found.group(1))

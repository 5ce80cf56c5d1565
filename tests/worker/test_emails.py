"""Every email template renders in both languages, in both versions, saying the same thing."""

from __future__ import annotations

import base64
import email
import email.policy
import html
import re
from datetime import UTC
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache

import pytest

from service.dates import format_day
from service.notifications.emails import Email
from service.notifications.emails import format_due
from service.notifications.emails import message_id
from service.notifications.emails import render
from workflows.loader import PROTOCOLS_FOLDER
from workflows.loader import TEMPLATES_FOLDER
from workflows.loader import load_library
from workflows.loader import template_names

CONTEXT = {
    "number": 7,
    "sender": "Centre Fictif & Cie",
    "receiver": "Maison <Fictive>",
    "deadline": "Acknowledge receipt",
    "due": "Wednesday, June 25, 2025 at 11:00 a.m.",
    "link": "https://maillage.example.org/referrals/7",
    "signed": False,
    "expires": "",
    # Emails about an account (invitation, role, reset): the organization, the role, a link's hours.
    "organization": "Maison <Fictive>",
    "role": "intervenante",
    "hours": 72,
    # Emails about a request between organizations: its kind, its two organizations, where it stands.
    "title": "Loan of premises or equipment",
    "asking": "Centre Fictif & Cie",
    "answering": "Maison <Fictive>",
    "state": "Accepted",
    "done": "Loan accepted",
    "when": "Monday, December 7, 2026 at 6:00 p.m.",
}


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("template", sorted(template_names()))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_both_versions_render_and_say_the_same_thing(template, language):
    subject, text, page = render(template, language, **CONTEXT)

    assert subject
    assert "\n" not in subject
    assert "{" not in subject + text + page
    assert "%(" not in subject + text + page, "a placeholder left untranslated"
    visible = html.unescape(re.sub(r"<[^>]+>", " ", page.split("</head>")[1]))
    body = text.split("\n-- \n")[0]
    assert words(visible).startswith("Maillage " + words(body).removesuffix(CONTEXT["link"]).strip())
    assert "Maison &lt;Fictive&gt;" in page or "Fictive" not in page, "names are escaped in HTML"
    assert f'href="{CONTEXT["link"]}"' in page


SUMMARIES = {"daily_digest", "message_digest", "partnership_review_due", "partnership_presentation_due"}
# Emails about a person's account, an organization's request to join or a request between
# organizations: no referral in them.
NOT_ABOUT_A_REFERRAL = ("account_", "password_reset", "join_request_", "partnership_request_")
OTHER_TEMPLATES = sorted(name for name in template_names() if name.startswith(NOT_ABOUT_A_REFERRAL))
REFERRAL_TEMPLATES = sorted(template_names() - SUMMARIES - set(OTHER_TEMPLATES))
# Double punctuation, and a capital right after a French colon inside a sentence.
FAULTS = re.compile(r"[?!.][.,]|\. \.| : [A-ZÀ-Ý]")


@cache
def deadline_titles() -> list[tuple[str, str]]:
    """Every deadline title of the shipped protocols, with its language."""
    library = load_library(PROTOCOLS_FOLDER)
    return sorted(
        {
            (language, state.deadline.title.in_language(language))
            for protocol in library
            for state in protocol.states.values()
            if state.deadline
            for language in ("fr", "en")
        }
    )


@pytest.mark.parametrize("template", sorted(template_names()))
def test_every_email_reads_right_with_every_deadline_in_both_languages(template):
    for language, title in deadline_titles():
        moment = datetime(2026, 12, 6, 10, 5, tzinfo=UTC)
        # A summary's due is a day (a review's), a referral's a moment (a deadline's).
        due = format_day(moment, language) if template in SUMMARIES else format_due(moment, language)
        context = {**CONTEXT, "deadline": title, "due": due, "when": due, "partner": "Maison Fictive"}
        subject, text, page = render(template, language, **context)
        # Each element on a line of its own: a paragraph's end is no sentence's middle.
        visible = html.unescape(re.sub(r"<[^>]+>", "\n", page.split("</head>")[1]))
        for version in (subject, text, visible):
            assert not FAULTS.search(version), (template, language, FAULTS.search(version), version)


@pytest.mark.parametrize("template", REFERRAL_TEMPLATES)
@pytest.mark.parametrize(("language", "number"), [("fr", "Référencement nº 7"), ("en", "referral no. 7")])
def test_an_email_names_its_referral_by_number_and_its_button_in_words(template, language, number):
    subject, text, page = render(template, language, **CONTEXT)

    assert number.casefold() in subject.casefold()
    assert number.casefold() in text.casefold()
    assert CONTEXT["link"] in text, "the plain text keeps the raw link"
    [button] = re.findall(r'<a href="[^"]*"[^>]*>([^<]*)</a>', page)
    assert button == {"fr": "Ouvrir le référencement", "en": "Open the referral"}[language]


@pytest.mark.parametrize("template", OTHER_TEMPLATES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_email_about_an_account_or_a_request_names_no_referral_and_its_button_reads_as_words(
    template, language
):
    subject, text, page = render(template, language, **CONTEXT)

    assert not re.search(r"référencement n[º°]|referral no\.", subject + text, re.IGNORECASE)
    buttons = re.findall(r'<a href="[^"]*"[^>]*>([^<]*)</a>', page)
    assert buttons, "the link is a button"
    assert all(button.strip() and CONTEXT["link"] not in button for button in buttons)


def test_a_summary_email_button_reads_as_words():
    _subject, text, page = render("daily_digest", "fr", **CONTEXT, base="https://maillage.example.org")
    assert CONTEXT["link"] in text
    assert ">Ouvrir dans Maillage</a>" in page
    assert f">{CONTEXT['link']}</a>" not in page


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("fr", "Référencement nº 12 : https://maillage.example.org/referrals/12"),
        ("en", "Referral no. 12: https://maillage.example.org/referrals/12"),
    ],
)
def test_the_digest_lists_each_referral_as_its_language_writes_a_colon(language, line):
    context = {**CONTEXT, "base": "https://maillage.example.org", "overdue": [12], "waiting": [13]}
    _subject, text, page = render("daily_digest", language, **context)
    assert line in text
    assert line.replace("12", "13") in text
    visible = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    assert line in visible


def test_each_protocol_template_has_an_html_version():
    for name in template_names():
        assert (TEMPLATES_FOLDER / "email" / f"{name}.html").exists(), name


def test_a_signed_link_says_until_when_it_works():
    _subject, text, _page = render(
        "referral_sent", "en", **{**CONTEXT, "signed": True, "expires": "Friday, July 4, 2025 at 11:00 a.m."}
    )
    assert "without an account" in text
    assert "Friday, July 4, 2025 at 11:00 a.m." in text


def test_dates_are_shown_in_montreal_time_in_the_readers_language_and_its_usage():
    moment = datetime(2025, 12, 1, 15, 30, tzinfo=UTC)
    assert format_due(moment, "fr") == "lundi 1er décembre 2025 à 10 h 30"
    assert format_due(moment, "en") == "Monday, December 1, 2025 at 10:30 a.m."
    assert format_due(datetime(2026, 12, 6, 10, 5, tzinfo=UTC), "fr") == "dimanche 6 décembre 2026 à 5 h 05"
    assert format_due(datetime(2026, 7, 6, 21, 0, tzinfo=UTC), "fr") == "lundi 6 juillet 2026 à 17 h"


def test_the_message_id_is_the_same_for_the_same_message_and_address_only():
    first = message_id("referral:7:2:referral_sent:receiver", "A@example.org", "https://maillage.example.org")
    again = message_id(
        "referral:7:2:referral_sent:receiver", "a@example.org ", "https://maillage.example.org"
    )
    other = message_id("referral:7:2:referral_sent:receiver", "b@example.org", "https://maillage.example.org")
    assert first == again != other
    assert first.endswith("@maillage.example.org>")
    assert "referral" not in first


def as_sent(mail_from: str = "Maillage <noreply@maillage.example.org>", **fields: str) -> bytes:
    subject, text, page = render("referral_sent", "fr", **CONTEXT)
    values = {"to": "accueil@example.org", "language": "fr", "subject": subject, "text": text, "html": page}
    return Email(**{**values, **fields}, message_id="<abc123@maillage.example.org>").as_bytes(mail_from)


def test_the_wire_format_parses_back_to_the_same_headers_and_both_versions():
    subject, text, page = render("referral_sent", "fr", **CONTEXT)
    raw = as_sent()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert not parsed.defects
    assert parsed["Subject"] == subject
    assert (parsed["To"], parsed["Message-ID"]) == ("accueil@example.org", "<abc123@maillage.example.org>")
    assert parsed["From"].addresses[0].addr_spec == "noreply@maillage.example.org"
    assert (parsed["Auto-Submitted"], parsed["Content-Language"]) == ("auto-generated", "fr")
    assert parsedate_to_datetime(parsed["Date"]).tzinfo is not None
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content() == text
    # Its last line ended, as every text part's is.
    assert parsed.get_body(("html",)).get_content() == page.rstrip("\n") + "\n"


def test_every_line_ends_in_crlf_and_a_long_subject_is_folded():
    raw = as_sent(
        '"Réseau Maillage, Laval" <noreply@maillage.example.org>', subject=" ".join(["Référence"] * 30)
    )
    lines = raw.split(b"\r\n")

    assert not any(b"\n" in line or b"\r" in line for line in lines), "a bare LF or CR"
    assert max(len(line) for line in lines) <= 998, "RFC 5322's limit"
    subject = lines[[line.startswith(b"Subject:") for line in lines].index(True) :][:8]
    assert all(len(line) <= 78 for line in subject), "the subject is folded, as RFC 2047 asks"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == " ".join(["Référence"] * 30)
    assert parsed["From"].addresses[0].display_name == "Réseau Maillage, Laval"
    assert parsed["From"].addresses[0].addr_spec == "noreply@maillage.example.org"


@pytest.mark.parametrize("subject", ["é" * 50, "a" + "€" * 40, "🙂" * 30 + " fin", "Référence envoyée"])
def test_an_encoded_subject_never_splits_a_character_and_reads_back(subject):
    raw = as_sent(subject=subject)
    folded = raw.split(b"\r\n\r\n")[0].decode("ascii")

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    for line in folded.split("\r\n"):
        for word in re.findall(r"=\?utf-8\?b\?([^?]*)\?=", line):
            base64.b64decode(word).decode("utf-8")  # each word is whole characters on its own
        assert len(line) <= 78

"""Every email template renders in both languages, in both versions, saying the same thing."""

from __future__ import annotations

import base64
import email
import email.policy
import html
import re
from email.utils import parsedate_to_datetime

import pytest

from service.notifications.emails import Email
from service.notifications.emails import format_due
from service.notifications.emails import message_id
from service.notifications.emails import render
from workflows.loader import TEMPLATES_FOLDER
from workflows.loader import template_names

CONTEXT = {
    "sender": "Centre Fictif & Cie",
    "receiver": "Maison <Fictive>",
    "deadline": "Acknowledge receipt",
    "due": "Wednesday 25 June 2025, 11:00",
    "link": "https://maillage.example.org/referrals/7",
    "signed": False,
    "expires": "",
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


def test_each_protocol_template_has_an_html_version():
    for name in template_names():
        assert (TEMPLATES_FOLDER / "email" / f"{name}.html").exists(), name


def test_a_signed_link_says_until_when_it_works():
    _subject, text, _page = render(
        "referral_sent", "en", **{**CONTEXT, "signed": True, "expires": "Friday 4 July 2025, 11:00"}
    )
    assert "without an account" in text
    assert "Friday 4 July 2025, 11:00" in text


def test_dates_are_shown_in_montreal_time_in_the_readers_language():
    from datetime import UTC
    from datetime import datetime

    moment = datetime(2025, 12, 1, 15, 30, tzinfo=UTC)
    assert format_due(moment, "fr") == "lundi 1 décembre 2025, 10:30"
    assert format_due(moment, "en") == "Monday 1 December 2025, 10:30"


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
    assert parsed.get_body(("html",)).get_content() == page


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

"""Every email template renders in both languages, in both versions, saying the same thing."""

from __future__ import annotations

import html
import re

import pytest

from service.notifications.emails import TEMPLATES
from service.notifications.emails import format_due
from service.notifications.emails import message_id
from service.notifications.emails import render
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
        assert (TEMPLATES / "email" / f"{name}.html").exists(), name


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

"""A real browser reaches the sign-in page, signs in, and finds nothing axe-core objects to."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from tests.conftest import PASSWORD

SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [v["id"] for v in results.response["violations"] if v.get("impact") in SERIOUS]


def test_a_caseworker_signs_in_with_the_keyboard(live, page, screenshot):
    page.goto(f"{live.url}/sign-in")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert serious_violations(page) == []
    screenshot("sign-in")
    email = f"caseworker@{live.network.womens_centre.organization.id}.example.org"
    page.keyboard.press("Tab")  # the skip link comes first
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/")
    assert serious_violations(page) == []

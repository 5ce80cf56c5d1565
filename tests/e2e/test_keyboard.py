"""The intake form with the keyboard alone: Tab, Shift+Tab, Space, Enter and typing.

Every field is reached, in the order of the page, none skipped; at every stop
the focused element is on screen and wears a visible focus style. A form sent
empty lists its errors at the top, in an alert that takes the focus, whose
links take the focus to the fields.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import her
from tests.e2e.browser import sign_in_as

EN = WORDS["en"]

# What the keyboard sees of the focused element.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  const label = e.labels && e.labels.length ? e.labels[0].innerText : e.innerText;
  return {
    key: e.id || `${e.tagName.toLowerCase()}:${e.name || ''}=${e.value || ''}`,
    label: (label || '').trim(),
    inForm: !!e.closest('form.ref-intake, form.narrow'),
    // A date field's calendar button has the focus inside the field.
    focusVisible: e.matches(':focus-visible') || (e.type === 'date' && e.matches(':focus-within')),
    // At least 2 px: the browser's own 1 px ring alone is too faint to count.
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== 'none',
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight
      && box.right > 0 && box.left < innerWidth && style.visibility !== 'hidden',
  };
}"""

# The stops Tab should make in the form, in the DOM's order: a radio group is one stop,
# on its checked radio (or its first when none is).
EXPECTED_STOPS = """(form) => {
  const stops = [];
  const groups = new Set();
  for (const e of form.querySelectorAll('input, select, textarea, button, a[href]')) {
    if (e.type === 'hidden' || e.disabled) continue;
    if (e.type === 'radio') {
      if (groups.has(e.name)) continue;
      groups.add(e.name);
      const group = [...form.querySelectorAll(`input[type=radio][name="${e.name}"]`)];
      stops.push((group.find(r => r.checked) || group[0]).id);
      continue;
    }
    stops.push(e.id || `${e.tagName.toLowerCase()}:${e.name || ''}=${e.value || ''}`);
  }
  return stops;
}"""


def focused(page: Page) -> dict | None:
    return page.evaluate(FOCUSED)


def assert_visibly_focused(stop: dict) -> None:
    assert stop["onScreen"], f"the focused {stop['key']} is off screen"
    assert stop["focusVisible"], f"the focused {stop['key']} does not match :focus-visible"
    assert stop["outline"] or stop["shadow"], f"the focused {stop['key']} has no visible focus style"


def to_main(page: Page) -> None:
    """The skip link, first stop of every page, takes the keyboard past the menu.

    A page reached by a form sent from an address ending in `#main` opens there already.
    """
    if page.evaluate("document.activeElement.id") == "main":
        return
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["key"].startswith("a:"), "the skip link comes first"
    assert skip["label"], "the skip link says nothing"
    assert_visibly_focused(skip)
    page.keyboard.press("Enter")


def tab_through_form(page: Page, form_selector: str, do: dict[str, str | None], submit: str) -> list[str]:
    """Tab from the top of the main content through the whole form, doing `do` at each stop.

    `do` maps a field's id to the text to type in it, or to None to press Space
    (tick a box, choose a radio). Every stop must be on screen and visibly
    focused. Past the form's end, Shift+Tab comes back to the `submit` button,
    and Enter presses it. Returns the stops made in the form, in order.
    """
    form = page.locator(form_selector)
    expected = form.evaluate(EXPECTED_STOPS)
    to_main(page)
    stops: list[str] = []
    for _ in range(200):
        page.keyboard.press("Tab")
        stop = focused(page)
        if stop is None or not stop["inForm"]:
            if stops:
                break
            continue
        assert_visibly_focused(stop)
        if stops and stops[-1] == stop["key"]:
            continue  # a date field's day, month and year
        stops.append(stop["key"])
        if stop["key"] in do:
            text = do[stop["key"]]
            if text is None:
                page.keyboard.press("Space")
            else:
                page.keyboard.type(text)
    assert stops == expected, "Tab skipped a field, or stopped out of order"
    assert set(do) <= set(stops)
    for _ in range(len(stops)):
        page.keyboard.press("Shift+Tab")
        stop = focused(page)
        if stop and stop["key"] == submit:
            break
    assert focused(page)["key"] == submit, f"Shift+Tab did not come back to {submit}"
    page.keyboard.press("Enter")
    return stops


def ids_labelled(page: Page, *labels: str) -> list[str]:
    return [page.get_by_label(label, exact=True).get_attribute("id") for label in labels]


def test_the_intake_form_is_filled_and_sent_with_the_keyboard_alone(live, page: Page, screenshot):
    woman = her("7741", "en")
    sign_in_as(page, live, live.network.womens_centre.caseworker, "en")
    page.goto(f"{live.url}/referrals/new")

    # Step 1: her needs, her urgency (standard is already chosen), then continue.
    ticked = ids_labelled(page, EN["need_shelter"], EN["need_safety_plan"])
    stops = tab_through_form(page, "form.ref-intake", dict.fromkeys(ticked), submit="button:action=suggest")
    assert len([s for s in stops if s.startswith("needs-")]) >= 25  # every need of the taxonomy

    # Steps 2 and 3: the suggested partner and how to reach her, after step 1 again.
    partner = page.get_by_label(EN["partner"], exact=True)
    expect(partner).to_be_visible()
    for need in ticked:
        expect(page.locator(f"#{need}")).to_be_checked()
    fill = {
        partner.get_attribute("id"): None,
        "name": woman.name,
        "phone": woman.phone,
        "email": woman.email,
        "language": "English",
        "safety_constraints": woman.safety,
        "contact_preferences": woman.preferences,
        "notes": "Two children, 4 and 7.",
    }
    stops = tab_through_form(page, "form.ref-intake", fill, submit="button:action=consent")
    for key in ("other_partner", "through_caseworker", "button:action=draft"):
        assert key in stops  # reached, left as they were

    # Step 4: her consent, on its own page.
    page.wait_for_url(re.compile(r"/referrals/\d+/consent(#main)?$"))
    consent = {
        page.get_by_label(EN["verbally"], exact=True).get_attribute("id"): None,
        "shared_with": "Her name and phone, with the shelter",
        "purpose": "A place in emergency shelter",
    }
    stops = tab_through_form(page, "form.narrow", consent, submit="button:=")
    assert "until" in stops
    page.wait_for_url(re.compile(r"/referrals/\d+(#main)?$"))
    safety = page.get_by_role("region", name="Safety")
    expect(safety).to_contain_text(woman.safety)
    expect(page.get_by_role("status").first).to_contain_text("Consent recorded")


def follow_summary_link(page: Page, index: int) -> dict:
    """The keyboard's way to the summary's `index`-th link, then Enter; the element focused then.

    The summary has the focus when the page opens: Tab goes down its links.
    Elsewhere, Shift+Tab goes back up to them, as a person would.
    """
    on_link = f"document.activeElement === document.querySelectorAll('#error-summary a')[{index}]"
    if page.evaluate("document.activeElement.id") == "error-summary":
        for _ in range(index + 1):
            page.keyboard.press("Tab")
    else:
        for _ in range(200):
            page.keyboard.press("Shift+Tab")
            if page.evaluate(on_link):
                break
    assert page.evaluate(on_link), f"the summary's link no. {index + 1} is not reached"
    link = focused(page)
    assert_visibly_focused(link)
    page.keyboard.press("Enter")
    stop = focused(page)
    assert stop, f"the link {link['label']!r} moved the focus nowhere"
    assert_visibly_focused(stop)
    return stop


def test_errors_are_announced_at_the_top_and_lead_to_their_fields(live, page: Page, screenshot):
    sign_in_as(page, live, live.network.womens_centre.caseworker, "en")
    page.goto(f"{live.url}/referrals/new")

    # Step 1 sent without a need.
    tab_through_form(page, "form.ref-intake", {}, submit="button:action=suggest")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(EN["error_summary"])
    expect(summary).to_be_focused()  # so a screen reader reads it out first
    links = summary.get_by_role("link")
    expect(links).to_have_count(1)
    stop = follow_summary_link(page, 0)
    assert stop["key"] == "needs-0", "the need's error does not lead to the needs"
    screenshot("en-intake-needs-errors")

    # Steps 2 and 3 sent empty, once a need is ticked.
    page.goto(f"{live.url}/referrals/new")
    shelter = ids_labelled(page, EN["need_shelter"])
    tab_through_form(page, "form.ref-intake", dict.fromkeys(shelter), submit="button:action=suggest")
    expect(page.get_by_label(re.compile(r"^Maison Fictive du Phare \(covers 1 of 1"))).to_be_visible()
    tab_through_form(page, "form.ref-intake", {}, submit="button:action=consent")
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    expect(links).to_have_count(3)
    screenshot("en-intake-details-errors")
    expected = ["partner-0", "name", "phone"]
    for index, field in enumerate(expected):
        stop = follow_summary_link(page, index)
        assert stop["key"] == field, f"link no. {index + 1} leads to {stop['key']}, not {field}"
        # The field says what is wrong, tied to it for a screen reader.
        described = page.locator(f"#{field}").get_attribute("aria-describedby") or ""
        group = page.locator(f"#{field}").locator("xpath=ancestor::fieldset[1]")
        if not described and group.count():
            described = group.get_attribute("aria-describedby") or ""
        assert "error" in described, f"{field}'s error is not tied to it"

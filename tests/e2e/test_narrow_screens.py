"""The page header on a phone (390 by 844): one short row, its menu behind a button.

Above every form the header takes at most ~72 px; the "Menu" button (a
disclosure: `aria-expanded`, `aria-controls`) shows the main menu, and the
keyboard reaches every link of it, each visibly focused. axe finds nothing at
all on the page, menu closed or open. On a wide screen the header is the same
as ever: every link shows, and no button.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.e2e.browser import WORDS
from tests.e2e.browser import sign_in_as
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_keyboard import assert_visibly_focused
from tests.e2e.test_keyboard import focused

EN = WORDS["en"]
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}
MOST = 72  # px: about one line of text and a button, with their padding
AXE = Axe()

# What a person sees of the header: its links and buttons shown, in order.
SHOWN = """() => [...document.querySelectorAll('header.site-header a, header.site-header button')]
  .filter(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden')
  .map(e => e.innerText.trim())"""


def header_height(page: Page) -> float:
    return page.locator("header.site-header").evaluate("e => e.getBoundingClientRect().height")


def axe_violations(page: Page) -> list[str]:
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(node.get("target", [])) for node in v["nodes"][:5])
        for v in AXE.run(page).response["violations"]
    ]


def menu_labels(page: Page) -> list[str]:
    """Every link and button of the main menu, in order, whether shown or not."""
    menu = page.get_by_role("navigation", name=EN["main_menu"])
    return menu.locator("a, button").evaluate_all("es => es.map(e => e.textContent.trim())")


def test_on_a_phone_the_header_is_one_short_row_and_its_menu_opens_from_the_keyboard(
    live, page: Page, screenshot
):
    sign_in_as(page, live, live.network.womens_centre.caseworker, "en")
    page.set_viewport_size(WIDE)
    wide = page.evaluate(SHOWN)
    labels = menu_labels(page)
    for label in (EN["my_referrals"], EN["new_referral"], "Français", "Sign out"):
        assert label in labels

    # On the dashboard and on a form: the brand and the button, nothing else, in one short row.
    page.set_viewport_size(PHONE)
    button = page.get_by_role("button", name="Menu", exact=True)
    for path in ("/", "/referrals/new"):
        page.goto(f"{live.url}{path}")
        height = header_height(page)
        assert height <= MOST, f"the header of {path} is {height:.0f} px tall on a phone"
        assert page.evaluate(SHOWN) == ["Maillage", "Menu"]
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(button).to_have_attribute("aria-controls", "site-menu")
        expect(page.get_by_role("navigation", name=EN["main_menu"])).to_be_hidden()
        assert axe_violations(page) == [], f"axe on {path}, menu closed"
    screenshot("narrow-header-form")  # at 1280 and 390; the viewport is wide again after

    # The keyboard: skip link, brand, then the button; Enter opens the menu, Tab goes down it.
    page.set_viewport_size(PHONE)
    page.goto(f"{live.url}/")
    landmarks = {role: page.get_by_role(role).count() for role in ("banner", "main", "contentinfo")}
    assert landmarks == {"banner": 1, "main": 1, "contentinfo": 1}
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["label"] == "Skip to content"
    assert_visibly_focused(skip)
    page.keyboard.press("Tab")
    assert focused(page)["label"] == "Maillage"
    page.keyboard.press("Tab")
    stop = focused(page)
    assert stop["label"] == "Menu", "Tab goes from the brand to the menu button"
    assert_visibly_focused(stop)
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("navigation", name=EN["main_menu"])
    expect(menu).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "narrow-header-menu-open-390.png", full_page=True)
    reached = []
    for _ in labels:
        page.keyboard.press("Tab")
        stop = focused(page)
        assert_visibly_focused(stop)
        reached.append(stop["label"])
    assert reached == labels, "Tab skipped an item of the open menu, or stopped out of order"
    assert header_height(page) > MOST  # the open menu pushes the page down, over nothing
    assert axe_violations(page) == [], "axe on the dashboard, menu open"

    # Escape closes it and gives the focus back to the button; a link opens its page.
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()
    assert focused(page)["label"] == "Menu"
    page.keyboard.press("Space")
    expect(menu).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["label"] == EN["new_referral"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(EN["new_referral"])
    expect(button).to_have_attribute("aria-expanded", "false")  # closed again on the new page

    # A wide screen: the header as ever, every item shown, no button; even after the menu was used.
    page.set_viewport_size(WIDE)
    assert page.evaluate(SHOWN) == wide == ["Maillage", *labels]
    assert header_height(page) <= MOST
    page.set_viewport_size(PHONE)
    button.click()
    page.set_viewport_size(WIDE)
    assert page.evaluate(SHOWN) == wide


def test_without_javascript_the_whole_menu_shows_on_a_phone(live, browser):
    """No script, no button: the menu is all there, on more rows, as before the button."""
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    try:
        sign_in_as(page, live, live.network.womens_centre.caseworker, "en")
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
        expect(page.get_by_role("navigation", name=EN["main_menu"])).to_be_visible()
        assert page.evaluate(SHOWN) == ["Maillage", *menu_labels(page)]
    finally:
        context.close()

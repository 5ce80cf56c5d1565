"""axe-core finds nothing serious or critical on the pages people use, in French as served.

Each page also has exactly one <h1>, `<html lang>` set, and a title that says
where one is without ever naming the woman (titles end up in browser history
and tab lists). Problems are gathered over all the pages, then reported
together: a failure lists every rule broken, where, and how to fix it.
"""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page
from playwright.sync_api import expect

from service.links.operations import issue_link
from service.protocols import protocol_library
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from tests.conftest import PASSWORD
from tests.e2e.browser import WORDS
from tests.e2e.browser import field
from tests.e2e.browser import her
from tests.e2e.browser import sign_in

SERIOUS = {"serious", "critical"}
FR = WORDS["fr"]
AXE = Axe()
WOMAN = her("7751", "fr")
PERSON = PersonDetails(
    name=WOMAN.name,
    phone=WOMAN.phone,
    email=WOMAN.email,
    language="français",
    safety_constraints=WOMAN.safety,
    contact_preferences=WOMAN.preferences,
    notes="Deux enfants fictifs",
)


class Audit:
    """What is wrong with each page checked, gathered for one report."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.checked: list[str] = []

    def __call__(self, page: Page, name: str) -> None:
        self.checked.append(name)
        found = []
        for violation in AXE.run(page).response["violations"]:
            if violation.get("impact") not in SERIOUS:
                continue
            nodes = "; ".join(
                f"{' '.join(node.get('target', []))}: {node.get('failureSummary', '').strip()}"
                for node in violation["nodes"][:5]
            )
            found.append(f"axe {violation['id']} ({violation['impact']}): {violation['help']} -> {nodes}")
        headings = page.locator("h1").count()
        if headings != 1:
            found.append(f"{headings} <h1> instead of one")
        if not page.locator("html").get_attribute("lang"):
            found.append("<html> has no lang")
        title = page.title().strip()
        if not title or title.startswith("·"):
            found.append(f"the title says nothing: {title!r}")
        for secret in (WOMAN.name, WOMAN.phone, WOMAN.email):
            if secret in title:
                found.append(f"the title names her: {title!r}")
        if found:
            self.problems[f"{name} ({page.url})"] = found

    def assert_clean(self) -> None:
        report = "\n".join(
            f"- {name}:\n" + "\n".join(f"    {problem}" for problem in found)
            for name, found in self.problems.items()
        )
        assert not self.problems, f"accessibility problems on {len(self.problems)} page(s):\n{report}"


def test_the_senders_pages_have_no_serious_accessibility_problem(live, page: Page, screenshot):
    audit = Audit()
    centre = live.network.womens_centre
    live.set_language(centre.caseworker, "fr")
    live.sent_referral(PERSON)  # the dashboard lists one referral at least

    page.goto(f"{live.url}/sign-in")
    audit(page, "sign-in")
    field(page, FR["email"]).fill(live.email(centre.caseworker))
    field(page, FR["password"]).fill("not the password")
    page.get_by_role("button", name=FR["sign_in"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "sign-in with an error")
    sign_in(page, live.url, live.email(centre.caseworker), FR)
    audit(page, "dashboard")

    page.goto(f"{live.url}/referrals/new")
    audit(page, "intake, step 1")
    page.get_by_role("button", name=FR["continue"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "intake, step 1 with errors")
    field(page, FR["need_shelter"]).check()
    field(page, FR["need_safety_plan"]).check()
    page.get_by_role("button", name=FR["continue"]).click()
    expect(field(page, FR["partner"])).to_be_visible()
    audit(page, "intake, steps 2 and 3")
    page.get_by_role("button", name=FR["to_consent"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "intake, steps 2 and 3 with errors")
    screenshot("fr-intake-errors")
    field(page, FR["partner"]).check()
    field(page, FR["name"]).fill(WOMAN.name)
    field(page, FR["phone"]).fill(WOMAN.phone)
    field(page, FR["safety_constraints"]).fill(WOMAN.safety)
    page.get_by_role("button", name=FR["to_consent"]).click()

    page.wait_for_url(re.compile(r"/consent$"))
    audit(page, "consent")
    page.get_by_role("button", name=FR["record_consent"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "consent with errors")
    field(page, FR["verbally"]).check()
    field(page, FR["shared_with"]).fill("Son nom et son téléphone")
    field(page, FR["purpose"]).fill("Hébergement")
    page.get_by_role("button", name=FR["record_consent"]).click()
    page.wait_for_url(re.compile(r"/referrals/\d+$"))
    audit(page, "referral, draft, as sender")
    page.get_by_role("button", name=FR["send"], exact=True).click()
    # The same woman was already referred there (below): Maillage warns before sending again.
    warning = page.get_by_role("region", name="Elle y est peut-être déjà référée")
    expect(warning).to_be_visible()
    audit(page, "referral, duplicate warning")
    warning.get_by_role("button", name="Envoyer quand même").click()
    expect(page.get_by_role("status").first).to_be_visible()
    audit(page, "referral, sent, as sender")

    page.goto(f"{live.url}/directory/")
    audit(page, "directory")
    screenshot("fr-directory")
    page.goto(f"{live.url}/directory/organizations/{live.network.shelter.organization.id}")
    audit(page, "organization")
    screenshot("fr-organization")
    page.goto(f"{live.url}/directory/partnerships")
    audit(page, "partnerships")
    page.goto(f"{live.url}/directory/partnerships/{live.partnership_id}")
    audit(page, "partnership")
    screenshot("fr-partnership")
    page.get_by_role("button", name="Ajouter la trace").click()  # nothing written
    expect(page.get_by_role("alert")).to_be_focused()
    audit(page, "partnership, empty trace refused")
    # Its language link leads back to the partnership's page, not to a refusal.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partnership")

    audit.assert_clean()
    assert len(audit.checked) == 17


def test_the_receivers_pages_have_no_serious_accessibility_problem(live, page: Page, new_context, screenshot):
    audit = Audit()
    shelter = live.network.shelter
    live.set_language(shelter.caseworker, "fr")
    referral_id = live.sent_referral(PERSON)
    with live.session() as session:
        token = issue_link(session, referral_id, shelter.organization.id)
    answered = live.sent_referral(PersonDetails(name="Canari-Autre-7752", phone="450-555-7752"))
    with live.session() as session:
        fire(session, protocol_library(), answered, "acknowledge", shelter.caseworker)

    sign_in(page, live.url, live.email(shelter.caseworker), FR)
    page.goto(f"{live.url}/referrals/received")
    audit(page, "inbox")
    screenshot("fr-inbox")
    page.goto(f"{live.url}/referrals/{referral_id}")
    audit(page, "referral, sent, as receiver")
    page.goto(f"{live.url}/referrals/{answered}")
    audit(page, "referral, received, as receiver (accept, decline, redirect)")
    screenshot("fr-referral-receiver")
    decline = page.get_by_role("group", name=re.compile("^Refuser"))
    decline.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "referral, decline refused for want of a reason")
    # Its language link leads back to the referral's page, not to a refusal.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Referral no. {answered}")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The partner without an account, in her own browser.
    partner = new_context().new_page()
    partner.goto(f"{live.url}/link/{token}")
    audit(partner, "signed link")
    partner.get_by_role("button", name=FR["acknowledge"]).click()
    expect(partner.get_by_role("status").first).to_be_visible()
    audit(partner, "signed link, after acknowledging")
    partner.goto(f"{live.url}/link/not-a-token-{'x' * 30}")
    audit(partner, "signed link, not valid")

    audit.assert_clean()
    assert len(audit.checked) == 7


def test_the_coordinators_and_privacy_pages_have_no_serious_accessibility_problem(live, page: Page):
    audit = Audit()
    centre = live.network.womens_centre
    live.set_language(centre.coordinator, "fr")
    live.sent_referral(PERSON)

    page.goto(f"{live.url}/privacy/")
    audit(page, "privacy page (public)")
    page.goto(f"{live.url}/sign-in")
    field(page, FR["email"]).fill(live.email(centre.coordinator))
    field(page, FR["password"]).fill(PASSWORD)
    page.get_by_role("button", name=FR["sign_in"], exact=True).click()
    page.wait_for_url(re.compile(r"/sign-in/code$"))
    audit(page, "sign-in, the code step")
    field(page, "Code").fill("000000")
    field(page, "Code").press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "sign-in, a wrong code")
    sign_in(page, live.url, live.email(centre.coordinator), FR)

    for path, name in [
        ("/organization", "my organization"),
        ("/people", "her rights, search"),
        ("/referrals/emergency", "emergency referral"),
        ("/referrals/emergencies", "emergencies report"),
        ("/privacy/incidents/", "incident register"),
        ("/privacy/retention", "retention period"),
        ("/audit", "audit log"),
        ("/notifications/failed/", "failed messages"),
        ("/organization/api-keys/", "API keys"),
        ("/reports/organization", "report, organization"),
        ("/reports/region", "report, region"),
        ("/reports/unmet-needs", "report, unmet needs"),
        ("/account/mfa", "two-step sign-in"),
        ("/account/password", "password"),
        ("/account/sessions", "sessions"),
        ("/api/v1/reference", "API reference"),
    ]:
        answer = page.goto(f"{live.url}{path}")
        assert answer is not None
        assert answer.status == 200, (path, answer.status)
        audit(page, name)

    page.goto(f"{live.url}/people")
    page.get_by_role("button").filter(has_text=re.compile("Chercher|Rechercher")).first.click()
    audit(page, "her rights, search with nothing given")

    audit.assert_clean()
    assert len(audit.checked) == 20

"""The Reports pages as each role clicks them: who sees which figures, charts, CSV files, languages."""

from __future__ import annotations

import csv
import io
import re

import pytest

from service.accounts.models import Role
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user
from tests.service.test_reports import story  # noqa: F401 - the fixed network of the figures

NOVEMBER = "period=month&on=2026-11-27"


@pytest.fixture
def web(app, clock):
    return app


@pytest.fixture
def as_(web, session):
    def signed_in(actor):
        return sign_in(web.test_client(), actor, session)

    return signed_in


@pytest.fixture
def admin(session, clock):
    return make_user(session, Role.REGIONAL_ADMIN, None, clock)


def cells(page: str, caption: str) -> list[list[str]]:
    """The rows (header cells and data cells) of the table with this caption, as text."""
    table = page.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]


def test_a_coordinator_reads_her_organizations_figures_with_charts(as_, network, story):  # noqa: F811
    browser = as_(network.womens_centre.coordinator)
    response = browser.get(f"/reports/organization?{NOVEMBER}&lang=en")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.text
    assert page.count("<h1>") == 1
    assert "Figures of Centre de femmes Fictif des Rivières" in page
    # Sent: 6 referrals, 60 % of those decided accepted, 1 in 6 missed a deadline.
    sent = page.split("Referrals we received")[0]
    summary = dict(cells(sent, "In short")[1:])
    assert summary["Referrals sent"] == "6"
    assert summary["Acceptance rate (of the referrals decided)"] == "60%"
    assert summary["Referrals that missed a deadline"] == "17%"
    assert cells(sent, "Time from sending to each step")[1] == ["Receipt acknowledged", "5", "4.0", "7.2"]
    # What it received is counted as received, in both languages.
    received = page.split("Referrals we received")[1]
    assert [row[0] for row in cells(received, "In short")[1:2]] == ["Referrals received"]
    french = browser.get(f"/reports/organization?{NOVEMBER}&lang=fr").text
    received = french.split("Référencements que nous avons reçus")[1]
    assert cells(received, "En bref")[1][0] == "Référencements reçus"
    # Charts are images with a title and a description, next to their table.
    assert page.count('role="img"') >= 4
    assert '<title id="chart-sent-states-title">Referrals by state and outcome</title>' in page
    assert "<desc id=" in page
    assert "style=" not in page  # the CSP forbids inline style


def test_partners_are_listed_but_never_another_organizations_own_report(as_, network, story):  # noqa: F811
    browser = as_(network.legal_aid.coordinator)
    page = browser.get(
        f"/reports/organization?{NOVEMBER}&organization={network.shelter.organization.id}"
    ).text
    # Legal aid received H from the women's centre, and that is all it sees: nothing of the shelter.
    assert "Maison Fictive du Phare" not in page
    assert "Centre de femmes Fictif des Rivières" in page
    assert "Aide juridique Fictive" in page


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.PARTNER_CONTACT, Role.PRIVACY_OFFICER])
def test_people_who_act_on_referrals_one_by_one_get_no_reports(as_, session, network, clock, role):
    if role == Role.CASEWORKER:
        actor = network.shelter.caseworker
    else:
        actor = make_user(session, role, network.shelter.organization, clock)
    browser = as_(actor)
    for path in ("/reports/", "/reports/organization", "/reports/region", "/reports/unmet-needs"):
        assert browser.get(path).status_code == 403, path
    assert browser.get("/reports/region.csv?table=states").status_code == 403
    assert "/reports/" not in browser.get("/directory/").text  # no menu link either


def test_the_regional_admin_sees_aggregates_only_with_small_cells_hidden(as_, admin, story):  # noqa: F811
    browser = as_(admin)
    assert browser.get("/reports/").headers["Location"].endswith("/reports/region")
    assert browser.get("/reports/organization").status_code == 403
    page = browser.get(f"/reports/region?{NOVEMBER}&lang=en").text
    rows = cells(page, "Referrals by state and outcome")
    # Seven referrals in five states, none with 5 or more: every state is "< 5", the total stays.
    assert len(rows) == 7
    assert all(row[1] == "&lt; 5" for row in rows[1:-1])
    assert rows[-1] == ["Total", "7"]
    assert "Maison Fictive du Phare" not in page
    # Receipt after 3 hours (median) over 6 referrals; but 6 of 7 would give away the one
    # never acknowledged, so the count is hidden. Acceptance: 3, a small count, hidden with its times.
    times = cells(page, "Time from sending to each step")
    assert times[1] == ["Receipt acknowledged", "x", "3.0", "7.0"]
    assert times[2][1:] == ["&lt; 5", "—", "—"]
    summary = dict(cells(page, "In short")[1:])
    assert summary["Acceptance rate (of the referrals decided)"] == "—"
    assert summary["Reminders sent"] == "&lt; 5"


def test_unmet_needs_by_need_and_reason_with_totals_that_give_nothing_away(as_, admin, story):  # noqa: F811
    page = as_(admin).get(f"/reports/unmet-needs?{NOVEMBER}&lang=en").text
    rows = cells(page, "Unmet needs by need and reason")
    assert rows[0] == ["Need", "No capacity", "Outside our mandate", "Total"]
    assert rows[1:] == [
        ["Emergency shelter", "&lt; 5", "&lt; 5", "&lt; 5"],
        ["Safety planning", "0", "&lt; 5", "&lt; 5"],
        ["Total", "&lt; 5", "&lt; 5", "&lt; 5"],
    ]


def test_each_table_downloads_as_the_csv_of_what_the_page_shows(as_, admin, network, story):  # noqa: F811
    response = as_(admin).get(f"/reports/region.csv?{NOVEMBER}&table=states&lang=en")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["State", "Referrals"]
    assert rows[-1] == ["Total", "7"]
    assert {row[1] for row in rows[1:-1]} == {"< 5"}

    mine = as_(network.womens_centre.coordinator).get(
        f"/reports/organization.csv?{NOVEMBER}&table=partners&lang=en"
    )
    rows = list(csv.reader(io.StringIO(mine.text.lstrip("\ufeff"))))
    assert rows[1][:3] == ["Aide juridique Fictive", "1", "100%"]
    assert rows[2][:3] == ["Maison Fictive du Phare", "6", "40%"]
    assert as_(admin).get(f"/reports/region.csv?{NOVEMBER}&table=nothing").status_code == 404


def test_a_french_csv_is_separated_by_semicolons_as_excel_in_quebec_expects(as_, admin, story):  # noqa: F811
    response = as_(admin).get(f"/reports/region.csv?{NOVEMBER}&table=states&lang=fr")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[-1] == ["Total", "7"]


def test_french_by_default_english_on_request(as_, network, story):  # noqa: F811
    browser = as_(network.womens_centre.coordinator)
    french = browser.get(f"/reports/organization?{NOVEMBER}").text
    assert '<html lang="fr">' in french
    assert "En cours" in french  # the protocol's own words for the states
    english = browser.get(f"/reports/organization?{NOVEMBER}&lang=en").text
    assert "In progress" in english
    assert "Referrals we sent" in english


def test_a_bad_period_is_a_clear_error_not_a_crash(as_, network):
    browser = as_(network.womens_centre.coordinator)
    response = browser.get("/reports/organization?period=decade&on=someday&lang=en")
    assert response.status_code == 400
    assert "Please correct the following" in response.text
    assert "Traceback" not in response.text

"""The protocol pages as people read them: every shipped protocol in French and English, its
diagram, and an agreement's page with the deadlines the two organizations agreed on."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from service.directory.models import Partnership
from service.directory.models import ReferralAgreement
from service.protocols import protocol_library
from tests.conftest import sign_in

SHIPPED = sorted({(p.name, p.version) for p in protocol_library()})
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def reader(app, network, session):
    return sign_in(app.test_client(), network.womens_centre.caseworker, session)


def inline_svg(page: str) -> str:
    return "<svg" + page.split("<svg", 1)[1].split("</svg>", 1)[0] + "</svg>"


def parsed(text: str | bytes) -> ET.Element:
    """The SVG as XML: it must be well-formed to parse at all."""
    return ET.fromstring(text)  # noqa: S314 -- our own output, not untrusted input


@pytest.mark.parametrize(("name", "version"), SHIPPED)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_protocol_has_a_page_with_its_states_deadlines_and_diagram(reader, name, version, language):
    protocol = protocol_library().get(name, version)
    response = reader.get(f"/protocols/{name}/v{version}?lang={language}")
    assert response.status_code == 200
    page = response.text
    assert protocol.spec.title.in_language(language) in page
    for state in protocol.states.values():
        assert state.title.in_language(language) in page
        if state.deadline:
            assert state.deadline.title.in_language(language) in page
    for transition in protocol.transitions:
        assert transition.title.in_language(language) in page
    # The diagram is inline, well-formed, titled for screen readers and has one box per state.
    drawing = parsed(inline_svg(page))
    assert drawing.get("role") == "img"
    assert drawing.find(f"{SVG}title").text.startswith(protocol.spec.title.in_language(language))
    boxes = {g.get("data-state") for g in drawing.iter(f"{SVG}g") if g.get("class") == "state"}
    assert boxes == set(protocol.states)
    assert not [e for e in drawing.iter() if e.tag.endswith("script") or "style" in e.attrib]
    # The diagram alone, as a file.
    alone = reader.get(f"/protocols/{name}/v{version}.svg?lang={language}")
    assert alone.status_code == 200
    assert alone.mimetype == "image/svg+xml"
    assert parsed(alone.data).tag == f"{SVG}svg"


def test_the_page_names_who_acts_the_reasons_and_the_deadlines_in_french(reader):
    page = html.unescape(reader.get("/protocols/standard/v1?lang=fr").text)
    assert "Rappel après 2 jours ouvrables, à l\u2019organisme receveur" in page
    assert "Aucune place disponible" in page  # a reason to decline
    assert "Rappel après 2 jours ouvrables" in page  # the receipt deadline's default
    english = reader.get("/protocols/standard/v1?lang=en").text
    assert "Reminder after 2 business days, to the receiving organization" in english
    assert "<td>The receiving organization</td>" in english
    assert "No capacity" in english
    assert "Reminder after 2 business days" in english


def test_every_party_who_acts_is_named_in_the_diagram(reader):
    for name, version in SHIPPED:
        drawing = parsed(reader.get(f"/protocols/{name}/v{version}.svg").data)
        texts = [t.text for t in drawing.iter(f"{SVG}text")]
        assert "()" not in texts, f"{name} v{version} draws an action with nobody to take it"


def test_the_list_links_every_protocol_and_version(reader):
    page = reader.get("/protocols").text
    for name, version in SHIPPED:
        assert f'href="/protocols/{name}/v{version}"' in page


def test_an_unknown_protocol_or_version_is_not_found(reader):
    assert reader.get("/protocols/nothing/v1").status_code == 404
    assert reader.get("/protocols/standard/v99").status_code == 404
    assert reader.get("/protocols/standard/v99.svg").status_code == 404


def test_strangers_are_sent_to_sign_in(client):
    assert client.get("/protocols/standard/v1").status_code in (302, 401)


@pytest.fixture
def agreement(session, network, clock):
    low, high = sorted((network.womens_centre.organization.id, network.shelter.organization.id))
    partnership = Partnership(
        first_organization_id=low,
        second_organization_id=high,
        kinds=["referral_protocol"],
        created_at=clock.now,
    )
    session.add(partnership)
    session.flush()
    agreed = ReferralAgreement(
        partnership_id=partnership.id,
        version=1,
        protocol_name="standard",
        parameters={"receipt_deadline": "4 business days", "follow_up_delay": "14 days"},
        effective_on=date(2026, 11, 1),
        proposed_by_organization_id=network.womens_centre.organization.id,
        proposed_at=clock.now,
        confirmed_at=clock.now,
    )
    session.add(agreed)
    session.commit()
    return agreed


def test_an_agreements_page_shows_the_protocol_with_the_agreed_deadlines(app, network, session, agreement):
    for side in (network.womens_centre, network.shelter):
        browser = sign_in(app.test_client(), side.coordinator, session)
        address = f"/directory/partnerships/{agreement.partnership_id}/agreements/1"
        partnership_page = browser.get(f"/directory/partnerships/{agreement.partnership_id}").text
        assert f'href="{address}"' in partnership_page
        page = browser.get(f"{address}?lang=en").text
        assert "Agreement version 1 between" in page
        # The agreed delay, in the list and in the diagram; the default stays named beside it.
        assert "Reminder after 4 business days, to the receiving organization" in page
        assert "Reminder after 2 business days, to the receiving organization" not in page
        drawing = parsed(inline_svg(page))
        texts = [t.text for t in drawing.iter(f"{SVG}text")]
        assert "reminder after 4 business days*" in texts
        agreed = re.search(r"<th scope=\"row\">Follow-up delay</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", page)
        assert agreed.groups() == ("14 days <strong>(changed)</strong>", "30 days")
        alone = browser.get(f"{address}.svg?lang=en")
        assert alone.mimetype == "image/svg+xml"
        assert "reminder after 4 business days*" in [t.text for t in parsed(alone.data).iter(f"{SVG}text")]
        french = browser.get(f"{address}?lang=fr").text
        assert "Rappel après 4 jours ouvrables" in french


def test_an_unknown_agreement_is_not_found(reader, agreement):
    assert reader.get(f"/directory/partnerships/{agreement.partnership_id}/agreements/2").status_code == 404
    assert reader.get("/directory/partnerships/999999/agreements/1").status_code == 404
    assert (
        reader.get(f"/directory/partnerships/{agreement.partnership_id}/agreements/2.svg").status_code == 404
    )

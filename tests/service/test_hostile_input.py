"""What an outside probe sent: a NUL in any text, JSON nested 100,000 deep, ids past any row, bodies of
many megabytes, `0` for a boolean. Each is refused with a clear 4xx naming what is wrong (a 422 or 400
problem in the API, an error on the field in French on pages), never a 500. PostgreSQL refuses a NUL
and an integer past 32 bits where SQLite does not: the `engine` fixture runs these on both."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func
from sqlalchemy import select

from service.api.keys import create_key
from service.referrals.models import Referral
from service.web.forms import Form
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user as make_directory_user
from tests.service.test_directory_pages import organization_form
from tests.service.test_referral_pages import intake_data
from tests.service.test_referral_pages import referral_in

PROBLEM = "application/problem+json"
TOO_LARGE = 2**31  # one past the largest id a row can have
NUL = "a\x00b"


@pytest.fixture
def api(client, session, network):
    """The women's centre's records system, with a coordinator's key."""
    token = create_key(session, network.womens_centre.coordinator, name="Dossiers", role="coordinator").token

    def call(method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def new_referral(network, **changes) -> dict:
    return {"receiver_organization_id": network.shelter.organization.id, "need_codes": []} | changes


def referrals_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Referral))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.json


def locations(problem: dict) -> list[list]:
    return [error["location"] for error in problem["errors"]]


# NUL and other control characters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"person": {"name": NUL}}, ["person", "name"]),
        ({"person": {"notes": "line one\r\nline two\x01"}}, ["person", "notes"]),
        (
            {"consent": {"method": "verbal", "shared_with": NUL, "purpose": "Find her a place"}},
            ["consent", "shared_with"],
        ),
        ({"need_codes": ["shelter_emergency", NUL]}, ["need_codes", 1]),
        ({"protocol": NUL}, ["protocol"]),
    ],
)
def test_a_control_character_in_a_new_referral_is_a_422_naming_the_field(
    api, session, network, changes, where
):
    problem = assert_problem(api("POST", "/referrals", json=new_referral(network, **changes)), 422)
    assert locations(problem) == [where]
    assert "\x00" not in str(problem)  # the value sent is never repeated
    assert referrals_count(session) == 0


def test_tabs_and_line_breaks_are_text_like_any_other(api, network):
    person = {"name": "Prénom\tFictif", "notes": "Une ligne\r\nune autre", "phone": "450-555-0199"}
    assert api("POST", "/referrals", json=new_referral(network, person=person)).status_code == 201


def test_a_control_character_in_an_action_is_a_422_naming_the_field(api, session, network, protocols, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    for field in ("trigger", "reason", "comment"):
        sent = {"trigger": "cancel", field: "a\x00b"}
        problem = assert_problem(api("POST", f"/referrals/{referral.id}/actions", json=sent), 422)
        assert locations(problem) == [[field]]
    assert session.get(Referral, referral.id).state == "sent"


@pytest.mark.parametrize(
    "path",
    [
        "/referrals?state=%00",
        "/referrals?protocol=a%00b",
        "/referrals?cursor=%00",
        "/organizations?need=%00",
        "/organizations?q=a%00b",
        "/services?need=%00",
        "/services?q=%00",
    ],
)
def test_a_nul_in_a_filter_is_a_422_naming_it(api, path):
    problem = assert_problem(api("GET", path), 422)
    assert locations(problem) == [[path.split("?")[1].split("=")[0]]]


def test_a_filter_the_list_does_not_have_is_a_422_too(api):
    assert locations(assert_problem(api("GET", "/referrals?need=%00"), 422)) == [["need"]]


def test_the_document_says_text_holds_no_control_characters(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    name = schemas["PersonIn"]["properties"]["name"]
    assert name["pattern"] == "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*$"
    assert schemas["ReferralCreate"]["properties"]["need_codes"]["items"]["pattern"] == name["pattern"]


# Deep JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["[" * 100_000, '{"a": ' * 5_000 + "1" + "}" * 5_000])
def test_json_nested_too_deep_is_a_400(api, session, network, protocols, clock, sent):
    referral = referral_in("sent", session, protocols, network, clock)
    for path in ("/referrals", f"/referrals/{referral.id}/actions"):
        response = api("POST", path, data=sent, content_type="application/json")
        assert assert_problem(response, 400)["type"] == "/api/v1/reference#problem-bad-request"


def test_a_body_that_is_not_json_is_still_a_400(api):
    assert_problem(api("POST", "/referrals", data="{", content_type="application/json"), 400)


# Strict types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"urgent": 0}, ["urgent"]),
        ({"urgent": "true"}, ["urgent"]),
        ({"receiver_organization_id": "2"}, ["receiver_organization_id"]),
        ({"receiver_organization_id": 2.0}, ["receiver_organization_id"]),
        ({"receiver_organization_id": True}, ["receiver_organization_id"]),
        ({"need_codes": [1]}, ["need_codes", 0]),
    ],
)
def test_a_value_of_the_wrong_type_is_a_422_not_converted(api, session, network, changes, where):
    problem = assert_problem(api("POST", "/referrals", json=new_referral(network, **changes)), 422)
    assert locations(problem) == [where]
    assert referrals_count(session) == 0


def test_strict_types_still_read_a_date_written_in_json(api, session, network, protocols, clock):
    consent = {
        "method": "written",
        "shared_with": "Her name, with the shelter",
        "purpose": "A place tonight",
        "expires_at": "2027-01-31T12:00:00-05:00",
    }
    made = api("POST", "/referrals", json=new_referral(network, urgent=True, consent=consent))
    assert made.status_code == 201, made.text
    assert made.json["urgent"] is True
    assert made.json["consent_valid"] is True


# Body size ------------------------------------------------------------------------------------


def test_an_api_body_past_the_limit_is_a_413_unread(api, app, network):
    notes = "x" * (app.config["API_MAX_CONTENT_LENGTH"] + 1)
    response = api("POST", "/referrals", json=new_referral(network, person={"notes": notes}))
    assert assert_problem(response, 413)["type"] == "/api/v1/reference#problem-too-large"


def test_the_api_limit_is_a_setting(api, app, network):
    app.config["API_MAX_CONTENT_LENGTH"] = 100
    response = api("POST", "/referrals", json=new_referral(network, person={"notes": "x" * 100}))
    assert_problem(response, 413)


def test_a_form_past_the_limit_is_a_413_page_in_french(app, session, network):
    browser = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    notes = "x" * app.config["MAX_CONTENT_LENGTH"]
    response = browser.post("/referrals/new", data=intake_data(notes=notes))
    assert response.status_code == 413
    assert "trop volumineux" in response.text
    assert referrals_count(session) == 0


# Forms on pages -------------------------------------------------------------------------------

CONTROL_ERROR = "Retirez de ce champ les caractères de contrôle invisibles."


@pytest.mark.parametrize("field", ["name", "notes", "safety_constraints"])
def test_a_nul_in_the_intake_form_is_an_error_on_that_field(app, session, network, field):
    browser = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    data = intake_data(other_partner=str(network.legal_aid.organization.id), **{field: NUL})
    response = browser.post("/referrals/new", data=data)
    assert response.status_code == 200
    assert CONTROL_ERROR in response.text
    assert f'id="{field}-error-1"' in response.text  # next to the field it is about
    assert referrals_count(session) == 0


def test_a_nul_in_the_sign_in_form_is_an_error_not_a_lookup(client):
    response = client.post("/sign-in", data={"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 200
    assert CONTROL_ERROR in response.text


def test_a_nul_in_a_directory_form_is_an_error_on_that_field(app, session, network):
    shelter = network.shelter.organization
    browser = sign_in(app.test_client(), network.shelter.coordinator, session)
    response = browser.post(f"/directory/organizations/{shelter.id}/edit", data=organization_form(NUL))
    assert response.status_code == 200
    assert CONTROL_ERROR in response.text


def test_a_nul_or_a_number_too_large_in_the_person_search_is_an_error(app, session, network):
    browser = sign_in(app.test_client(), network.womens_centre.coordinator, session)
    by_name = browser.post("/people", data={"name": NUL})
    assert by_name.status_code == 200
    assert CONTROL_ERROR in by_name.text
    by_number = browser.post("/people", data={"number": str(TOO_LARGE)})
    assert by_number.status_code == 200
    assert "Ce nombre est trop grand." in by_number.text


@pytest.mark.parametrize(
    "path",
    ["/directory/?q=a%00b", "/directory/?need=%00", "/audit?action=%00", "/?lang=%00", "/people?x%00=1"],
)
def test_a_nul_in_a_page_address_is_a_400_in_french(app, session, network, path):
    browser = sign_in(app.test_client(), network.womens_centre.coordinator, session)
    response = browser.get(path)
    assert response.status_code == 400
    assert "contient des caractères non permis. Vérifiez le lien." in response.text


def test_every_form_refuses_control_characters():
    def descendants(cls: type) -> set[type]:
        return {cls, *(d for sub in cls.__subclasses__() for d in descendants(sub))}

    forms = {form for form in descendants(FlaskForm) if form.__module__.startswith("service.")}
    assert len(forms) > 20
    assert {form for form in forms if not issubclass(form, Form)} == set()


# Ids out of range -----------------------------------------------------------------------------


def test_an_id_past_any_row_is_not_found_on_every_page(app, session, network):
    browser = sign_in(app.test_client(), network.shelter.coordinator, session)
    for path in (
        f"/referrals/{TOO_LARGE}",
        f"/referrals/{TOO_LARGE}/fhir.json",
        f"/referrals/{TOO_LARGE}/edit",
        f"/referrals/{TOO_LARGE}/consent",
        f"/referrals/{TOO_LARGE}/actions",
        f"/directory/organizations/{TOO_LARGE}",
        f"/directory/partnerships/{TOO_LARGE}",
        f"/directory/services/{TOO_LARGE}/edit",
        f"/people/file?referral={TOO_LARGE}",
        f"/people/file?referral=1&referral={10**30}",
    ):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "Page introuvable" in response.text, path
    for path in (
        f"/account/sessions/{TOO_LARGE}/end",
        f"/referrals/{TOO_LARGE}/actions",
        f"/referrals/{TOO_LARGE}/consent/withdraw",
    ):
        assert browser.post(path).status_code == 404, path


def test_an_id_past_any_row_in_the_api_is_still_refused_after_the_key(api, client):
    assert client.get(f"/api/v1/referrals/{TOO_LARGE}").status_code == 401
    assert_problem(api("GET", f"/referrals/{TOO_LARGE}"), 404)
    assert_problem(api("POST", f"/referrals/{TOO_LARGE}/actions", json={"trigger": "send"}), 404)


def test_the_document_gives_ids_their_range(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    (parameter,) = paths["/api/v1/referrals/{referral_id}"]["get"]["parameters"]
    assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, TOO_LARGE - 1)


def test_a_directory_admin_sees_the_same(app, session, network, clock):
    admin = make_directory_user(session, "regional_admin", None, clock)
    browser = sign_in(app.test_client(), admin, session)
    assert browser.get(f"/directory/organizations/{TOO_LARGE}/edit").status_code == 404
    assert browser.post(f"/directory/services/{TOO_LARGE}/remove").status_code == 404

"""The API's protocols and directory, and the OpenAPI document generated from the code."""

from __future__ import annotations

import pytest

from service.api.openapi import document
from service.directory.models import Need
from service.directory.models import Service
from tests.service.test_api_referrals import Api
from tests.service.test_api_referrals import key_for


@pytest.fixture
def api(client, session, network) -> Api:
    return Api(client, key_for(session, network.shelter.coordinator), language="en")


@pytest.fixture
def shelter_service(session, network) -> Service:
    service = Service(
        organization_id=network.shelter.organization.id,
        name="Hébergement d'urgence",
        description="Sept places",
        needs=[session.get_one(Need, "shelter_emergency")],
    )
    session.add(service)
    session.commit()
    return service


def test_protocols_are_listed_read_and_drawn(api):
    listed = api.get("/protocols").get_json()["items"]
    names = [p["name"] for p in listed]
    assert "standard" in names
    standard = api.get("/protocols/standard").get_json()
    assert standard["initial"] == "draft"
    assert "send" in [t["trigger"] for t in standard["transitions"]]
    assert "no_capacity" in next(t for t in standard["transitions"] if t["trigger"] == "decline")["reasons"]
    assert api.get("/protocols/standard?version=1").get_json()["version"] == 1
    diagram = api.get("/protocols/standard/diagram").get_json()
    assert diagram["format"] == "mermaid"
    assert "stateDiagram-v2" in diagram["text"]
    missing = api.get("/protocols/nothing")
    assert missing.status_code == 404
    assert missing.get_json()["type"].endswith("problem-protocol-not-found")
    assert api.get("/protocols/standard?version=99").status_code == 404


def test_the_directory_is_searched_by_need(api, network, shelter_service):
    by_need = api.get("/organizations?need=shelter_emergency").get_json()["items"]
    assert [o["id"] for o in by_need] == [network.shelter.organization.id]
    assert by_need[0]["services"][0]["needs"] == ["shelter_emergency"]
    assert len(api.get("/organizations").get_json()["items"]) == 3
    assert [o["name"] for o in api.get("/organizations?q=phare").get_json()["items"]] == [
        "Maison Fictive du Phare"
    ]
    one = api.get(f"/organizations/{network.legal_aid.organization.id}").get_json()
    assert one["name"] == "Aide juridique Fictive"
    assert api.get("/organizations/999999").status_code == 404
    services = api.get("/services?need=shelter_emergency").get_json()["items"]
    assert [s["id"] for s in services] == [shelter_service.id]
    assert api.get("/services?need=legal_information").get_json()["items"] == []
    assert (
        api.get(f"/services/{shelter_service.id}").get_json()["organization_id"]
        == network.shelter.organization.id
    )
    needs = api.get("/needs").get_json()["items"]
    assert {"code": "shelter_emergency", "group": "safety", "label": "Emergency shelter"} in needs


def test_the_document_is_openapi_3_1_generated_from_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    routes = {
        rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.reference"
    }
    assert routes == set(spec["paths"])
    fire = spec["paths"]["/api/v1/referrals/{referral_id}/actions"]["post"]
    assert (
        fire["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/TriggerIn"
    )
    assert "If-Match" in [p["name"] for p in fire["parameters"]]
    assert "application/problem+json" in fire["responses"]["default"]["content"]
    assert spec["components"]["schemas"]["ReferralCreate"]["examples"]
    assert spec["components"]["schemas"]["TriggerIn"]["additionalProperties"] is False
    assert spec["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert document(app) is document(app)


def test_every_example_of_the_document_fits_its_schema(client):
    import jsonschema_rs  # schemathesis brings it

    spec = client.get("/api/v1/openapi.json").get_json()
    checked = 0
    for name, schema in spec["components"]["schemas"].items():
        validator = jsonschema_rs.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        )
        for example in schema.get("examples", []):
            assert validator.is_valid(example), (name, list(validator.iter_errors(example)))
            checked += 1
    assert checked >= 6


def test_the_reference_page_is_rendered_from_the_document(client):
    page = client.get("/api/v1/reference?lang=en")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "<script" not in page.text
    assert "POST /api/v1/referrals/{referral_id}/actions" in page.text
    assert 'id="problem-concurrent-update"' in page.text
    assert 'id="schema-ReferralOut"' in page.text
    assert page.text.count("<h1") == 1

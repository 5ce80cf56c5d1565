"""schemathesis against the served OpenAPI document: for every operation, authenticated with a
caseworker's and with a coordinator's key, generated requests never meet a server error and every
answer conforms to the document. Requests that break the document (negative mode) are sent too,
with one role: they must be refused as problems, never crash."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.service.test_api_referrals import key_for
from tests.service.test_referral_pages import referral_in

CHECKS = {
    schemathesis.GenerationMode.POSITIVE: [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ],
    # A request outside the document may be refused with any problem: no status to conform to.
    schemathesis.GenerationMode.NEGATIVE: [
        not_a_server_error,
        response_schema_conformance,
        content_type_conformance,
    ],
}
EXAMPLES = 12


@pytest.mark.parametrize(
    ("role", "mode"),
    [
        ("caseworker", schemathesis.GenerationMode.POSITIVE),
        ("coordinator", schemathesis.GenerationMode.POSITIVE),
        ("coordinator", schemathesis.GenerationMode.NEGATIVE),
    ],
)
def test_every_operation_keeps_to_the_document(app, session, network, protocols, clock, role, mode):
    referrals = [
        referral_in(state, session, protocols, network, clock).id
        for state in ("draft", "sent", "received", "declined")
    ]
    token = key_for(session, network.womens_centre.coordinator, role)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:
        fixed = (
            [{}, {"referral_id": referrals[1]}, {"referral_id": referrals[2]}]
            if "{referral_id}" in operation.path
            else [{}]
        )
        for path_parameters in fixed:
            strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def keeps_to_the_document(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS[mode], headers=headers)

            keeps_to_the_document()

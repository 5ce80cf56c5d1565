"""A referral exported as FHIR R4: valid in every state of every shipped protocol, for its parties only."""

from __future__ import annotations

import json
from collections import deque

import pytest
from fhir.resources.R4B import __fhir_version__ as fhir_models_version
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.errors import ReferralNotFound
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.standards.fhir import EXPORT_ACTION
from service.standards.fhir import NoFhirMapping
from service.standards.fhir import referral_as_fhir
from tests.conftest import sign_in
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

# fhir.resources' R4 (4.0.1) models exist only in releases tied to pydantic 1; its maintained
# releases carry R4B (4.3.0), whose Task, ServiceRequest, Consent, Patient, Organization and Bundle
# are R4's unchanged (R4B changed medication definitions, evidence and subscriptions only).
FHIR_MODELS_VERSION = "4.3.0"
# The value sets of FHIR R4 (4.0.1) these resources use: the model package checks shapes, not codes.
TASK_STATUS = {
    "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
    "in-progress", "on-hold", "failed", "completed", "entered-in-error",
}  # fmt: skip
REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
CONSENT_STATUS = {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
PRIORITY = {"routine", "urgent", "asap", "stat"}

# Every state of every referral protocol (a request to join is no referral: FHIR has no word for it).
EVERY_STATE = [
    (protocol.name, protocol.version, state)
    for protocol in protocol_library()
    if protocol.subject == "referral"
    for state in protocol.states
]


def path_to(protocol: Protocol, state: str) -> list[Transition]:
    """The shortest list of transitions from the initial state to `state`."""
    paths = {protocol.initial: []}
    queue = deque([protocol.initial])
    while queue:
        here = queue.popleft()
        for transition in protocol.transitions:
            if here in transition.sources and transition.dest not in paths:
                paths[transition.dest] = [*paths[here], transition]
                queue.append(transition.dest)
    return paths[state]


def first_reason(protocol: Protocol, transition: Transition) -> str | None:
    if transition.reason is None:
        return None
    codes = protocol.reasons[transition.reason]
    return next(code for code, reason in codes.items() if not reason.comment_required)


def referral_in(session, protocols: ProtocolLibrary, network, clock, protocol: Protocol, state: str):
    """A referral of the women's centre to the shelter, moved through the protocol to `state`."""
    sender, receiver = network.womens_centre.coordinator, network.shelter.coordinator
    referral = open_referral(
        session,
        protocols,
        network.womens_centre.caseworker,
        receiver_organization_id=network.shelter.organization.id,
        protocol_name=protocol.name,
        need_codes=["shelter_emergency", "legal_aid"],
        urgent=protocol.name == "urgent",
        person=PersonDetails(
            name="Prénom Fictif",
            phone="450-555-0000",
            language="fr",
            safety_constraints="Pas de message vocal",
        ),
        clock=clock,
    )
    record_consent(
        session, referral.id, sender, method="verbal", shared_with="La maison", purpose="Hébergement"
    )
    for transition in path_to(protocol, state):
        actor = sender if transition.parties & {"sender", "sender_coordinator"} else receiver
        clock.advance(hours=1)
        referral = fire(
            session,
            protocols,
            referral.id,
            transition.trigger,
            actor,
            reason=first_reason(protocol, transition),
            comment="Commentaire" if transition.comment == "required" else None,
            target_organization_id=network.legal_aid.organization.id
            if "target_organization_given" in transition.guards
            else None,
            clock=clock,
        )
    assert referral.state == state
    return referral


def resources(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


def assert_valid_fhir(bundle: dict) -> None:
    """Valid against the FHIR models, each resource on its own too, and with R4 codes only."""
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    found = resources(bundle)
    [task], [request] = found["Task"], found["ServiceRequest"]
    assert task["status"] in TASK_STATUS
    assert task["intent"] == request["intent"] == "order"
    assert request["status"] in REQUEST_STATUS
    assert {task["priority"], request["priority"]} <= PRIORITY
    assert all(consent["status"] in CONSENT_STATUS for consent in found.get("Consent", []))
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    for reference in (task["focus"], task["for"], task["owner"], task["requester"], request["subject"]):
        assert reference["reference"] in full_urls


@pytest.mark.parametrize(("name", "version", "state"), EVERY_STATE, ids=lambda v: str(v))
def test_a_referral_in_every_state_of_every_protocol_exports_as_valid_fhir(
    session, protocols, network, clock, name, version, state
):
    protocol = protocols.get(name, version)
    referral = referral_in(session, protocols, network, clock, protocol, state)
    # Only its sender sees a referral never sent (a draft, one discarded); once sent, the receiver too.
    was_sent = any(t.trigger == "send" for t in path_to(protocol, state))
    viewer = network.shelter.caseworker if was_sent else network.womens_centre.caseworker

    bundle = referral_as_fhir(session, referral.id, viewer, protocols=protocols, clock=clock)

    assert_valid_fhir(bundle)
    [task] = resources(bundle)["Task"]
    assert task["status"] == protocol.spec.fhir.task_status[state]
    assert task["businessStatus"]["coding"][0]["code"] == state
    assert task["businessStatus"]["text"] == protocol.states[state].title.fr
    last = path_to(protocol, state)[-1:] or [None]
    reason = first_reason(protocol, last[0]) if last[0] else None
    if reason is None:
        assert "statusReason" not in task
    else:
        assert task["statusReason"]["coding"][0]["code"] == reason


def test_the_export_says_what_the_referral_holds_and_is_audited(session, protocols, network, clock):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "declined")

    bundle = referral_as_fhir(
        session, referral.id, network.shelter.caseworker, protocols=protocols, clock=clock
    )

    found = resources(bundle)
    [task], [request], [patient] = found["Task"], found["ServiceRequest"], found["Patient"]
    assert (task["status"], request["status"]) == ("rejected", "revoked")
    assert task["statusReason"]["coding"][0]["display"] == "No capacity"
    assert [c["coding"][0]["code"] for c in request["reasonCode"]] == ["legal_aid", "shelter_emergency"]
    assert patient["name"] == [{"text": "Prénom Fictif"}]
    assert {"text": "Safety constraints: Pas de message vocal"} in request["note"]
    assert [c["status"] for c in found["Consent"]] == ["active"]
    names = sorted(o["name"] for o in found["Organization"])
    assert names == sorted([network.shelter.organization.name, network.womens_centre.organization.name])
    assert network.legal_aid.organization.name not in json.dumps(bundle, ensure_ascii=False)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.referral_id == referral.id)).all()
    assert [(e.action, e.user_id) for e in entries if e.action == EXPORT_ACTION] == [
        (EXPORT_ACTION, network.shelter.caseworker.user_id)
    ]


def test_without_a_valid_consent_the_receiver_gets_nothing_of_her(session, protocols, network, clock):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "received")
    referral.consents[0].withdrawn_at = clock.now
    session.commit()

    received = referral_as_fhir(
        session, referral.id, network.shelter.caseworker, protocols=protocols, clock=clock
    )
    sent = referral_as_fhir(
        session, referral.id, network.womens_centre.caseworker, protocols=protocols, clock=clock
    )

    assert_valid_fhir(received)
    assert "Prénom" not in json.dumps(received, ensure_ascii=False)
    assert "450-555-0000" not in json.dumps(received, ensure_ascii=False)
    assert [c["status"] for c in resources(received)["Consent"]] == ["inactive"]
    assert resources(sent)["Patient"][0]["telecom"] == [{"system": "phone", "value": "450-555-0000"}]


def test_only_the_two_organizations_may_export_it(session, protocols, network, clock):
    draft = referral_in(session, protocols, network, clock, protocols.get("standard"), "draft")
    sent = referral_in(session, protocols, network, clock, protocols.get("standard"), "sent")
    admin = Actor(user_id=None, organization_id=None, role="regional_admin")

    for referral_id, actor in (
        (sent.id, network.legal_aid.coordinator),
        (sent.id, admin),
        (draft.id, network.shelter.coordinator),  # never sent: the shelter never saw it
        (10**9, network.shelter.coordinator),
    ):
        with pytest.raises(ReferralNotFound):
            referral_as_fhir(session, referral_id, actor, protocols=protocols, clock=clock)
    exported = session.scalars(select(AuditEntry).where(AuditEntry.action == EXPORT_ACTION)).all()
    assert exported == []


def test_a_protocol_without_a_fhir_table_cannot_be_exported(session, protocols, network, clock):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "sent")
    unmapped = [
        Protocol(p.spec.model_copy(update={"fhir": None}), p.file) if p.name == "standard" else p
        for p in protocols
    ]

    with pytest.raises(NoFhirMapping):
        referral_as_fhir(
            session, referral.id, network.shelter.caseworker, protocols=ProtocolLibrary(unmapped), clock=clock
        )


def test_the_reason_is_read_in_the_list_of_the_transition_fired_from_its_state(
    session, protocols, network, clock
):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "declined")
    # Say the protocol also let the receiver decline before acknowledging, with another list of reasons:
    # listed first, that transition must not lend its list to the decline fired from "received".
    standard = protocols.get("standard")
    decline = next(t for t in standard.spec.transitions if t.trigger == "decline")
    early = decline.model_copy(update={"source": "sent", "reason": "cancel"})
    spec = standard.spec.model_copy(update={"transitions": [early, *standard.spec.transitions]})
    library = ProtocolLibrary([Protocol(spec, standard.file) if p is standard else p for p in protocols])

    bundle = referral_as_fhir(
        session, referral.id, network.shelter.caseworker, protocols=library, clock=clock
    )

    [task] = resources(bundle)["Task"]
    [coding] = task["statusReason"]["coding"]
    assert coding["system"].endswith(":reasons:decline")
    assert (coding["code"], coding["display"]) == ("no_capacity", "No capacity")


# The download ------------------------------------------------------------------------


def test_the_referral_page_offers_the_download_and_it_answers_fhir_json(
    app, client, session, protocols, network, clock
):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "accepted")
    sign_in(client, network.shelter.caseworker, session)

    page = client.get(f"/referrals/{referral.id}")
    download = client.get(f"/referrals/{referral.id}/fhir.json")

    assert f'href="/referrals/{referral.id}/fhir.json"' in page.text
    assert download.status_code == 200
    assert download.mimetype == "application/fhir+json"
    assert (
        download.headers["Content-Disposition"] == f'attachment; filename="referral-{referral.id}.fhir.json"'
    )
    assert download.headers["Cache-Control"] == "no-store"
    assert_valid_fhir(download.get_json(force=True))


def test_another_organization_gets_a_404_and_nothing_is_audited(
    app, client, session, protocols, network, clock
):
    referral = referral_in(session, protocols, network, clock, protocols.get("standard"), "accepted")
    sign_in(client, network.legal_aid.caseworker, session)

    response = client.get(f"/referrals/{referral.id}/fhir.json")

    assert response.status_code == 404
    assert "Prénom" not in response.text
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == EXPORT_ACTION)).all() == []


def test_the_models_checked_against_are_r4b_whose_resources_here_are_r4s():
    assert fhir_models_version == FHIR_MODELS_VERSION

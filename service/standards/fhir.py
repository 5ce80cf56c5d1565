"""One referral as FHIR R4: a Bundle of a ServiceRequest, its Task, her Consents, her and both organizations.

The Task carries where the referral stands: `status` from the protocol's own
table (`fhir.task_status` in the protocol file), our state in
`businessStatus`, the reason given for reaching it in `statusReason`. The
export is for the two organizations party to the referral, with the same
rules as its page: the receiving organization gets her details only while
her consent is valid. It holds what the referral holds, nothing more (no
comment, no event log), and each export is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.config import settings
from service.directory.models import Organization
from service.errors import ReferralNotFound
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.operations import PersonDetails
from service.referrals.operations import parties_seeing
from service.referrals.operations import read_person
from service.referrals.queries import transition_of
from service.standards.hsds import NEEDS_TAXONOMY
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol

FHIR_VERSION = "4.0.1"
EXPORT_ACTION = "referral.exported"
NAMESPACE = uuid.UUID("6b3f1d7e-8c2a-4f59-9e0d-3a1c5b7e9f20")
SNOMED = "http://snomed.info/sct"
# How the ServiceRequest stands, read from its Task's status.
REQUEST_STATUS = {
    "draft": "draft",
    "requested": "active",
    "received": "active",
    "accepted": "active",
    "ready": "active",
    "in-progress": "active",
    "on-hold": "on-hold",
    "completed": "completed",
    "rejected": "revoked",
    "cancelled": "revoked",
    "failed": "revoked",
    "entered-in-error": "entered-in-error",
}


class NoFhirMapping(LookupError):
    """The referral's protocol version has no `fhir.task_status` table to export it with."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        super().__init__(f"protocol {protocol.name} v{protocol.version} maps no state to FHIR")


def referral_as_fhir(
    session: Session,
    referral_id: int,
    actor: Actor,
    *,
    protocols: ProtocolLibrary | None = None,
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """The referral as a FHIR R4 Bundle (type `collection`) for `actor`; the export is audited.

    ReferralNotFound for anyone its page would refuse; NoFhirMapping when its
    protocol has no FHIR table.
    """
    referral = session.get(Referral, referral_id)
    parties = parties_seeing(session, referral, actor) if referral is not None else frozenset()
    if not parties - {"system"}:
        raise ReferralNotFound(referral_id)
    protocol = (protocols or protocol_library()).get(referral.protocol_name, referral.protocol_version)
    if protocol.spec.fhir is None:
        raise NoFhirMapping(protocol)
    # Her details under the same rule as her page (the receiver while her consent holds), read audited.
    person = read_person(session, referral.id, actor, clock=clock)
    now = clock()
    bundle = _Bundle(session, referral, protocol, now).build(person)
    audit(session, EXPORT_ACTION, actor, now, referral_id=referral.id)
    session.commit()
    return bundle


class _Bundle:
    """Builds the resources of one referral, each with a stable id and `urn:uuid:` references."""

    def __init__(self, session: Session, referral: Referral, protocol: Protocol, now: datetime) -> None:
        self.session = session
        self.referral = referral
        self.protocol = protocol
        self.now = now
        self.base = settings().base_url.rstrip("/")

    def id_of(self, what: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.base}/referrals/{self.referral.id}/{what}"))

    def reference(self, what: str) -> dict[str, str]:
        return {"reference": f"urn:uuid:{self.id_of(what)}"}

    def build(self, person: PersonDetails | None) -> dict[str, Any]:
        referral = self.referral
        sender = self.session.get_one(Organization, referral.sender_organization_id)
        receiver = self.session.get_one(Organization, referral.receiver_organization_id)
        status = self.protocol.spec.fhir.task_status[referral.state]
        resources = [
            self.task(status),
            self.service_request(status, person),
            self.patient(person),
            *(self.consent(consent) for consent in referral.consents),
            self.organization("sender", sender),
            self.organization("receiver", receiver),
        ]
        return {
            "resourceType": "Bundle",
            "id": self.id_of("bundle"),
            "meta": {"lastUpdated": _instant(self.now)},
            "type": "collection",
            "timestamp": _instant(self.now),
            "entry": [
                {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource} for resource in resources
            ],
        }

    def identifier(self) -> list[dict[str, str]]:
        return [{"system": f"{self.base}/referrals", "value": str(self.referral.id)}]

    def states_system(self) -> str:
        return f"urn:maillage:protocol:{self.protocol.name}:v{self.protocol.version}:states"

    def task(self, status: str) -> dict[str, Any]:
        referral, protocol = self.referral, self.protocol
        title = protocol.states[referral.state].title
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": self.id_of("task"),
            "identifier": self.identifier(),
            "basedOn": [self.reference("service-request")],
            "status": status,
            "businessStatus": {
                "coding": [{"system": self.states_system(), "code": referral.state, "display": title.en}],
                "text": title.fr,
            },
            "intent": "order",
            "priority": "urgent" if referral.urgent else "routine",
            "focus": self.reference("service-request"),
            "for": self.reference("patient"),
            "authoredOn": _instant(referral.created_at),
            "lastModified": _instant(referral.state_entered_at),
            "requester": self.reference("sender"),
            "owner": self.reference("receiver"),
        }
        reason = self.status_reason()
        if reason is not None:
            task["statusReason"] = reason
        return task

    def status_reason(self) -> dict[str, Any] | None:
        """The reason given by the transition that brought the referral to its state, if it asked one."""
        event = self.session.scalar(
            select(ReferralEvent)
            .where(
                ReferralEvent.referral_id == self.referral.id,
                ReferralEvent.kind == "transition",
                ReferralEvent.to_state == self.referral.state,
            )
            .order_by(ReferralEvent.seq.desc())
            .limit(1)
        )
        if event is None or not event.reason_code:
            return None
        # The transition fired from the event's state: another of its trigger may ask another list's reasons.
        transition = transition_of(self.protocol, event)
        if transition is None or not transition.reason:
            return None
        label = self.protocol.reasons.get(transition.reason, {}).get(event.reason_code)
        coding: dict[str, str] = {
            "system": f"urn:maillage:protocol:{self.protocol.name}:v{self.protocol.version}:"
            f"reasons:{transition.reason}",
            "code": event.reason_code,
        }
        if label is not None:
            coding["display"] = label.en
        return {"coding": [coding], "text": label.fr if label else event.reason_code}

    def service_request(self, status: str, person: PersonDetails | None) -> dict[str, Any]:
        referral = self.referral
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": self.id_of("service-request"),
            "identifier": self.identifier(),
            "status": REQUEST_STATUS[status],
            "intent": "order",
            "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}],
            "priority": "urgent" if referral.urgent else "routine",
            "subject": self.reference("patient"),
            "authoredOn": _instant(referral.sent_at or referral.created_at),
            "requester": self.reference("sender"),
            "performer": [self.reference("receiver")],
        }
        needs = sorted(referral.needs, key=lambda need: need.code)
        if needs:
            request["reasonCode"] = [
                {
                    "coding": [{"system": NEEDS_TAXONOMY, "code": need.code, "display": need.label_en}],
                    "text": need.label_fr,
                }
                for need in needs
            ]
        if referral.consents:
            request["supportingInfo"] = [self.reference(f"consent/{c.id}") for c in referral.consents]
        notes = []
        if person is not None:
            # How to reach her without endangering her travels with the request, where the receiver looks.
            for label, text in (
                ("Contact preferences", person.contact_preferences),
                ("Safety constraints", person.safety_constraints),
                ("Notes", person.notes),
            ):
                if text.strip():
                    notes.append({"text": f"{label}: {text.strip()}"})
        if notes:
            request["note"] = notes
        return request

    def patient(self, person: PersonDetails | None) -> dict[str, Any]:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": self.id_of("patient")}
        if person is None:
            return patient
        if person.name.strip():
            patient["name"] = [{"text": person.name.strip()}]
        telecom = [
            {"system": system, "value": value.strip()}
            for system, value in (("phone", person.phone), ("email", person.email))
            if value.strip()
        ]
        if telecom:
            patient["telecom"] = telecom
        if person.language.strip():
            patient["communication"] = [{"language": {"text": person.language.strip()}, "preferred": True}]
        return patient

    def consent(self, consent: Consent) -> dict[str, Any]:
        end = min((t for t in (consent.expires_at, consent.withdrawn_at) if t is not None), default=None)
        period = {"start": _instant(consent.given_at)}
        if end is not None:
            period["end"] = _instant(end)
        return {
            "resourceType": "Consent",
            "id": self.id_of(f"consent/{consent.id}"),
            "status": "active" if consent.is_valid(self.now) else "inactive",
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "patient-privacy",
                    }
                ]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": self.reference("patient"),
            "dateTime": _instant(consent.given_at),
            "organization": [self.reference("sender")],
            "policyRule": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]
            },
            "provision": {
                "type": "permit",
                "period": period,
                "actor": [
                    {
                        "role": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "code": "IRCP",
                                }
                            ]
                        },
                        "reference": self.reference("receiver"),
                    }
                ],
            },
        }

    def organization(self, side: str, organization: Organization) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": self.id_of(side),
            # The directory's HSDS id: the same organization in a directory export.
            "identifier": [{"system": "urn:maillage:hsds:organization", "value": organization.external_id}],
            "active": True,
            "name": organization.name,
        }
        telecom = [
            {"system": system, "value": value, "use": "work"}
            for system, value in (("phone", organization.phone), ("email", organization.referral_email))
            if value
        ]
        if telecom:
            resource["telecom"] = telecom
        return resource


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")

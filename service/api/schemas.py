"""What the API reads and answers, as pydantic models: the OpenAPI document is generated from them.

Inputs forbid unknown fields, so a misspelt field is a 422 rather than
silently ignored. Nothing here carries the woman's details but `PersonIn`
and `PersonOut`, which only travel in a request body or a response body,
never in a URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Literal

from pydantic import AfterValidator
from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic_core import PydanticCustomError

from service.web.inputs import MAX_ID
from service.web.inputs import WITHOUT_CONTROL_CHARACTERS
from service.web.inputs import has_control_characters


def _readable(text: str) -> str:
    if has_control_characters(text):
        # The database refuses a NUL; no one types the others.
        raise PydanticCustomError("control_characters", "Text may not hold control characters such as NUL")
    return text


# Every text an input carries: one with control characters (but tab and line breaks) is a 422.
Text = Annotated[
    str, AfterValidator(_readable), Field(json_schema_extra={"pattern": WITHOUT_CONTROL_CHARACTERS})
]

# Text with something besides spaces: the document says both rules in one pattern.
Said = Annotated[
    str,
    AfterValidator(_readable),
    Field(
        pattern=r"\S",
        json_schema_extra={
            "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\s\x00-\x1f][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
        },
    ),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Body(Input):
    """A request's JSON body, read strictly: `0` is no boolean, `"2"` no id."""

    model_config = ConfigDict(strict=True)


# Errors -----------------------------------------------------------------------------


class FieldError(BaseModel):
    """One problem with one field of the request; never repeats the value sent."""

    location: list[str | int]
    message: str


class Problem(BaseModel):
    """An error as RFC 9457 says (`application/problem+json`): `type` is stable, `title` is translated."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/reference#problem-concurrent-update",
                    "title": "This referral changed in the meantime",
                    "status": 409,
                    "detail": "Reload it and try again.",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    guard: str | None = Field(default=None, description="The condition of the action that is not met.")
    current: ReferralOut | None = Field(
        default=None, description="The referral as it stands now, when an action conflicted with it."
    )


# The directory ----------------------------------------------------------------------


class NeedOut(BaseModel):
    code: str
    group: str
    label: str


class NeedList(BaseModel):
    items: list[NeedOut]


class ServiceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "organization_id": 2,
                    "name": "Hébergement d'urgence",
                    "description": "Sept places, 24 heures sur 24.",
                    "needs": ["shelter_emergency"],
                }
            ]
        }
    )

    id: int
    organization_id: int
    name: str
    description: str
    needs: list[str] = Field(description="Codes of the needs this service covers.")


class ServiceList(BaseModel):
    items: list[ServiceOut]


class OrganizationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "name": "Maison Fictive du Phare",
                    "kind": "shelter",
                    "mandate": "Hébergement et accompagnement de femmes victimes de violence.",
                    "territory": "Laval",
                    "clienteles": "Femmes et leurs enfants",
                    "languages": ["fr", "en"],
                    "accessibility": "",
                    "hours": "24/7",
                    "phone": "450-555-0100",
                    "referral_email": "accueil@phare.example.org",
                    "capacity_status": "waitlist",
                    "public_address": "",
                    "address_confidential": True,
                    "what_to_bring": ["Carte d'assurance maladie", "Médicaments"],
                    "services": [],
                }
            ]
        }
    )

    id: int
    name: str
    kind: str
    mandate: str
    territory: str
    clienteles: str
    languages: list[str]
    accessibility: str
    hours: str
    phone: str
    referral_email: str
    capacity_status: Literal["open", "waitlist", "full"] | None
    public_address: str = Field(
        description="Empty when not stated, and always when the address is confidential."
    )
    address_confidential: bool = Field(description="A shelter keeps its address secret; Maillage keeps none.")
    what_to_bring: list[str] = Field(
        description="What to bring to a first visit, as the organization lists it."
    )
    services: list[ServiceOut]


class OrganizationList(BaseModel):
    items: list[OrganizationOut]


class DirectoryFilters(Input):
    need: Text | None = Field(default=None, max_length=64, description="A need code: only what covers it.")
    q: Text | None = Field(default=None, max_length=200, description="Words found in names and mandates.")


# Protocols --------------------------------------------------------------------------


class ProtocolSummary(BaseModel):
    name: str
    version: int = Field(description="The newest version.")
    versions: list[int]
    title: str


class ProtocolList(BaseModel):
    items: list[ProtocolSummary]


class StateOut(BaseModel):
    code: str
    title: str
    terminal: bool
    waits_on: str | None


class TransitionOut(BaseModel):
    trigger: str
    title: str
    sources: list[str]
    dest: str
    parties: list[str]
    reasons: list[str] = Field(description="Reason codes one of which must be given, if any.")
    comment: Literal["none", "optional", "required"]


class ProtocolOut(BaseModel):
    name: str
    version: int
    title: str
    initial: str
    states: list[StateOut]
    transitions: list[TransitionOut]


class VersionQuery(Input):
    version: int | None = Field(default=None, ge=1, description="A version; the newest by default.")


class DiagramOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"format": "mermaid", "language": "fr", "text": "stateDiagram-v2\n  [*] --> draft"}]
        }
    )

    format: Literal["mermaid"]
    language: Literal["fr", "en"]
    text: str


# Referrals --------------------------------------------------------------------------


class ReasonOut(BaseModel):
    code: str
    label: str
    comment_required: bool


class ActionOut(BaseModel):
    """What the viewer may do now: fire `trigger`, with a reason, a comment or an organization if asked."""

    trigger: str
    title: str
    dest: str
    reasons: list[ReasonOut]
    comment: Literal["none", "optional", "required"]
    target: Literal["required", "optional"] | None


class DeadlineOut(BaseModel):
    title: str
    due_at: datetime
    overdue: bool


class ReferralOut(BaseModel):
    """A referral as the viewer's organization sees it; the woman's details are not in it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "version": 3,
                    "protocol_name": "standard",
                    "protocol_version": 1,
                    "state": "sent",
                    "state_title": "Envoyé",
                    "finished": False,
                    "waits_on": "receiver",
                    "deadline": {
                        "title": "Accusé de réception",
                        "due_at": "2026-12-01T15:00:00Z",
                        "overdue": False,
                    },
                    "urgent": False,
                    "side": "sender",
                    "sender_organization_id": 1,
                    "receiver_organization_id": 2,
                    "needs": ["shelter_emergency"],
                    "consent_valid": True,
                    "created_at": "2026-11-27T15:00:00Z",
                    "sent_at": "2026-11-27T15:05:00Z",
                    "redirected_from_id": None,
                    "redirected_to": [],
                    "actions": [],
                }
            ]
        }
    )

    id: int
    version: int = Field(description="Changes with every change; the ETag to send back in If-Match.")
    protocol_name: str
    protocol_version: int
    state: str
    state_title: str
    finished: bool
    waits_on: str | None = Field(description="The party the referral waits on: sender or receiver.")
    deadline: DeadlineOut | None
    urgent: bool
    side: Literal["sender", "receiver"] = Field(description="The viewer's side of this referral.")
    sender_organization_id: int
    receiver_organization_id: int
    needs: list[str]
    consent_valid: bool
    created_at: datetime
    sent_at: datetime | None
    redirected_from_id: int | None
    redirected_to: list[int]
    actions: list[ActionOut]


class ReferralList(BaseModel):
    items: list[ReferralOut]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


class ReferralFilters(Input):
    state: Text | None = Field(default=None, max_length=32, description="Only referrals in this state.")
    role: Literal["sent", "received"] | None = Field(
        default=None, description="Only those the viewer's organization sent, or received."
    )
    protocol: Text | None = Field(default=None, max_length=64, description="Only those under this protocol.")
    cursor: Text | None = Field(default=None, max_length=40, description="`next_cursor` of the page before.")
    limit: int = Field(default=25, ge=1, le=100)


class PersonIn(Body):
    """What the receiving organization needs to reach her, and how not to endanger her."""

    name: Text = Field(default="", max_length=200)
    phone: Text = Field(default="", max_length=40)
    email: Text = Field(default="", max_length=254)
    language: Text = Field(default="", max_length=32)
    contact_preferences: Text = Field(default="", max_length=1000)
    safety_constraints: Text = Field(default="", max_length=1000)
    notes: Text = Field(default="", max_length=4000)


class PersonOut(BaseModel):
    name: str
    phone: str
    email: str
    language: str
    contact_preferences: str
    safety_constraints: str
    notes: str


class ConsentIn(Body):
    """Her consent, as she gave it to the sending organization."""

    method: Literal["verbal", "written"]
    shared_with: Said = Field(min_length=1, max_length=1000)
    purpose: Said = Field(min_length=1, max_length=1000)
    expires_at: AwareDatetime | None = None


class ReferralCreate(Body):
    """A new referral, a draft until `send` is fired; with her consent recorded if given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receiver_organization_id": 2,
                    "need_codes": ["shelter_emergency"],
                    "urgent": False,
                    "person": {
                        "name": "Prénom Fictif",
                        "phone": "450-555-0199",
                        "safety_constraints": "No voicemail",
                    },
                    "consent": {
                        "method": "verbal",
                        "shared_with": "Her name and phone, with the shelter",
                        "purpose": "Find her a place tonight",
                    },
                }
            ]
        },
    )

    receiver_organization_id: int = Field(ge=1, le=MAX_ID)
    need_codes: list[Text] = Field(default_factory=list, max_length=50)
    urgent: bool = False
    protocol: Text | None = Field(
        default=None, max_length=64, description="A coordinator may choose another protocol than agreed."
    )
    person: PersonIn | None = None
    consent: ConsentIn | None = None


class TriggerIn(Body):
    """Fire one of the referral's actions. Send `If-Match` with its ETag to act only on what you read."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"trigger": "decline", "reason": "no_capacity", "comment": "Full tonight"}]
        },
    )

    trigger: Text = Field(min_length=1, max_length=64)
    reason: Text | None = Field(default=None, max_length=64, description="A reason code the action offers.")
    comment: Text | None = Field(default=None, max_length=2000)
    target_organization_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Where she is redirected, or the other resource a decline suggests.",
    )


class EventOut(BaseModel):
    """One line of the event log."""

    seq: int
    at: datetime
    kind: str = Field(description="opened, edited, transition, reminder, escalation or message.")
    trigger: str | None
    title: str | None
    from_state: str | None
    to_state: str
    state_title: str
    party: str
    comment: str | None
    reason_code: str | None
    reason: str | None
    target_organization_id: int | None


class EventList(BaseModel):
    items: list[EventOut]


# Messages ---------------------------------------------------------------------------


class MessageIn(Body):
    """A message to the other organization of the referral. It is told by email, without the content."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "Apporter sa carte d'assurance maladie.", "for_coordinator": False}]
        },
    )

    text: Said = Field(max_length=2000)
    for_coordinator: bool = Field(
        default=False, description="Tell the other organization's coordinators too: an escalation by hand."
    )


class MessageOut(BaseModel):
    """One message of the referral, oldest first in a list."""

    id: int
    at: datetime
    party: Literal["sender", "receiver"] = Field(description="The side that wrote it.")
    author: str | None = Field(description="Who wrote it; null for a partner through a signed link.")
    text: str | None = Field(
        description="Null where her consent no longer lets the reader's organization read it, "
        "or once the retention period erased it."
    )
    for_coordinator: bool


class MessageList(BaseModel):
    items: list[MessageOut]


Problem.model_rebuild()

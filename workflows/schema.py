"""The shape of a protocol file, checked field by field.

Only the shape lives here (types, required and unknown keys); whether the
states, parties and templates it names make sense is `checks.py`'s job.
"""

from __future__ import annotations

from typing import Annotated
from typing import Literal
from typing import get_args

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints
from pydantic import field_validator

from workflows.durations import Duration

NAME = r"^[a-z][a-z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Text(Strict):
    """A label in both of our languages."""

    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def in_language(self, language: str) -> str:
        return self.en if language == "en" else self.fr


def inline(title: str) -> str:
    """A protocol's title put inside a sentence, after a colon: "Rappel : accuser réception".

    French writes no capital after a colon; English need not. The first letter
    is lowered unless the first word is an acronym ("CLSC").
    """
    first = title.split(" ", 1)[0]
    if len(first) > 1 and first[1].isupper():
        return title
    return title[:1].lower() + title[1:]


class ParameterSpec(Strict):
    """A duration an agreement between two organizations may set within bounds."""

    title: Text
    default: str
    min: str
    max: str

    @field_validator("default", "min", "max")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        Duration.parse(value)
        return value


class Notify(Strict):
    to: str
    template: str


class DeadlineStep(Strict):
    after: str = Field(description="a duration, or the name of a parameter")
    # Counted from a date field of the request instead of from when the state was entered; `after`
    # may then be negative ("-2 days": two days before). Only protocols with `fields` have dates.
    from_field: str | None = Field(default=None, alias="from")
    kind: Literal["reminder", "escalation"]
    notify: list[Notify] = Field(min_length=1)


class Deadline(Strict):
    title: Text
    steps: list[DeadlineStep] = Field(min_length=1)


class StateSpec(Strict):
    title: Text
    terminal: bool = False
    waits_on: str | None = None
    deadline: Deadline | None = None


class Reason(Strict):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)
    comment_required: bool = False


class TransitionSpec(Strict):
    trigger: str = Field(pattern=NAME)
    title: Text  # what the button says: "Envoyer"
    # What the referral's history says once it is done: "Envoyé". Without it, the state reached.
    done: Text | None = None
    source: str | list[str] = Field(alias="from")
    dest: str = Field(alias="to")
    by: list[str] = Field(min_length=1)
    guards: list[str] = []
    reason: str | None = None
    comment: Literal["none", "optional", "required"] = "optional"
    notify: list[Notify] = []


# FHIR R4 Task.status (http://hl7.org/fhir/R4/valueset-task-status.html).
FhirTaskStatus = Literal[
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
]
FHIR_TASK_STATUSES: tuple[str, ...] = get_args(FhirTaskStatus)
# The statuses a Task cannot leave: a terminal state maps to one of these, an open state never.
FHIR_FINAL_TASK_STATUSES = frozenset({"rejected", "cancelled", "failed", "completed", "entered-in-error"})


class FhirMapping(Strict):
    """How the protocol's states read in FHIR R4, for exporting a referral as a Task."""

    task_status: dict[str, FhirTaskStatus] = Field(min_length=1)


# The kinds of request between two partner organizations (subject `partnership_request`).
RequestKind = Literal["loan", "activity", "presentation", "session", "mobilization"]
REQUEST_KINDS: tuple[str, ...] = get_args(RequestKind)


class FieldSpec(Strict):
    """Something a request between organizations records, asked at some of its transitions.

    `type` is a plain name checked by `checks.py`, so that a field meant to hold a person's data
    (an email, a phone, a birth date...) is refused with a reason rather than as an unknown word.
    """

    type: str
    label: Text
    help: Text | None = None
    required: bool = False
    # The triggers whose form asks for it (`ask` for the form that starts the request).
    at: list[str] = Field(min_length=1)
    choices: dict[Annotated[str, StringConstraints(pattern=NAME)], Text] = {}


class ProtocolFile(Strict):
    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    # What the protocol drives: a referral (the default), a request to join the network, or a
    # request between two partner organizations (a loan, an activity...: its `kind`).
    subject: Literal["referral", "join_request", "partnership_request"] = "referral"
    kind: RequestKind | None = None
    title: Text
    description: Text
    initial: str
    parameters: dict[str, ParameterSpec] = {}
    reasons: dict[str, dict[str, Reason]] = {}
    # What a partnership request records, by name, in reading order (never a woman's personal data).
    fields: dict[Annotated[str, StringConstraints(pattern=NAME)], FieldSpec] = {}
    # Named like triggers: `transitions` reads a state named '*' or '=' as a wildcard.
    states: dict[Annotated[str, StringConstraints(pattern=NAME)], StateSpec] = Field(min_length=1)
    transitions: list[TransitionSpec] = Field(min_length=1)
    fhir: FhirMapping | None = None

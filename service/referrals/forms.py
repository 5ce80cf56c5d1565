"""The forms of the referral pages: intake, consent, and the small form behind each action button."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import Field
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput
from wtforms.widgets import HiddenInput
from wtforms.widgets import ListWidget

from service.referrals.operations import PersonDetails
from service.referrals.queries import ActionInfo
from service.referrals.queries import Suggestion
from service.web.forms import Form

OTHER = "other"
NO_AUTOFILL = {"autocomplete": "off"}

NEED_GROUPS = {
    "safety": _l("Safety and shelter"),
    "justice": _l("Justice and rights"),
    "health": _l("Health"),
    "living": _l("Living conditions"),
    "integration": _l("Integration and social ties"),
}

CAPACITY = {
    "open": _l("places available"),
    "waitlist": _l("waiting list"),
    "full": _l("full"),
    "unknown": _l("capacity not known"),
}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def strip_text(value: Any) -> Any:
    """A filter: text without its surrounding spaces."""
    return value.strip() if isinstance(value, str) else value


# Her details, not the caseworker's: no browser autofill (render_kw) in these fields. Each
# form calls these in its own body: WTForms orders fields by when they were made, so fields
# shared through a base class would all come first, before the form's own.
def her_name_field() -> StringField:
    return StringField(
        _l("Her name, or how she wants to be called"),
        filters=[strip_text],
        render_kw=NO_AUTOFILL,
        validators=[DataRequired(_l("Write her name, or how she wants to be called.")), Length(max=200)],
    )


def her_phone_field() -> TelField:
    return TelField(_l("Phone"), filters=[strip_text], validators=[Length(max=40)], render_kw=NO_AUTOFILL)


def her_email_field() -> EmailField:
    return EmailField(
        _l("Email"),
        filters=[strip_text],
        render_kw=NO_AUTOFILL,
        validators=[
            Optional(),
            Email(_l("Write a whole email address, like name@example.org.")),
            Length(max=254),
        ],
    )


def her_language_field() -> StringField:
    return StringField(
        _l("Language she prefers"), filters=[strip_text], validators=[Length(max=32)], render_kw=NO_AUTOFILL
    )


def safety_constraints_field() -> TextAreaField:
    return TextAreaField(_l("Safety constraints"), filters=[strip_text], validators=[Length(max=1000)])


def contact_preferences_field() -> TextAreaField:
    return TextAreaField(_l("Contact preferences"), filters=[strip_text], validators=[Length(max=1000)])


def notes_field() -> TextAreaField:
    return TextAreaField(_l("Notes for the partner"), filters=[strip_text], validators=[Length(max=2000)])


def person_details(form: Form) -> PersonDetails:
    """Her details as a form with the fields above holds them."""
    return PersonDetails(
        name=form.name.data or "",
        phone=form.phone.data or "",
        email=form.email.data or "",
        language=form.language.data or "",
        contact_preferences=form.contact_preferences.data or "",
        safety_constraints=form.safety_constraints.data or "",
        notes=form.notes.data or "",
    )


class NeedsForm(Form):
    """Step 1: what she needs, and how urgently."""

    needs = MultiCheckboxField(_l("Her needs"), choices=[])
    urgency = RadioField(
        _l("Urgency"),
        choices=[
            SelectChoice("standard", _l("Standard")),
            SelectChoice("urgent", _l("Urgent: she needs help today")),
        ],
        default="standard",
        validators=[InputRequired(_l("Say how urgent it is."))],
    )

    def validate_needs(self, field: Field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one need."))


class IntakeForm(NeedsForm):
    """Steps 1 and 2: her needs, the partner organization, and how to reach her."""

    partner = RadioField(_l("Suggested organizations"), choices=[], validate_choice=False)
    other_partner = SelectField(_l("Another organization"), choices=[], validate_choice=False)
    protocol = SelectField(_l("Protocol"), choices=[], validate_choice=False)

    name = her_name_field()
    phone = her_phone_field()
    email = her_email_field()
    through_caseworker = BooleanField(_l("She is to be reached through me, not directly"))
    language = her_language_field()
    safety_constraints = safety_constraints_field()
    contact_preferences = contact_preferences_field()
    notes = notes_field()

    def setup(
        self,
        suggestions: Sequence[Suggestion],
        organizations: Sequence[tuple[int, str]],
        protocols: Sequence[tuple[str, str]] | None,
        needs_count: int,
    ) -> None:
        """Fill the choices that depend on her needs and on who fills the form in.

        `protocols` is None for whoever may not choose the protocol (all but coordinators).
        """
        self.suggested_ids = {s.organization_id for s in suggestions}
        self.organization_ids = {organization_id for organization_id, _ in organizations}
        self.partner.choices = [
            *(SelectChoice(str(s.organization_id), suggestion_label(s, needs_count)) for s in suggestions),
            SelectChoice(OTHER, _l("Another organization (choose it below)")),
        ]
        self.other_partner.choices = [
            SelectChoice("", _l("Choose an organization")),
            *(SelectChoice(str(organization_id), name) for organization_id, name in organizations),
        ]
        if protocols is None:
            del self.protocol
        else:
            self.protocol_names = {name for name, _ in protocols}
            default = SelectChoice("", _l("As agreed with this organization (or the standard one)"))
            self.protocol.choices = [default, *(SelectChoice(name, title) for name, title in protocols)]

    @property
    def receiver_id(self) -> int | None:
        """The organization chosen: a suggested one, or else the one picked in the list."""
        if self.partner.data and self.partner.data != OTHER:
            return as_int(self.partner.data)
        return as_int(self.other_partner.data)

    @property
    def protocol_override(self) -> str | None:
        return (self.protocol.data or None) if "protocol" in self else None

    def person(self) -> PersonDetails:
        return person_details(self)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        chosen = self.receiver_id
        if self.partner.data and self.partner.data != OTHER and chosen not in self.suggested_ids:
            self.partner.errors.append(_l("Choose one of the suggested organizations."))
            valid = False
        elif chosen is None:
            where = self.partner if self.suggested_ids else self.other_partner
            where.errors.append(_l("Choose the organization she is referred to."))
            valid = False
        elif chosen not in self.organization_ids:
            self.other_partner.errors.append(_l("Choose an organization from the list."))
            valid = False
        if "protocol" in self and self.protocol.data and self.protocol.data not in self.protocol_names:
            self.protocol.errors.append(_l("Choose a protocol from the list."))
            valid = False
        reachable = self.phone.data or self.email.data
        if self.through_caseworker.data and reachable:
            self.through_caseworker.errors.append(
                _l("Leave her phone and email empty when she is to be reached through you.")
            )
            valid = False
        elif not self.through_caseworker.data and not reachable:
            self.phone.errors.append(
                _l("Give her phone or her email, or say that she is to be reached through you.")
            )
            valid = False
        return valid


def suggestion_label(suggestion: Suggestion, needs_count: int) -> str:
    return str(
        _l(
            "%(name)s (covers %(covered)s of %(total)s needs; %(capacity)s)",
            name=suggestion.name,
            covered=len(suggestion.covered),
            total=needs_count,
            capacity=CAPACITY.get(suggestion.capacity_status, CAPACITY["unknown"]),
        )
    )


def as_int(value: Any) -> int | None:
    """A number from a form's text, or None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ConsentForm(Form):
    """Step 3: her consent, as she gave it to the sending organization."""

    method = RadioField(
        _l("How did she give her consent?"),
        choices=[SelectChoice("verbal", _l("Verbally")), SelectChoice("written", _l("In writing"))],
        validators=[InputRequired(_l("Say how she gave her consent."))],
    )
    shared_with = TextAreaField(
        _l("What may be shared, and with whom"),
        filters=[strip_text],
        validators=[DataRequired(_l("Write what she agreed to share, and with whom.")), Length(max=1000)],
    )
    purpose = TextAreaField(
        _l("For what purpose"),
        filters=[strip_text],
        validators=[DataRequired(_l("Write what the sharing is for.")), Length(max=1000)],
    )
    until = DateField(
        _l("Until (optional)"),
        validators=[Optional()],
        render_kw={"autocomplete": "off"},
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_until(self, field: Field) -> None:
        if field.data is not None and field.data < self.today:
            raise ValidationError(_l("Give a date from today on, or none."))


def _optional_id(value: Any) -> int | None:
    return as_int(value) if value not in (None, "") else None


class ActionForm(Form):
    """One action button and what the protocol asks with it; prefixed by its trigger.

    Several share one page; the `trigger` sent beside the form says which one was used.
    """

    # The referral's version when the page was shown: acting on an older page is refused.
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    # Set by the "send anyway" button of the duplicate warning.
    confirm_duplicate = HiddenField()
    reason = SelectField(_l("Reason"), choices=[], validate_choice=False)
    target_organization = SelectField(
        _l("Organization"), choices=[], coerce=_optional_id, validate_choice=False
    )
    comment = TextAreaField(_l("Comment"), filters=[strip_text], validators=[Length(max=2000)])

    def __init__(self, action: ActionInfo, organizations: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(prefix=action.trigger, **kwargs)
        self.action = action
        self.reasons = {r.code: r for r in action.reasons}
        if action.reasons:
            self.reason.choices = [
                SelectChoice("", _l("Choose a reason")),
                *(SelectChoice(r.code, r.label) for r in action.reasons),
            ]
            self.reason.flags.required = True
        else:
            del self.reason
        if action.target is None:
            del self.target_organization
        else:
            self.target_ids = {organization_id for organization_id, _ in organizations}
            self.target_organization.choices = [
                SelectChoice("", _l("Choose an organization") if action.target == "required" else _l("None")),
                *(SelectChoice(str(organization_id), name) for organization_id, name in organizations),
            ]
            if action.target == "required":
                self.target_organization.label.text = _l("Organization to redirect her to")
                self.target_organization.flags.required = True
            else:
                self.target_organization.label.text = _l("Suggest another resource (optional)")
        if action.comment == "none":
            del self.comment
        elif action.comment == "required":
            self.comment.flags.required = True

    @property
    def has_fields(self) -> bool:
        return any(name in self for name in ("reason", "target_organization", "comment"))

    def validate_reason(self, field: Field) -> None:
        if field.data not in self.reasons:
            raise ValidationError(_l("Choose a reason."))

    def validate_target_organization(self, field: Field) -> None:
        if field.data is None:
            if self.action.target == "required":
                raise ValidationError(_l("Choose the organization that can help her."))
        elif field.data not in self.target_ids:
            raise ValidationError(_l("Choose an organization from the list."))

    def validate_comment(self, field: Field) -> None:
        if field.data:
            return
        if self.action.comment == "required":
            raise ValidationError(_l("Write a comment."))
        reason = self.reasons.get(self.reason.data) if "reason" in self else None
        if reason is not None and reason.comment_required:
            raise ValidationError(_l("Explain the reason in a comment."))

    def operation_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `operations.fire` from the submitted form."""
        return {
            "expected_version": self.version.data,
            "reason": self.reason.data if "reason" in self else None,
            "comment": (self.comment.data or None) if "comment" in self else None,
            "target_organization_id": self.target_organization.data
            if "target_organization" in self
            else None,
        }

    def show_guard_failure(self, guard: str) -> None:
        """Put a refusal of the protocol next to the field it is about."""
        where = {
            "reason_given": ("reason", _l("Choose a reason.")),
            "comment_given": ("comment", _l("Explain the reason in a comment.")),
            "target_organization_given": ("target_organization", _l("Choose another organization.")),
        }.get(guard)
        if where and where[0] in self:
            self[where[0]].errors = [*self[where[0]].errors, where[1]]
        else:
            self.form_errors.append(_l("This action is not possible yet."))


@dataclass(frozen=True)
class ActionEntry:
    """An action and its form, as `templates/referrals/_actions.html` renders them."""

    info: ActionInfo
    form: ActionForm


def action_forms(
    actions: Sequence[ActionInfo],
    organizations: Sequence[tuple[int, str]],
    version: int,
    submitted: ActionForm | None = None,
) -> list[ActionEntry]:
    """A form per action, blank but for the referral's version; `submitted` in its own place."""
    entries = []
    for action in actions:
        if submitted is not None and submitted.action.trigger == action.trigger:
            entries.append(ActionEntry(action, submitted))
            continue
        form = ActionForm(action, organizations, formdata=None)
        form.version.data = version
        entries.append(ActionEntry(action, form))
    return entries

"""The forms of requests between partner organizations: asking, each button of the protocol, and
proposing a joint mobilization.

A protocol file declares the fields a request carries and where each is asked (`at`: the trigger
that asks it); the forms are made from that declaration, so a new protocol needs no new form.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms import DateTimeLocalField
from wtforms import Field
from wtforms import IntegerField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError
from wtforms.widgets import HiddenInput

from service.referrals.forms import MultiCheckboxField
from service.referrals.forms import strip_text
from service.web.forms import Form
from workflows.durations import TIME_ZONE

# The engine's bounds (workflows.protocol.clean_value), said here before it has to refuse.
TEXT_LENGTH = 200
LONG_TEXT_LENGTH = 10_000
MAX_NUMBER = 999_999_999


@dataclass(frozen=True)
class FieldInfo:
    """One declared field of a request, in the page's language."""

    name: str
    type: str  # text, longtext, date, datetime, choice or number
    label: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class ReasonInfo:
    code: str
    label: str
    comment_required: bool


@dataclass(frozen=True)
class ButtonInfo:
    """A trigger the viewer may fire now, and what it asks."""

    trigger: str
    title: str
    dest: str
    reasons: tuple[ReasonInfo, ...]
    comment: str  # "none", "optional" or "required"
    fields: tuple[FieldInfo, ...]
    sobering: bool


def _required_message(label: str) -> str:
    return _("Fill in “%(label)s”.", label=label)


def _field(info: FieldInfo) -> Any:
    """The WTForms field of one declared field."""
    needed = [InputRequired(_required_message(info.label))] if info.required else [Optional()]
    kwargs: dict[str, Any] = {"description": info.hint or ""}
    if info.type == "longtext":
        return TextAreaField(
            info.label,
            filters=[strip_text],
            validators=[*_text_needed(info), Length(max=LONG_TEXT_LENGTH)],
            **kwargs,
        )
    if info.type == "date":
        return DateField(info.label, validators=needed, render_kw={"autocomplete": "off"}, **kwargs)
    if info.type == "datetime":
        return DateTimeLocalField(
            info.label,
            format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
            validators=needed,
            render_kw={"autocomplete": "off"},
            **kwargs,
        )
    if info.type == "number":
        return IntegerField(
            info.label,
            validators=[*needed, NumberRange(min=0, max=MAX_NUMBER, message=_("Give a whole number."))],
            render_kw={"inputmode": "numeric", "autocomplete": "off"},
            **kwargs,
        )
    if info.type == "choice":
        return SelectField(
            info.label,
            choices=[
                SelectChoice("", _("Choose…")),
                *(SelectChoice(code, label) for code, label in info.choices),
            ],
            validators=[*_text_needed(info), _one_of({code for code, _label in info.choices})],
            validate_choice=False,
            **kwargs,
        )
    return StringField(
        info.label,
        filters=[strip_text],
        validators=[*_text_needed(info), Length(max=TEXT_LENGTH)],
        render_kw={"autocomplete": "off"},
        **kwargs,
    )


def _text_needed(info: FieldInfo) -> list[Any]:
    return [DataRequired(_required_message(info.label))] if info.required else [Optional()]


def _one_of(codes: set[str]) -> Any:
    def check(_form: Any, field: Field) -> None:
        if field.data and field.data not in codes:
            raise ValidationError(_("Choose one of the answers offered."))

    return check


FIELD_PREFIX = "field_"


class RequestFieldsForm(Form):
    """The declared fields of a request asked at one step; subclassed per step with its fields."""

    infos: tuple[FieldInfo, ...] = ()

    def declared(self) -> list[Field]:
        return [self[FIELD_PREFIX + info.name] for info in self.infos]

    def values(self) -> dict[str, str]:
        """The declared fields given, as text the engine reads (`Protocol.clean_fields`)."""
        values = {}
        for info in self.infos:
            data = self[FIELD_PREFIX + info.name].data
            if data in (None, ""):
                continue
            values[info.name] = stored_value(data)
        return values


def stored_value(data: Any) -> str:
    if isinstance(data, datetime):
        # The form's moment is Montréal's wall-clock time; the engine keeps it in UTC.
        moment = data if data.tzinfo else data.replace(tzinfo=TIME_ZONE)
        return moment.isoformat()
    if isinstance(data, date):
        return data.isoformat()
    return str(data)


def form_value(info: FieldInfo, stored: Any) -> Any:
    """A stored value as its form field shows it again: a day, Montréal's wall-clock time, text."""
    if stored in (None, ""):
        return None
    try:
        if info.type == "date":
            return date.fromisoformat(str(stored))
        if info.type == "datetime":
            moment = datetime.fromisoformat(str(stored))
            if moment.tzinfo is not None:
                moment = moment.astimezone(TIME_ZONE)
            return moment.replace(tzinfo=None)
    except ValueError:
        return None
    return stored


def _with_fields(base: type[Form], infos: Iterable[FieldInfo], name: str) -> type[Any]:
    infos = tuple(infos)
    attributes: dict[str, Any] = {"infos": infos}
    attributes.update({FIELD_PREFIX + info.name: _field(info) for info in infos})
    return type(name, (base,), attributes)


class AskBase(RequestFieldsForm):
    """A new request to a partner organization: the fields its protocol asks when it starts."""

    comment = TextAreaField(
        _l("Message to the partner (optional)"), filters=[strip_text], validators=[Length(max=2000)]
    )


def ask_form(infos: Sequence[FieldInfo], **kwargs: Any) -> AskBase:
    return _with_fields(AskBase, infos, "AskForm")(**kwargs)


class ButtonBase(RequestFieldsForm):
    """One button of a request: its reason, comment and fields; prefixed by its trigger."""

    # The request's version when the page was shown: acting on an older page is refused.
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    reason = SelectField(_l("Reason"), choices=[], validate_choice=False)
    comment = TextAreaField(_l("Comment"), filters=[strip_text], validators=[Length(max=2000)])

    button: ButtonInfo

    def setup(self, button: ButtonInfo) -> None:
        self.button = button
        self.reasons = {r.code: r for r in button.reasons}
        if button.reasons:
            self.reason.choices = [
                SelectChoice("", _("Choose a reason")),
                *(SelectChoice(r.code, r.label) for r in button.reasons),
            ]
            self.reason.flags.required = True
        else:
            del self.reason
        if button.comment == "none":
            del self.comment
        elif button.comment == "required":
            self.comment.flags.required = True

    @property
    def has_fields(self) -> bool:
        return bool(self.infos) or any(name in self for name in ("reason", "comment"))

    def validate_reason(self, field: Field) -> None:
        if field.data not in self.reasons:
            raise ValidationError(_("Choose a reason."))

    def validate_comment(self, field: Field) -> None:
        if field.data:
            return
        if self.button.comment == "required":
            raise ValidationError(_("Write a comment."))
        reason = self.reasons.get(self.reason.data) if "reason" in self else None
        if reason is not None and reason.comment_required:
            raise ValidationError(_("Explain the reason in a comment."))

    def operation_arguments(self) -> dict[str, Any]:
        """The keyword arguments of the `fire` operation from the submitted form."""
        return {
            "expected_version": self.version.data,
            "reason": self.reason.data if "reason" in self else None,
            "comment": (self.comment.data or None) if "comment" in self else None,
            "fields": self.values(),
        }

    def show_guard_failure(self, guard: str) -> None:
        """Put a refusal of the protocol next to the field it is about."""
        where = {
            "reason_given": ("reason", _("Choose a reason.")),
            "comment_given": ("comment", _("Explain the reason in a comment.")),
        }.get(guard)
        if where and where[0] in self:
            self[where[0]].errors = [*self[where[0]].errors, where[1]]
        else:
            self.form_errors.append(_("This action is not possible yet."))


@dataclass(frozen=True)
class ButtonEntry:
    """A button and its form, as `templates/partnership_requests/_buttons.html` renders them."""

    info: ButtonInfo
    form: ButtonBase


def button_form(button: ButtonInfo, stored: Mapping[str, Any] | None = None, **kwargs: Any) -> ButtonBase:
    """The form of one button; a field the request already holds a value for may be left as it is
    (the engine keeps the value held), so it is not required again."""
    held = stored or {}
    infos = [
        replace(info, required=False) if held.get(info.name) not in (None, "") else info
        for info in button.fields
    ]
    form = _with_fields(ButtonBase, infos, "ButtonForm")(prefix=button.trigger, **kwargs)
    form.setup(button)
    return form


def button_forms(
    buttons: Sequence[ButtonInfo],
    version: int,
    submitted: ButtonBase | None = None,
    stored: Mapping[str, Any] | None = None,
) -> list[ButtonEntry]:
    """A form per button, with the request's version and the values it holds already (`stored`);
    `submitted` in its own place."""
    entries = []
    for button in buttons:
        if submitted is not None and submitted.button.trigger == button.trigger:
            entries.append(ButtonEntry(button, submitted))
            continue
        data = {
            FIELD_PREFIX + info.name: form_value(info, (stored or {}).get(info.name))
            for info in button.fields
        }
        form = button_form(button, stored, formdata=None, data=data)
        form.version.data = version
        entries.append(ButtonEntry(button, form))
    return entries


def _as_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class MobilizationForm(Form):
    """A position or an action proposed to organizations of the network, to join or decline by a date."""

    title = StringField(
        _l("Title"),
        filters=[strip_text],
        validators=[DataRequired(_l("Give the mobilization a title.")), Length(max=TEXT_LENGTH)],
        render_kw={"autocomplete": "off"},
    )
    text = TextAreaField(
        _l("The position or action proposed"),
        filters=[strip_text],
        validators=[DataRequired(_l("Describe the position or the action.")), Length(max=LONG_TEXT_LENGTH)],
    )
    answer_by = DateField(
        _l("Answer by"),
        validators=[InputRequired(_l("Give the date by which the organizations answer."))],
        render_kw={"autocomplete": "off"},
    )
    organizations = MultiCheckboxField(
        _l("Organizations invited"), choices=[], coerce=_as_id, validate_choice=False
    )

    def setup(self, organizations: Sequence[tuple[int, str]], today: date) -> None:
        self.organization_ids = {organization_id for organization_id, _name in organizations}
        self.organizations.choices = [SelectChoice(oid, name) for oid, name in organizations]
        self.organizations.flags.required = True
        self.today = today

    def validate_answer_by(self, field: Field) -> None:
        if field.data is not None and field.data <= self.today:
            raise ValidationError(_("Give a date after today."))

    def validate_organizations(self, field: Field) -> None:
        chosen = field.data or []
        if not chosen:
            raise ValidationError(_("Choose at least one organization."))
        if any(organization_id not in self.organization_ids for organization_id in chosen):
            raise ValidationError(_("Choose organizations from the list."))


def field_values(infos: Iterable[FieldInfo], values: Mapping[str, Any]) -> list[tuple[FieldInfo, Any]]:
    """The declared fields a request holds a value for, in the protocol's order."""
    return [(info, values[info.name]) for info in infos if values.get(info.name) not in (None, "")]


FIELD_PROBLEMS = {
    "missing": _l("Fill in this field."),
    "bad_date": _l("Give a date such as 2027-03-15."),
    "bad_datetime": _l("Give a date and a time."),
    "bad_choice": _l("Choose one of the answers offered."),
    "bad_number": _l("Give a whole number."),
    "too_long": _l("This text is too long: shorten it."),
    "order": _l("The end cannot come before the start."),
}


def show_field_problem(form: RequestFieldsForm, field: str, code: str) -> None:
    """Put the engine's refusal of a field's value next to that field."""
    message = FIELD_PROBLEMS.get(code, _l("Check this field."))
    name = FIELD_PREFIX + field
    if name in form:
        form[name].errors = [*form[name].errors, message]
    else:
        form.form_errors.append(message)

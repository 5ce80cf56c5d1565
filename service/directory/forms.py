"""The directory's forms. Labels and messages go through Flask-Babel; choices are filled by the views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SearchField
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
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget

from service.directory.wording import CAPACITY_LABELS
from service.directory.wording import NOTE_KIND_LABELS
from service.directory.wording import PARTNERSHIP_KIND_LABELS
from service.web.forms import Form


def options(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as the choices WTForms expects."""
    return [SelectChoice(value, label) for value, label in pairs]


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes, for the `choices` macro."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Words to look for"), validators=[Optional(), Length(max=200)])
    need = SelectField(_l("Need"), choices=[], validate_choice=False)


class OrganizationForm(Form):
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the organization's name.")), Length(max=200)]
    )
    kind = StringField(_l("Kind of organization"), validators=[Length(max=64)])
    mandate = TextAreaField(_l("Mandate"))
    clienteles = TextAreaField(_l("Who it serves"), validators=[Length(max=1000)])
    territory = StringField(_l("Territory served"), validators=[Length(max=200)])
    languages = StringField(_l("Languages spoken"), validators=[Length(max=300)])
    accessibility = TextAreaField(_l("Accessibility"))
    hours = StringField(_l("Opening hours"), validators=[Length(max=200)])
    public_address = StringField(_l("Public address"), validators=[Length(max=300)])
    address_confidential = BooleanField(_l("Confidential address"))
    what_to_bring = TextAreaField(_l("What to bring"), validators=[Length(max=2000)])
    phone = TelField(_l("Phone for referrals"), validators=[Length(max=40)])
    referral_email = EmailField(
        _l("Email for referrals"),
        validators=[
            Optional(),
            Email(_l("Enter an email address such as name@example.org.")),
            Length(max=254),
        ],
    )
    capacity_status = RadioField(
        _l("Capacity"),
        choices=options([("", _l("Not stated")), *CAPACITY_LABELS.items()]),
        default="",
    )


class ServiceForm(Form):
    name = StringField(
        _l("Name of the service"), validators=[DataRequired(_l("Enter the service's name.")), Length(max=200)]
    )
    description = TextAreaField(_l("Description"))
    needs = CheckboxesField(_l("Needs this service covers"), choices=[])


class PartnershipTermsForm(Form):
    """What a new and an existing partnership share."""

    kinds = CheckboxesField(
        _l("What the partnership is made of"),
        choices=options(PARTNERSHIP_KIND_LABELS.items()),
        validators=[DataRequired(_l("Choose at least one kind of collaboration."))],
    )
    formal = RadioField(
        _l("Formal or informal"),
        choices=options([("informal", _l("Informal")), ("formal", _l("Formal (a signed agreement)"))]),
        default="informal",
    )
    description = TextAreaField(_l("Description"))
    review_every_months = IntegerField(
        _l("Review (bilan) every … months"),
        default=12,
        validators=[
            InputRequired(_l("Enter a number of months.")),
            NumberRange(1, 60, _l("Enter a number of months between 1 and 60.")),
        ],
    )
    started_on = DateField(_l("Start date"), validators=[Optional()])


class NewPartnershipForm(PartnershipTermsForm):
    organization = SelectField(
        _l("Organization"),
        coerce=int,
        choices=[],
        validators=[
            InputRequired(_l("Choose the organization.")),
            NumberRange(min=1, message=_l("Choose the organization.")),
        ],
    )
    partner = SelectField(
        _l("Partner organization"),
        coerce=int,
        choices=[],
        validators=[
            InputRequired(_l("Choose the partner organization.")),
            NumberRange(min=1, message=_l("Choose the partner organization.")),
        ],
    )
    organization_contact = StringField(_l("Contact at the organization"), validators=[Length(max=200)])
    partner_contact = StringField(_l("Contact at the partner organization"), validators=[Length(max=200)])


class EditPartnershipForm(PartnershipTermsForm):
    first_contact = StringField(_l("Contact"), validators=[Length(max=200)])
    second_contact = StringField(_l("Contact"), validators=[Length(max=200)])
    active = BooleanField(_l("The partnership is active"))


class NoteForm(Form):
    kind = SelectField(_l("Kind of trace"), choices=options(NOTE_KIND_LABELS.items()), default="note")
    text = TextAreaField(
        _l("What happened, what was agreed"),
        validators=[DataRequired(_l("Write the trace.")), Length(max=5000)],
    )


class ProtocolChoiceForm(Form):
    class Meta:
        csrf = False  # a GET that only chooses which parameters to show

    protocol = SelectField(_l("Protocol"), choices=[], validate_choice=False)


class AgreementForm(Form):
    """The fixed part of an agreement; `agreement_form` adds one number per protocol parameter."""

    urgent_protocol = SelectField(_l("Protocol for urgent referrals"), choices=[])
    first_contact = StringField(_l("Contact"), validators=[Length(max=200)])
    second_contact = StringField(_l("Contact"), validators=[Length(max=200)])
    information_needed = TextAreaField(_l("Information the receiving organization needs"))
    effective_on = DateField(
        _l("Takes effect on"), validators=[InputRequired(_l("Enter the date the agreement takes effect."))]
    )


PARAMETER_PREFIX = "parameter_"


def agreement_form(parameters: dict[str, tuple[str, str, str]], **kwargs: object) -> AgreementForm:
    """An agreement form with a whole-number field per parameter: name -> (label, min, max)."""

    class Form(AgreementForm):
        pass

    for name, (label, low, high) in parameters.items():
        setattr(
            Form,
            PARAMETER_PREFIX + name,
            IntegerField(
                label,
                validators=[InputRequired(_l("Enter a whole number."))],
                render_kw={"min": low, "max": high, "step": 1, "inputmode": "numeric"},
            ),
        )
    return Form(**kwargs)

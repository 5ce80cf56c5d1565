"""The forms of the emergency path and of her rights: withdrawal, search, correction, erasure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import Field
from wtforms import IntegerField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError
from wtforms.widgets import HiddenInput

from service.referrals.emergency import MinimumDetails
from service.referrals.forms import NO_AUTOFILL
from service.referrals.forms import MultiCheckboxField
from service.referrals.forms import as_int
from service.referrals.forms import contact_preferences_field
from service.referrals.forms import her_email_field
from service.referrals.forms import her_language_field
from service.referrals.forms import her_name_field
from service.referrals.forms import her_phone_field
from service.referrals.forms import notes_field
from service.referrals.forms import person_details
from service.referrals.forms import safety_constraints_field
from service.referrals.forms import strip_text
from service.referrals.operations import PersonDetails
from service.web.forms import Form


class EmergencyForm(Form):
    """The emergency path: why, to whom, for what, and the minimum about her."""

    reason = TextAreaField(
        _l("Why her life or safety is at serious risk"),
        filters=[strip_text],
        validators=[DataRequired(_l("Say why this cannot wait for her consent.")), Length(max=2000)],
    )
    receiver = SelectField(
        _l("Organization she is referred to"), choices=[], coerce=as_int, validate_choice=False
    )
    needs = MultiCheckboxField(_l("Her needs"), choices=[])
    name = StringField(
        _l("Her first name or an alias"),
        filters=[strip_text],
        render_kw=NO_AUTOFILL,
        validators=[DataRequired(_l("Write her first name or an alias.")), Length(max=200)],
    )
    phone = TelField(
        _l("A phone where she can be reached safely"),
        filters=[strip_text],
        validators=[Length(max=40)],
        render_kw=NO_AUTOFILL,
    )
    through_caseworker = BooleanField(_l("She is to be reached through me, not directly"))
    safety_constraints = TextAreaField(
        _l("How to reach her safely"), filters=[strip_text], validators=[Length(max=1000)]
    )

    def setup(self, organizations: Sequence[tuple[int, str]], needs: Sequence[tuple[str, str]]) -> None:
        self.organization_ids = {organization_id for organization_id, _ in organizations}
        self.receiver.choices = [
            SelectChoice("", _l("Choose an organization")),
            *(SelectChoice(str(organization_id), name) for organization_id, name in organizations),
        ]
        self.need_codes = {code for code, _ in needs}
        self.needs.choices = [SelectChoice(code, label) for code, label in needs]
        self.receiver.flags.required = True
        self.needs.flags.required = True

    def validate_receiver(self, field: Field) -> None:
        if field.data is None:
            raise ValidationError(_l("Choose the organization she is referred to."))
        if field.data not in self.organization_ids:
            raise ValidationError(_l("Choose an organization from the list."))

    def validate_needs(self, field: Field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one need."))
        if not set(field.data) <= self.need_codes:
            raise ValidationError(_l("Choose needs from the list."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.through_caseworker.data and self.phone.data:
            self.through_caseworker.errors.append(
                _l("Leave her phone empty when she is to be reached through you.")
            )
            valid = False
        elif not self.through_caseworker.data and not self.phone.data:
            self.phone.errors.append(_l("Give a safe phone, or say that she is to be reached through you."))
            valid = False
        return valid

    def details(self) -> MinimumDetails:
        return MinimumDetails(
            name=self.name.data or "",
            phone=self.phone.data or "",
            safety_constraints=self.safety_constraints.data or "",
        )


class VersionForm(Form):
    """A button that acts on the referral as the page showed it (withdrawal of her consent)."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class PersonSearchForm(Form):
    """Find the referrals about one woman: by number, by name, or both. Posted: a name is never in a URL."""

    number = IntegerField(
        _l("Referral number"),
        validators=[Optional(), NumberRange(min=1, message=_l("Write a referral number, like 12."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    name = StringField(
        _l("Her name, or part of it"),
        filters=[strip_text],
        validators=[Length(max=200)],
        render_kw=NO_AUTOFILL,
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.number.data is None and not self.name.data:
            self.name.errors.append(_l("Give a referral number or a name."))
            valid = False
        return valid


class CorrectionForm(Form):
    """Her details on one referral, as she asks them corrected."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    name = her_name_field()
    phone = her_phone_field()
    email = her_email_field()
    language = her_language_field()
    safety_constraints = safety_constraints_field()
    contact_preferences = contact_preferences_field()
    notes = notes_field()

    def person(self) -> PersonDetails:
        return person_details(self)


class ErasureForm(Form):
    """The confirmation that her personal data is to be erased from these referrals."""

    confirm = BooleanField(
        _l("I understand: her details, her consents' wording and the comments are erased for good"),
        validators=[InputRequired(_l("Tick the box to confirm the erasure."))],
    )

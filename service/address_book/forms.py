"""The address book's forms. Labels and messages go through Flask-Babel; choices are filled by the views."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import SearchField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from service.directory.forms import CheckboxesField
from service.web.forms import Form


class BookSearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Words to look for"), validators=[Optional(), Length(max=200)])
    include_left = BooleanField(_l("Also show the people who left their organization"))


class PersonForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=200)])
    organization = SelectField(
        _l("Organization where she works"),
        coerce=int,
        choices=[],
        validators=[
            InputRequired(_l("Choose the organization where she works.")),
            NumberRange(min=1, message=_l("Choose the organization where she works.")),
        ],
    )
    role = StringField(_l("Role"), validators=[Length(max=200)])
    email = EmailField(
        _l("Email"),
        validators=[
            Optional(),
            Email(_l("Enter an email address such as name@example.org.")),
            Length(max=254),
        ],
    )
    phone = TelField(_l("Phone"), validators=[Length(max=40)])
    languages = StringField(_l("Languages spoken"), validators=[Length(max=300)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])


class PartnershipContactsForm(Form):
    """The people of her book who are a partnership's contacts, one list per side."""

    first_side = CheckboxesField(_l("Contact people"), coerce=int, choices=[])
    second_side = CheckboxesField(_l("Contact people"), coerce=int, choices=[])

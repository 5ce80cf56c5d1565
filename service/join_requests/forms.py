"""The forms of a request to join the network: the public one, the regional admin's answer, and the
regional admin's one-step addition of an organization with its first coordinator."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length
from wtforms.validators import Optional

from service.accounts.team_forms import LANGUAGE_CHOICES
from service.web.forms import Form

EMAIL_MESSAGE = _l("Enter an email address such as name@example.org.")


class JoinForm(Form):
    """What an organization not yet in Maillage tells the network when it asks to join."""

    organization_name = StringField(
        _l("Name of the organization"),
        validators=[DataRequired(_l("Enter the organization's name.")), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    mandate = TextAreaField(
        _l("Mandate"),
        validators=[DataRequired(_l("Describe the organization's mandate.")), Length(max=2000)],
    )
    territory = StringField(
        _l("Territory served"),
        validators=[DataRequired(_l("Enter the territory the organization serves.")), Length(max=200)],
    )
    contact_name = StringField(
        _l("Contact person's name"),
        validators=[DataRequired(_l("Enter the contact person's name.")), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    contact_email = EmailField(
        _l("Contact person's email"),
        validators=[
            DataRequired(_l("Enter the contact person's email.")),
            Email(EMAIL_MESSAGE),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    contact_phone = TelField(
        _l("Contact person's phone"),
        validators=[DataRequired(_l("Enter the contact person's phone number.")), Length(max=40)],
        render_kw={"autocomplete": "tel"},
    )
    consent = BooleanField(
        _l(
            "I agree that the regional administration of Maillage keep these contact details and use "
            "them to answer this request, and to invite me if it is accepted."
        ),
        validators=[DataRequired(_l("Tick the box to agree: without it we cannot answer you."))],
    )
    # Left empty by people, who never see it; filled in by the robots that fill in every field.
    website = StringField(_l("Leave this field empty"), validators=[Optional()])


class DeclineForm(Form):
    reason = RadioField(
        _l("Reason"), choices=[], validators=[DataRequired(_l("Choose the reason for declining."))]
    )
    comment = TextAreaField(
        _l("Message to the organization"),
        validators=[Length(max=2000)],
    )
    version = HiddenField()


class AcceptForm(Form):
    version = HiddenField()


class NewMemberForm(Form):
    """The regional admin adds an organization and invites its first coordinator, in one step."""

    organization_name = StringField(
        _l("Name of the organization"),
        validators=[DataRequired(_l("Enter the organization's name.")), Length(max=200)],
    )
    mandate = TextAreaField(_l("Mandate"), validators=[Length(max=2000)])
    territory = StringField(_l("Territory served"), validators=[Length(max=200)])
    coordinator_name = StringField(
        _l("Coordinator's name"),
        validators=[DataRequired(_l("Enter the coordinator's name.")), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    coordinator_email = EmailField(
        _l("Coordinator's email"),
        validators=[
            DataRequired(_l("Enter the coordinator's email.")),
            Email(EMAIL_MESSAGE),
            Length(max=254),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    language = SelectField(
        _l("Language of the invitation and of her pages"), choices=LANGUAGE_CHOICES, default="fr"
    )

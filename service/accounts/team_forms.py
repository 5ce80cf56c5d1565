"""The forms of the team page and of an invitation's page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length

from service.accounts.forms import new_password_length
from service.accounts.models import Role
from service.web.forms import Form

ROLE_CHOICES = [
    SelectChoice(Role.CASEWORKER.value, _l("Caseworker")),
    SelectChoice(Role.COORDINATOR.value, _l("Coordinator")),
    SelectChoice(Role.PARTNER_CONTACT.value, _l("Partner contact")),
    SelectChoice(Role.PRIVACY_OFFICER.value, _l("Privacy officer")),
]
LANGUAGE_CHOICES = [SelectChoice("fr", "Français"), SelectChoice("en", "English")]


class InviteForm(Form):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Enter her name.")), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(_l("Enter her email.")), Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.CASEWORKER.value)
    language = SelectField(
        _l("Language of the invitation and of her pages"), choices=LANGUAGE_CHOICES, default="fr"
    )


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class AcceptForm(Form):
    """The invitee chooses her password."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter a password.")), new_password_length()],
        render_kw={"autocomplete": "new-password"},
    )
    again = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(_l("Enter the password again.")),
            EqualTo("password", _l("The two passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )

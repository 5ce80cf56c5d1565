from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length

from service.accounts.passwords import MAX_LENGTH
from service.web.forms import Form

# A password typed to sign in or confirm: long enough for any password Maillage ever accepted, short
# enough that nobody makes argon2 hash megabytes.
ENTERED_MAX_LENGTH = 1024


def entered_password_length() -> Length:
    return Length(max=ENTERED_MAX_LENGTH, message=_l("This password is too long."))


def new_password_length() -> Length:
    return Length(max=MAX_LENGTH, message=_l("A password has at most %(max)d characters."))


class SignInForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email."))])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), entered_password_length()]
    )


def _code_field(label: str) -> StringField:
    # Browsers and phones offer the code just received for autocomplete="one-time-code".
    return StringField(
        label,
        validators=[DataRequired(_l("Enter the code.")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "none"},
    )


class CodeForm(Form):
    """The second step of signing in: her app's code, or one of her recovery codes."""

    code = _code_field(_l("Code"))


class EnrolForm(Form):
    code = StringField(
        _l("Code shown by the app"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )


class ConfirmForm(Form):
    """Her password again before a sensitive act; `code` is removed when she has no second factor."""

    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), entered_password_length()]
    )
    code = _code_field(_l("Code"))


class ActionForm(Form):
    """A button that changes something: only the CSRF token."""


class PasswordForm(Form):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), entered_password_length()],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), new_password_length()],
        render_kw={"autocomplete": "new-password"},
    )
    again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the new password again.")),
            EqualTo("new", _l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ForgotPasswordForm(Form):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(_l("Enter your email.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class NewPasswordForm(Form):
    """A new password through an emailed link: no current password to give."""

    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), new_password_length()],
        render_kw={"autocomplete": "new-password"},
    )
    again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the new password again.")),
            EqualTo("new", _l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )

"""The privacy forms: an incident of the register, an organization's retention period."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from service.directory.forms import options
from service.web.forms import Form

TEXT_LIMIT = 10_000
# Far above any real incident, below the database's integer limit: a typo gets a message, not an error.
PEOPLE_LIMIT = 100_000_000


def _text(label: object, missing: object) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(missing), Length(max=TEXT_LIMIT)])


class IncidentForm(Form):
    description = _text(_l("What happened"), _l("Describe the circumstances of the incident."))
    information_kinds = _text(
        _l("Kind of personal information concerned"),
        _l("Say what personal information is concerned, or why it cannot be said yet."),
    )
    occurred_on = DateField(
        _l("Date of the incident, or first day of the period"),
        validators=[InputRequired(_l("Enter the date of the incident, even an approximate one."))],
    )
    occurred_until = DateField(_l("Last day of the period"), validators=[Optional()])
    learned_on = DateField(
        _l("Date the organization learned of it"),
        validators=[InputRequired(_l("Enter the date the organization learned of the incident."))],
    )
    people_affected = IntegerField(
        _l("Number of people affected"),
        validators=[
            InputRequired(_l("Enter the number of people affected, or an approximation.")),
            NumberRange(min=0, max=PEOPLE_LIMIT, message=_l("Enter a number of people, 0 or more.")),
        ],
    )
    serious_injury_risk = RadioField(
        _l("Is there a risk of serious injury?"),
        choices=options([("yes", _l("Yes")), ("no", _l("No"))]),
        validators=[InputRequired(_l("Answer whether there is a risk of serious injury."))],
    )
    risk_assessment = _text(
        _l("Reasoning of the risk assessment"),
        _l(
            "Explain the assessment: how sensitive the information is, its possible misuse, its consequences."
        ),
    )
    commission_notified_on = DateField(
        _l("Date the Commission d'accès à l'information was notified"), validators=[Optional()]
    )
    commission_not_notified_reason = TextAreaField(
        _l("Why the Commission was not notified"), validators=[Length(max=TEXT_LIMIT)]
    )
    people_notified_on = DateField(_l("Date the people concerned were notified"), validators=[Optional()])
    people_not_notified_reason = TextAreaField(
        _l("Why the people concerned were not notified"), validators=[Length(max=TEXT_LIMIT)]
    )
    measures = _text(_l("Measures taken"), _l("Describe the measures taken to reduce the risk of injury."))


class RetentionForm(Form):
    months = IntegerField(
        _l("Months a closed referral keeps her personal data"),
        validators=[Optional(), NumberRange(min=1, message=_l("Enter a number of months, 1 or more."))],
    )

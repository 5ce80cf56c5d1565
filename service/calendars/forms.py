"""The forms of the calendar pages: a feed made or revoked, a public event posted, the calendar's filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import TimeField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from service.referrals.forms import MultiCheckboxField
from service.referrals.forms import strip_text
from service.web.forms import Form

EVERYONE = ""

KIND_LABELS = {
    "training": _l("Training"),
    "webinar": _l("Webinar"),
    "concertation": _l("Concertation"),
    "other": _l("Other event"),
}


class FeedForm(Form):
    """Only the CSRF token: which feed is made is in the address."""


class RevokeForm(Form):
    """Only the CSRF token: the feed is in the address."""


class EventForm(Form):
    kind = SelectField(
        _l("Kind of event"),
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        validate_choice=True,
        validators=[InputRequired(_l("Choose the kind of event."))],
    )
    title = StringField(
        _l("Title"),
        filters=[strip_text],
        validators=[DataRequired(_l("Give the event a title.")), Length(max=200)],
    )
    day = DateField(_l("Date"), validators=[InputRequired(_l("Give the date, e.g. 2027-01-14."))])
    starts = TimeField(_l("Start time"), validators=[InputRequired(_l("Give the start time, e.g. 09:30."))])
    ends = TimeField(_l("End time"), validators=[InputRequired(_l("Give the end time, e.g. 11:00."))])
    place = StringField(_l("Place or link"), filters=[strip_text], validators=[Optional(), Length(max=300)])
    description = TextAreaField(
        _l("Description"), filters=[strip_text], validators=[Optional(), Length(max=5000)]
    )
    clientele = SelectField(_l("Clientele"), validate_choice=True, default=EVERYONE)
    needs = MultiCheckboxField(_l("Needs it is about"), validate_choice=True)

    def offer(self, needs: list[tuple[str, str]], clienteles: list[str]) -> None:
        """Fill the choices: the active needs, and the clienteles the directory's organizations state."""
        self.needs.choices = [SelectChoice(code, label) for code, label in needs]
        self.clientele.choices = _clienteles(clienteles)


class FilterForm(Form):
    """The regional calendar's filters, read from the address (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    clientele = SelectField(_l("Clientele"), validate_choice=True, default=EVERYONE)
    need = SelectField(_l("Need"), validate_choice=True, default=EVERYONE)

    def offer(self, needs: list[tuple[str, str]], clienteles: list[str]) -> None:
        self.need.choices = [
            SelectChoice(EVERYONE, str(_l("Every need"))),
            *(SelectChoice(*n) for n in needs),
        ]
        self.clientele.choices = _clienteles(clienteles)


def _clienteles(clienteles: list[str]) -> list[SelectChoice]:
    return [SelectChoice(EVERYONE, str(_l("Every clientele"))), *(SelectChoice(c, c) for c in clienteles)]

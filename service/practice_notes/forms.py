"""The practice notes' forms. Labels and messages go through Flask-Babel; choices are filled by the views."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SearchField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from service.directory.forms import CheckboxesField
from service.directory.forms import options
from service.practice_notes.models import NETWORK
from service.practice_notes.models import PARTNERS
from service.web.forms import Form

# Room for a long note, well under the request size limit.
MOST_CHARACTERS = 20_000


class NoteSearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(_l("Words to look for"), validators=[Optional(), Length(max=200)])
    need = SelectField(_l("Need"), choices=[], default="", validate_choice=True)
    clientele = SelectField(_l("Clientele"), choices=[], default="", validate_choice=True)


class NoteForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Enter a title.")), Length(max=200)])
    body = TextAreaField(
        _l("The practice note"),
        validators=[DataRequired(_l("Write the note.")), Length(max=MOST_CHARACTERS)],
        render_kw={"rows": 16},
    )
    needs = CheckboxesField(_l("Needs it serves"), choices=[])
    clientele = SelectField(_l("Clientele"), choices=[], default="", validate_choice=True)
    visibility = RadioField(
        _l("Shared with"),
        choices=options(
            [
                (PARTNERS, _l("Our partners (organizations in an active partnership with us)")),
                (NETWORK, _l("The whole network (every organization in Maillage)")),
            ]
        ),
        default=PARTNERS,
        validators=[InputRequired(_l("Choose who the note is shared with."))],
    )
    # The version she read before editing: another saved since, and hers is refused, not lost.
    read_version = HiddenField()

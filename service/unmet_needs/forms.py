"""The unmet-need form: the needs ticked, the territory and the clientele chosen from the directory.

Choices only, on purpose: a free-text field would invite her name or her story.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import DataRequired

from service.referrals.forms import MultiCheckboxField
from service.web.forms import Form

NOT_LISTED = ""


class UnmetNeedForm(Form):
    needs = MultiCheckboxField(
        _l("Her needs that no organization fits"),
        validators=[DataRequired(message=_l("Tick at least one need."))],
        validate_choice=True,
    )
    territory = SelectField(_l("Territory"), validate_choice=True)
    clientele = SelectField(_l("Clientele"), validate_choice=True)

    def offer(self, needs: list[tuple[str, str]], territories: list[str], clienteles: list[str]) -> None:
        """Fill the choices: the active needs, and the directory's territories and clienteles."""
        self.needs.choices = needs
        other = (NOT_LISTED, str(_l("Not in the list")))
        self.territory.choices = [other, *((value, value) for value in territories)]
        self.clientele.choices = [other, *((value, value) for value in clienteles)]

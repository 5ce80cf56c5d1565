"""The choice of period on the report pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms import SelectField
from wtforms.validators import Optional

from service.directory.forms import options
from service.reports.queries import PERIOD_KINDS
from service.web.forms import Form

PERIOD_LABELS = {"month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
UNMET_CHOICES = {
    "all": _l("Declined, redirected or no resource found"),
    "decline": _l("Declined"),
    "redirect": _l("Redirected"),
    "no_resource": _l("No resource found"),
}


class PeriodForm(Form):
    class Meta:
        csrf = False  # a GET that changes nothing

    period = SelectField(
        _l("Period"),
        choices=options((kind, PERIOD_LABELS[kind]) for kind in PERIOD_KINDS),
        default="month",
        validate_choice=True,
    )
    on = DateField(
        _l("Including the day"),
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"autocomplete": "off"},
    )


class UnmetNeedsForm(PeriodForm):
    decision = SelectField(
        _l("Needs counted"), choices=options(UNMET_CHOICES.items()), default="all", validate_choice=True
    )

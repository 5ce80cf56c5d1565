"""The incident register as a CSV file a privacy officer opens in Excel or hands to the Commission.

Headers and yes/no are in the page's language; the file is written as every
download of the app is (`service.web.spreadsheet`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service.privacy.models import ConfidentialityIncident
from service.web.spreadsheet import csv_text
from workflows.durations import TIME_ZONE


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


COLUMNS: tuple[tuple[Any, Callable[[ConfidentialityIncident], object]], ...] = (
    (_l("Number"), lambda i: i.id),
    (_l("What happened"), lambda i: i.description),
    (_l("Date of the incident, or first day of the period"), lambda i: _day(i.occurred_on)),
    (_l("Last day of the period"), lambda i: _day(i.occurred_until)),
    (_l("Date the organization learned of it"), lambda i: _day(i.learned_on)),
    (_l("Number of people affected"), lambda i: i.people_affected),
    (_l("Kind of personal information concerned"), lambda i: i.information_kinds),
    (_l("Risk of serious injury"), lambda i: _yes_no(i.serious_injury_risk)),
    (_l("Reasoning of the risk assessment"), lambda i: i.risk_assessment),
    (
        _l("Date the Commission d'accès à l'information was notified"),
        lambda i: _day(i.commission_notified_on),
    ),
    (_l("Why the Commission was not notified"), lambda i: i.commission_not_notified_reason),
    (_l("Date the people concerned were notified"), lambda i: _day(i.people_notified_on)),
    (_l("Why the people concerned were not notified"), lambda i: i.people_not_notified_reason),
    (_l("Measures taken"), lambda i: i.measures),
    (_l("Recorded on"), lambda i: i.recorded_at.astimezone(TIME_ZONE).strftime("%Y-%m-%d %H:%M")),
    (
        _l("Last updated on"),
        lambda i: i.updated_at.astimezone(TIME_ZONE).strftime("%Y-%m-%d %H:%M") if i.updated_at else "",
    ),
)


def register_csv(incidents: Iterable[ConfidentialityIncident], language: str) -> str:
    """The register as CSV text, byte order mark first; `language` picks the separator."""
    header = [str(label) for label, _value in COLUMNS]
    rows = ([value(incident) for _label, value in COLUMNS] for incident in incidents)
    return csv_text([header, *rows], language)

"""The directory's words in the page language: durations, bounds, kinds and statuses.

Protocol files write durations in English ("2 business days"); people read
them here as "2 jours ouvrables" or "2 business days", with the plural right.
"""

from __future__ import annotations

from collections.abc import Iterable

from babel import Locale
from babel import UnknownLocaleError
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from service.directory.models import Need
from workflows.durations import Duration
from workflows.durations import Unit
from workflows.protocol import Protocol
from workflows.schema import ParameterSpec

PARTNERSHIP_KIND_LABELS = {
    "yearly_presentation": _l("Presentation of services once a year"),
    "shared_premises": _l("Shared premises or equipment"),
    "intervention_keys": _l("Intervention keys for different clienteles"),
    "referral_protocol": _l("Referral protocols"),
    "team_sessions": _l("Team-to-team exploratory sessions"),
    "joint_mobilization": _l("Joint mobilization"),
    "co_organized_activities": _l("Co-organized events and activities"),
}

# The kinds of organization the demo and imports name by code; a kind typed in the form shows as typed.
ORGANIZATION_KIND_LABELS = {
    "shelter": _l("Shelter"),
    "second_stage_housing": _l("Second-stage housing"),
    "sexual_assault_centre": _l("Sexual assault centre"),
    "crime_victim_assistance": _l("Crime victim assistance centre"),
    "womens_centre": _l("Women's centre"),
    "health_clinic": _l("Health clinic"),
    "legal_aid": _l("Legal aid"),
    "employment_service": _l("Employment service"),
    "newcomer_settlement": _l("Newcomer settlement service"),
    "food_bank": _l("Food bank"),
}

CAPACITY_LABELS = {
    "open": _l("Open: taking new referrals"),
    "waitlist": _l("Waiting list"),
    "full": _l("Full: not taking new referrals for now"),
}

NOTE_KIND_LABELS = {
    "note": _l("Note"),
    "meeting": _l("Meeting"),
    "review": _l("Review (bilan)"),
    "presentation": _l("Presentation of services"),
    # The traces a request between the two organizations leaves when it ends (service/partnership_requests).
    "loan": _l("Loan of premises or equipment"),
    "activity": _l("Co-organized activity"),
    "session": _l("Team-to-team session"),
    "mobilization": _l("Joint mobilization"),
}

AGREEMENT_STATUS_LABELS = {
    "proposed": _l("Proposed, waiting for confirmation"),
    "confirmed": _l("Confirmed, not in effect yet"),
    "in_effect": _l("In effect"),
    "superseded": _l("Superseded"),
}

UNIT_NAMES = {
    "minutes": _l("minutes"),
    "hours": _l("hours"),
    "days": _l("days"),
    "business_days": _l("business days"),
}


def page_language() -> str:
    locale = get_locale()
    return locale.language if locale else "fr"


def kind_label(kind: str) -> str:
    return str(PARTNERSHIP_KIND_LABELS.get(kind, kind))


def organization_kind_label(kind: str) -> str:
    """An organization's kind in the page's language: "Maison d'hébergement", not "shelter"."""
    return str(ORGANIZATION_KIND_LABELS.get(kind, kind))


def capacity_words(status: str | None) -> str:
    return str(CAPACITY_LABELS[status]) if status in CAPACITY_LABELS else _("Not stated")


def note_kind_label(kind: str) -> str:
    return str(NOTE_KIND_LABELS.get(kind, kind))


def agreement_status_label(status: str) -> str:
    return str(AGREEMENT_STATUS_LABELS[status])


def need_label(need: Need) -> str:
    return need.label_en if page_language() == "en" else need.label_fr


def protocol_title(protocol: Protocol) -> str:
    return protocol.spec.title.in_language(page_language())


def parameter_title(spec: ParameterSpec) -> str:
    return spec.title.in_language(page_language())


def amount_words(amount: int, unit: Unit) -> str:
    """E.g. "1 jour ouvrable", "2 jours ouvrables", "4 heures"."""
    if unit == "minutes":
        return ngettext("%(num)d minute", "%(num)d minutes", amount)
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", amount)
    if unit == "days":
        return ngettext("%(num)d day", "%(num)d days", amount)
    return ngettext("%(num)d business day", "%(num)d business days", amount)


def duration_words(text: str) -> str:
    """A protocol duration ("2 business days") in the page language; the text itself if unreadable."""
    try:
        duration = Duration.parse(text)
    except ValueError:
        return text
    return amount_words(duration.amount, duration.unit)


def bounds_words(low: str, high: str) -> str:
    """E.g. "entre 1 et 5 jours ouvrables" for a parameter's min and max."""
    first, last = Duration.parse(low), Duration.parse(high)
    if first.unit != last.unit:  # the protocol checks forbid it; say it plainly all the same
        high_words = amount_words(last.amount, last.unit)
        return _("between %(low)s and %(high)s", low=amount_words(first.amount, first.unit), high=high_words)
    if last.unit == "minutes":
        return ngettext(
            "between %(low)d and %(num)d minute",
            "between %(low)d and %(num)d minutes",
            last.amount,
            low=first.amount,
        )
    if last.unit == "hours":
        return ngettext(
            "between %(low)d and %(num)d hour",
            "between %(low)d and %(num)d hours",
            last.amount,
            low=first.amount,
        )
    if last.unit == "days":
        return ngettext(
            "between %(low)d and %(num)d day",
            "between %(low)d and %(num)d days",
            last.amount,
            low=first.amount,
        )
    return ngettext(
        "between %(low)d and %(num)d business day",
        "between %(low)d and %(num)d business days",
        last.amount,
        low=first.amount,
    )


def unit_name(unit: Unit) -> str:
    return str(UNIT_NAMES[unit])


def language_names(codes: Iterable[str]) -> str:
    """Languages as written, with language codes ("fr", "es") named in the page language."""
    names = []
    for code in codes:
        try:
            name = Locale.parse(code).get_display_name(page_language()) if len(code) <= 3 else code
        except (UnknownLocaleError, ValueError):
            name = code
        names.append(name or code)
    return ", ".join(names)

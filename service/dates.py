"""Dates and times as a person reads them: Montréal's clock, in her language.

French follows Québec usage (Office québécois de la langue française):
"6 décembre 2026", "1er décembre 2026", "5 h 05", "17 h 30", "11 h" for a
whole hour, "6 décembre 2026 à 5 h 05". English follows English Canada's: "December 6, 2026, 5:05 a.m.".
Pages (through the `when` and `day` filters), emails and the development
mailbox all format through here, so a date reads the same everywhere.

Domain code: no Flask.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from babel.dates import format_date
from babel.dates import format_datetime

from workflows.durations import TIME_ZONE

LOCALES = {"fr": "fr_CA", "en": "en_CA"}

# A day's patterns, by style: "long" (6 décembre 2026), "short" (6 déc. 2026), "weekday"
# (dimanche 6 décembre 2026), "month" (décembre 2026).
DAY_PATTERNS = {
    "fr": {"long": "d MMMM y", "short": "d MMM y", "weekday": "EEEE d MMMM y", "month": "MMMM y"},
    "en": {"long": "MMMM d, y", "short": "MMM d, y", "weekday": "EEEE, MMMM d, y", "month": "MMMM y"},
}
# The time of day: Québec writes "5 h 05" and "11 h", never "05:05" or "11 h 00".
TIME_PATTERNS = {
    "fr": {"minutes": "H 'h' mm", "hour": "H 'h'", "seconds": "H 'h' mm 'min' ss 's'"},
    "en": {"minutes": "h:mm a", "hour": "h:mm a", "seconds": "h:mm:ss a"},
}
# How a day and a time make one moment.
MOMENT_PATTERNS = {"fr": "{day} 'à' {time}", "en": "{day} 'at' {time}"}


def _language(language: str | None) -> str:
    return language if language in LOCALES else "fr"


def _day_pattern(language: str, style: str, day: int) -> str:
    pattern = DAY_PATTERNS[language][style]
    if language == "fr" and day == 1:  # "1er décembre"
        pattern = pattern.replace("d MMM", "d'er' MMM")
    return pattern


def format_day(day: date | datetime, language: str | None, style: str = "long") -> str:
    """A day, e.g. "6 décembre 2026" or "December 6, 2026"; a datetime is first put on Montréal's clock."""
    language = _language(language)
    if isinstance(day, datetime):
        day = day.astimezone(TIME_ZONE).date()
    return format_date(day, _day_pattern(language, style, day.day), locale=LOCALES[language])


def format_moment(
    moment: datetime, language: str | None, style: str = "long", *, seconds: bool = False
) -> str:
    """A moment on Montréal's clock, e.g. "6 décembre 2026 à 5 h 05" or "December 6, 2026 at 5:05 a.m.".

    `style` is the day's (see `DAY_PATTERNS`); `seconds` adds them (the audit log).
    A moment without a time zone is taken as UTC, as the database stores them.
    """
    language = _language(language)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(TIME_ZONE)
    times = TIME_PATTERNS[language]
    time_pattern = times["seconds"] if seconds else times["hour"] if local.minute == 0 else times["minutes"]
    pattern = MOMENT_PATTERNS[language].format(
        day=_day_pattern(language, style, local.day), time=time_pattern
    )
    return format_datetime(local, pattern, tzinfo=TIME_ZONE, locale=LOCALES[language])

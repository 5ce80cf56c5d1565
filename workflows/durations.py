"""Durations written in protocol files, and adding them to a moment.

Business days follow Québec's statutory holidays in the America/Montreal time
zone: a referral sent on Friday afternoon with "2 business days" is due on
Tuesday afternoon, or Wednesday when Monday is a holiday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

Unit = Literal["minutes", "hours", "days", "business_days"]

TIME_ZONE = ZoneInfo("America/Montreal")

_UNITS: dict[str, Unit] = {
    "minute": "minutes",
    "minutes": "minutes",
    "hour": "hours",
    "hours": "hours",
    "day": "days",
    "days": "days",
    "business day": "business_days",
    "business days": "business_days",
}
_HINT = "write a whole number and a unit, e.g. '2 business days', '4 hours', '30 days' or '90 minutes'"
_PATTERN = re.compile(r"^\s*(-?)\s*(\d+)\s+([a-z ]+?)\s*$")


@dataclass(frozen=True, order=True)
class Duration:
    amount: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read "2 business days", "4 hours", "30 days" or "90 minutes"."""
        offset = cls.parse_offset(text)
        if offset.amount < 0:
            raise ValueError(f"{text!r} is not a duration; {_HINT}")
        return offset

    @classmethod
    def parse_offset(cls, text: str) -> Duration:
        """Read a duration that may also count backwards from a date: "-2 days" is two days before."""
        match = _PATTERN.match(str(text).lower())
        unit = _UNITS.get(" ".join(match.group(3).split())) if match else None
        if match is None or unit is None:
            raise ValueError(f"{text!r} is not a duration; {_HINT}")
        amount = int(match.group(2))
        if amount == 0:
            raise ValueError(f"{text!r} must be longer than zero")
        return cls(-amount if match.group(1) else amount, unit)

    def __str__(self) -> str:
        label = self.unit.replace("_", " ")
        return f"{self.amount} {label[:-1] if abs(self.amount) == 1 else label}"

    def after(self, start: datetime) -> datetime:
        """The moment this long after `start` (an aware datetime); returned in UTC."""
        if start.tzinfo is None:
            raise ValueError("naive datetime: give `start` a time zone (the clock gives UTC)")
        # Minutes and hours are elapsed time: add them in UTC, since adding to a
        # local aware datetime moves its wall clock and loses or gains the DST hour.
        if self.unit == "minutes":
            return start.astimezone(UTC) + timedelta(minutes=self.amount)
        if self.unit == "hours":
            return start.astimezone(UTC) + timedelta(hours=self.amount)
        local = start.astimezone(TIME_ZONE)
        day = local.date()
        if self.unit == "days":
            day += timedelta(days=self.amount)
        elif self.amount < 0:
            day = subtract_business_days(day, -self.amount)
        else:
            day = add_business_days(day, self.amount)
        # Same wall-clock time on the target day, so DST changes do not shift it.
        return datetime.combine(day, local.time(), TIME_ZONE).astimezone(UTC)


@lru_cache(maxsize=1)
def _quebec_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("CA", subdiv="QC")


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _quebec_holidays()


def add_business_days(day: date, count: int) -> date:
    """The `count`-th business day after `day` (which itself does not count)."""
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def subtract_business_days(day: date, count: int) -> date:
    """The `count`-th business day before `day` (which itself does not count)."""
    while count > 0:
        day -= timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day

"""Durations as protocol files write them, and when they fall due in Québec."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest

from workflows.durations import TIME_ZONE
from workflows.durations import Duration
from workflows.durations import add_business_days
from workflows.durations import is_business_day


def montreal(*args: int) -> datetime:
    """A wall-clock moment in Montréal."""
    return datetime(*args, tzinfo=TIME_ZONE)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Reading durations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("2 business days", 2, "business_days"),
        ("1 business day", 1, "business_days"),
        ("4 hours", 4, "hours"),
        ("1 hour", 1, "hours"),
        ("30 days", 30, "days"),
        ("1 day", 1, "days"),
        ("90 minutes", 90, "minutes"),
        ("1 minute", 1, "minutes"),
        ("  3  Business   Days ", 3, "business_days"),
    ],
)
def test_parse_reads_a_whole_number_and_a_unit(text: str, amount: int, unit: str):
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2",
        "days",
        "two days",
        "2.5 hours",
        "-1 days",
        "2 weeks",
        "2 business",
        "2business days",
        "2 hours ago",
    ],
)
def test_parse_refuses_what_is_not_a_duration_and_shows_the_forms(text: str):
    with pytest.raises(ValueError, match="is not a duration") as refused:
        Duration.parse(text)

    assert str(refused.value) == (
        f"{text!r} is not a duration; write a whole number and a unit, "
        "e.g. '2 business days', '4 hours', '30 days' or '90 minutes'"
    )


def test_parse_refuses_zero():
    with pytest.raises(ValueError, match=r"^'0 hours' must be longer than zero$"):
        Duration.parse("0 hours")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("1 business days", "1 business day"),
        ("2 Business Day", "2 business days"),
        ("1 hours", "1 hour"),
        ("45 minute", "45 minutes"),
    ],
)
def test_a_duration_is_written_back_in_its_plain_form(text: str, written: str):
    assert str(Duration.parse(text)) == written


def test_durations_of_one_unit_compare_by_length():
    assert Duration.parse("2 business days") < Duration.parse("10 business days")
    assert Duration.parse("45 days") > Duration.parse("44 days")


# Business days ---------------------------------------------------------------


def test_business_days_skip_the_weekend():
    """Sent Friday afternoon with 2 business days: due Tuesday afternoon."""
    due = Duration.parse("2 business days").after(montreal(2026, 5, 8, 15, 0))

    assert due == montreal(2026, 5, 12, 15, 0)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Fête nationale, Wednesday 24 June 2026
        (montreal(2026, 6, 23, 10, 0), 1, montreal(2026, 6, 25, 10, 0)),
        # Christmas falls on a Friday in 2026: Thursday's next business day is Monday
        (montreal(2026, 12, 24, 10, 0), 1, montreal(2026, 12, 28, 10, 0)),
        # Good Friday, 3 April 2026
        (montreal(2026, 4, 2, 10, 0), 1, montreal(2026, 4, 6, 10, 0)),
        # Journée nationale des patriotes, Monday 18 May 2026: Friday + 2 is Wednesday
        (montreal(2026, 5, 15, 14, 30), 2, montreal(2026, 5, 20, 14, 30)),
        # Canada Day, Wednesday 1 July 2026, and New Year's Day, Friday 1 January 2027
        (montreal(2026, 6, 30, 9, 0), 1, montreal(2026, 7, 2, 9, 0)),
        (montreal(2026, 12, 31, 9, 0), 1, montreal(2027, 1, 4, 9, 0)),
    ],
    ids=["fete nationale", "christmas", "good friday", "patriotes", "canada day", "new year"],
)
def test_business_days_skip_quebec_holidays(start: datetime, days: int, due: datetime):
    assert Duration(days, "business_days").after(start) == due


def test_business_days_from_a_weekend_start_counting_on_monday():
    due = Duration.parse("1 business day").after(montreal(2026, 5, 9, 11, 0))

    assert due == montreal(2026, 5, 11, 11, 0)


def test_business_days_count_from_the_day_in_montreal_not_in_utc():
    """Thursday 22:00 in Montréal is already Friday in UTC; the next business day is still Friday."""
    start = utc(2026, 5, 8, 2, 0)
    assert start.astimezone(TIME_ZONE) == montreal(2026, 5, 7, 22, 0)

    assert Duration.parse("1 business day").after(start) == montreal(2026, 5, 8, 22, 0)


@pytest.mark.parametrize(
    ("start", "due", "elapsed"),
    [
        # Spring forward on Sunday 8 March 2026: Friday 9:00 EST, Monday 9:00 EDT
        (montreal(2026, 3, 6, 9, 0), utc(2026, 3, 9, 13, 0), timedelta(days=3, hours=-1)),
        # Fall back on Sunday 1 November 2026: Friday 9:00 EDT, Monday 9:00 EST
        (montreal(2026, 10, 30, 9, 0), utc(2026, 11, 2, 14, 0), timedelta(days=3, hours=1)),
    ],
    ids=["spring forward", "fall back"],
)
def test_business_days_across_a_dst_change_keep_the_wall_clock(
    start: datetime, due: datetime, elapsed: timedelta
):
    result = Duration.parse("1 business day").after(start)

    assert result == due
    assert result.astimezone(TIME_ZONE).time() == start.time()
    assert result - start == elapsed


def test_calendar_days_across_a_dst_change_keep_the_wall_clock():
    result = Duration.parse("1 day").after(montreal(2026, 3, 7, 9, 0))

    assert result == utc(2026, 3, 8, 13, 0)
    assert result.astimezone(TIME_ZONE) == montreal(2026, 3, 8, 9, 0)


def test_calendar_days_count_weekends_and_holidays():
    assert Duration.parse("30 days").after(montreal(2026, 6, 1, 9, 0)) == montreal(2026, 7, 1, 9, 0)


# Hours and minutes -----------------------------------------------------------


def test_hours_run_through_nights_and_weekends():
    """Urgent: sent Friday at 22:00, due 4 hours later, on Saturday at 2:00."""
    assert Duration.parse("4 hours").after(montreal(2026, 5, 8, 22, 0)) == montreal(2026, 5, 9, 2, 0)


@pytest.mark.parametrize(
    ("start", "due_wall_clock"),
    [
        # Spring forward at 2:00: 4 hours after 0:30 EST is 5:30 EDT
        (montreal(2026, 3, 8, 0, 30), montreal(2026, 3, 8, 5, 30)),
        # Fall back at 2:00: 4 hours after 0:30 EDT is 3:30 EST
        (montreal(2026, 11, 1, 0, 30), montreal(2026, 11, 1, 3, 30)),
    ],
    ids=["spring forward", "fall back"],
)
def test_hours_across_a_dst_change_are_elapsed_time(start: datetime, due_wall_clock: datetime):
    due = Duration.parse("4 hours").after(start)

    assert due - start == timedelta(hours=4)
    assert due == due_wall_clock


def test_minutes():
    assert Duration.parse("90 minutes").after(utc(2026, 5, 8, 23, 0)) == utc(2026, 5, 9, 0, 30)


# Time zone of the result -----------------------------------------------------


@pytest.mark.parametrize("text", ["90 minutes", "4 hours", "30 days", "2 business days"])
def test_after_returns_utc_whatever_the_zone_of_the_start(text: str):
    duration = Duration.parse(text)
    local_start = montreal(2026, 5, 8, 15, 0)
    utc_start = local_start.astimezone(UTC)

    from_local, from_utc = duration.after(local_start), duration.after(utc_start)

    assert from_local.tzinfo is UTC
    assert from_utc.tzinfo is UTC
    assert from_local == from_utc


# The calendar ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 6, 24), False),  # Fête nationale
        (date(2026, 6, 23), True),
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 5, 9), False),  # a Saturday
        (date(2026, 5, 10), False),  # a Sunday
        (date(2026, 12, 28), True),
    ],
)
def test_is_business_day(day: date, expected: bool):
    assert is_business_day(day) is expected


def test_add_business_days_does_not_count_the_start_day():
    assert add_business_days(date(2026, 5, 11), 1) == date(2026, 5, 12)
    assert add_business_days(date(2026, 5, 11), 5) == date(2026, 5, 19)  # over the Patriotes' Monday

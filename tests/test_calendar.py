"""CI runs the suite again with the calendar moved (.ci/run, MAILLAGE_TEST_CALENDAR): make sure it moved."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

import pytest

from service.clock import utcnow
from tests.conftest import CALENDAR_MOVED_TO


@pytest.mark.skipif(not CALENDAR_MOVED_TO, reason="the calendar moves only in CI's runs on other days")
def test_the_code_reads_the_day_ci_moved_the_calendar_to():
    moved_to = datetime.fromisoformat(CALENDAR_MOVED_TO)
    assert abs(utcnow() - moved_to) < timedelta(hours=2)

"""Calendars: iCalendar feeds of every dated thing, .ics invitations, and the regional calendar."""

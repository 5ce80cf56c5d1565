"""Needs nobody answers: what a caseworker records at intake when no organization fits her needs."""

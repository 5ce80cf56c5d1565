"""Requests between partner organizations (a loan, an activity, a presentation, a team session, a joint
mobilization), driven by protocols of subject `partnership_request` through the same machine as the others."""

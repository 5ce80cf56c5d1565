"""A protocol names its subject: a referral (the default) between two organizations, or a request to
join the network between the requester and the regional admin. Each subject has its own parties, and
a referral's choices (agreements, the intake, the API) never offer a request's protocol."""

from __future__ import annotations

from tests.workflows.test_checks import FILE
from tests.workflows.test_checks import TEMPLATES
from tests.workflows.test_checks import VALID
from tests.workflows.test_checks import broken
from tests.workflows.test_checks import problems_in
from workflows.loader import load_library
from workflows.loader import parse

REQUEST = """\
name: asking
version: 1
subject: join_request
title: {fr: Demande, en: Request}
description: {fr: Une demande, en: A request}
initial: new
states:
  new:
    title: {fr: Nouvelle, en: New}
    waits_on: requester
  submitted:
    title: {fr: Soumise, en: Submitted}
    waits_on: regional_admin
    deadline:
      title: {fr: Répondre, en: Answer}
      steps:
        - after: 5 business days
          kind: reminder
          notify: [{to: regional_admin, template: deadline_reminder}]
  accepted:
    title: {fr: Acceptée, en: Accepted}
    terminal: true
transitions:
  - trigger: submit
    title: {fr: Envoyer, en: Send}
    from: new
    to: submitted
    by: [requester]
  - trigger: accept
    title: {fr: Accepter, en: Accept}
    from: submitted
    to: accepted
    by: [regional_admin]
"""


def test_a_referral_is_the_default_subject_and_a_request_names_its_own():
    assert parse(VALID, FILE, TEMPLATES).subject == "referral"
    assert parse(REQUEST, FILE, TEMPLATES).subject == "join_request"


def test_a_request_to_join_may_not_name_a_referrals_parties():
    text = broken("    by: [regional_admin]\n", "    by: [receiver]\n", REQUEST)
    [problem] = problems_in(text)
    assert (problem.path, problem.line) == ("transitions[1].by", 33)
    assert problem.message == "unknown role 'receiver'; expected one of: regional_admin, requester, system"


def test_a_referral_may_not_name_a_requests_parties():
    text = broken(
        "notify: [{to: receiver, template: deadline_reminder}]",
        "notify: [{to: regional_admin, template: deadline_reminder}]",
    )
    [problem] = problems_in(text)
    assert problem.path == "states.sent.deadline.steps[0].notify[0].to"
    assert problem.message.startswith("unknown role 'regional_admin'")


def test_an_unknown_subject_is_refused():
    [problem] = problems_in(broken("version: 1\n", "version: 1\nsubject: loan\n"))
    assert problem.path == "subject"


def test_the_referral_choices_offer_no_request_protocol():
    library = load_library()
    assert "join_request" in {p.name for p in library}
    assert "join_request" not in {p.name for p in library.latest()}
    assert {p.name for p in library.latest(subject="join_request")} == {"join_request"}
    assert {p.name for p in library.latest(subject=None)} >= {"standard", "join_request"}

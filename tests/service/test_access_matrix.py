"""Who reaches what: every role of the sending, the receiving and a bystander organization,
and the regional admin, against every referral route, on referrals in several states.

The rules: an organization sees only the referrals it sent or received, and the
receiving one only once it was sent; anyone else gets a 404, whatever the id.
The regional admin and the privacy officers see no referral: their work needs
none. Seeing is not doing: a button of the other side is a 403, and so is
preparing a referral (changing a draft, recording consent) for anyone but the
sending organization's caseworkers and coordinators.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from tests.service.test_referral_pages import make_user
from tests.service.test_referral_pages import referral_in
from tests.service.test_referral_pages import signed_in

STATES = ("draft", "sent", "received", "in_progress", "closed")
# A button of each state's page in the protocol, and the side it belongs to. In
# "closed", "close" is a button of the page before: the sender is told it changed.
BUTTON = {
    "draft": ("send", "sender"),
    "sent": ("acknowledge", "receiver"),
    "received": ("decline", "receiver"),
    "in_progress": ("close", "sender"),
    "closed": ("close", "sender"),
}
ROUTES = ("show", "act", "edit", "edit (post)", "consent", "consent (post)")
PREPARERS = (Role.CASEWORKER, Role.COORDINATOR)


@dataclass(frozen=True)
class Visitor:
    side: str  # "sender", "receiver", "bystander" or "region"
    role: str
    actor: Actor

    def __str__(self) -> str:
        return f"{self.role} of {self.side}"


@pytest.fixture
def visitors(session, network, clock) -> list[Visitor]:
    found = []
    for side, organization in (
        ("sender", network.womens_centre),
        ("receiver", network.shelter),
        ("bystander", network.legal_aid),
    ):
        found.append(Visitor(side, Role.CASEWORKER, organization.caseworker))
        found.append(Visitor(side, Role.COORDINATOR, organization.coordinator))
        contact = make_user(session, organization.organization.id, Role.PARTNER_CONTACT, clock)
        found.append(Visitor(side, Role.PARTNER_CONTACT, contact))
        officer = make_user(session, organization.organization.id, Role.PRIVACY_OFFICER, clock)
        found.append(Visitor(side, Role.PRIVACY_OFFICER, officer))
    found.append(Visitor("region", Role.REGIONAL_ADMIN, make_user(session, None, Role.REGIONAL_ADMIN, clock)))
    return found


def expected(route: str, state: str, visitor: Visitor) -> int:
    """The answer the rules give `visitor` on `route` of a referral in `state`."""
    sees = visitor.side == "sender" or (visitor.side == "receiver" and state != "draft")
    if not sees or visitor.role == Role.PRIVACY_OFFICER:
        return 404
    if route == "show":
        return 200
    if route == "act":
        _, side = BUTTON[state]
        if visitor.side != side:
            return 403
        # The form lacks what the button needs (the page's version): shown again, nothing done;
        # or, for a button of a state the referral has left, back to the page.
        return 303 if state == "closed" else 200
    if visitor.side != "sender" or visitor.role not in PREPARERS:
        return 403
    if route.startswith("edit"):
        return 200 if state == "draft" else 303
    return 303 if state == "closed" else 200


def request(client: FlaskClient, route: str, referral_id: int, state: str):
    base = f"/referrals/{referral_id}"
    if route == "show":
        return client.get(base)
    if route == "act":
        return client.post(f"{base}/actions", data={"trigger": BUTTON[state][0]})
    if route == "edit":
        return client.get(f"{base}/edit")
    if route == "edit (post)":
        return client.post(f"{base}/edit", data={"action": "suggest", "needs": ["shelter_emergency"]})
    if route == "consent":
        return client.get(f"{base}/consent")
    return client.post(f"{base}/consent", data={})


def footprint(session, referral_id: int) -> tuple:
    """What a visit must not change: the referral, its journal and its consents."""
    session.expire_all()
    referral = session.get(Referral, referral_id)
    count = func.count()
    return (
        referral.state,
        referral.version,
        session.scalar(
            select(count).select_from(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
        ),
        session.scalar(select(count).select_from(Consent).where(Consent.referral_id == referral_id)),
    )


@pytest.mark.parametrize("state", STATES)
def test_every_role_of_every_organization_on_every_referral_route(
    app, session, protocols, network, clock, visitors, state
):
    referral = referral_in(state, session, protocols, network, clock)
    sender_id, receiver_id = referral.sender_organization_id, referral.receiver_organization_id
    before = footprint(session, referral.id)
    clients = {visitor: signed_in(app, visitor.actor, session) for visitor in visitors}
    answers = {}
    for visitor, client in clients.items():
        for route in ROUTES:
            answers[(str(visitor), route)] = request(client, route, referral.id, state).status_code
    wanted = {
        (str(visitor), route): expected(route, state, visitor) for visitor in visitors for route in ROUTES
    }
    assert answers == wanted
    assert footprint(session, referral.id) == before
    # Her details were read only by the two organizations, and logged each time.
    readers = session.scalars(
        select(AuditEntry.organization_id).where(
            AuditEntry.referral_id == referral.id, AuditEntry.action == "person.read"
        )
    ).all()
    assert set(readers) == ({sender_id} if state == "draft" else {sender_id, receiver_id})


def test_an_id_that_does_not_exist_is_the_same_404_for_everyone(app, session, visitors):
    for visitor in visitors:
        client = signed_in(app, visitor.actor, session)
        for route in ROUTES:
            assert request(client, route, 10**9, "sent").status_code == 404, (str(visitor), route)


def test_every_role_on_the_pages_without_a_referral(app, session, visitors):
    for visitor in visitors:
        client = signed_in(app, visitor.actor, session)
        opens = visitor.role in PREPARERS
        has_organization = visitor.side != "region"
        answers = {
            "dashboard": client.get("/").status_code,
            "inbox": client.get("/referrals/received").status_code,
            "intake": client.get("/referrals/new").status_code,
            "intake (post)": client.post("/referrals/new", data={"action": "suggest"}).status_code,
        }
        assert answers == {
            "dashboard": 302 if visitor.role == Role.PRIVACY_OFFICER else 200,
            "inbox": 200 if has_organization else 403,
            "intake": 200 if opens else 403,
            "intake (post)": 200 if opens else 403,
        }, str(visitor)


def test_strangers_are_asked_to_sign_in_everywhere(client, session, protocols, network, clock):
    referral = referral_in("sent", session, protocols, network, clock)
    for method, path in [
        ("get", "/"),
        ("get", "/referrals/received"),
        ("get", "/referrals/new"),
        ("post", "/referrals/new"),
        ("get", f"/referrals/{referral.id}"),
        ("post", f"/referrals/{referral.id}/actions"),
        ("get", f"/referrals/{referral.id}/edit"),
        ("post", f"/referrals/{referral.id}/edit"),
        ("get", f"/referrals/{referral.id}/consent"),
        ("post", f"/referrals/{referral.id}/consent"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/sign-in"), path

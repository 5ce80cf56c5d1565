"""`/api/v1/referrals`: open, read, list, act on a referral, and read its event log.

Who sees what is decided by the same queries and operations as the pages
(`seen_referrals`, `timeline`, `fire`, `read_person`): a referral another
organization sent or received answers 404 here exactly as one that does not
exist.
"""

from __future__ import annotations

import base64
import binascii
import re

from flask import Response
from flask import request
from flask import url_for
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from service.api import problems
from service.api.blueprint import actor
from service.api.blueprint import answer
from service.api.blueprint import blueprint
from service.api.blueprint import body
from service.api.blueprint import query
from service.api.intake import ConsentTerms
from service.api.intake import InvalidField
from service.api.intake import open_with_consent
from service.api.openapi import documented
from service.api.schemas import ActionOut
from service.api.schemas import DeadlineOut
from service.api.schemas import EventList
from service.api.schemas import EventOut
from service.api.schemas import PersonOut
from service.api.schemas import ReasonOut
from service.api.schemas import ReferralCreate
from service.api.schemas import ReferralFilters
from service.api.schemas import ReferralList
from service.api.schemas import ReferralOut
from service.api.schemas import TriggerIn
from service.errors import ReferralError
from service.protocols import protocol_library
from service.referrals.actors import Actor
from service.referrals.messages import hide_unreadable
from service.referrals.messages import may_read_messages
from service.referrals.models import Referral
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import read_person
from service.referrals.queries import SeenReferral
from service.referrals.queries import referral_page
from service.referrals.queries import seen_referral
from service.referrals.queries import seen_referrals
from service.referrals.queries import shared_with_receiver
from service.referrals.queries import timeline
from service.web.clock import request_clock
from service.web.database import db

TAG = "referrals"
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"')


def represent(referral_id: int, viewer: Actor) -> ReferralOut:
    """The referral as `viewer`'s organization sees it, or ReferralNotFound."""
    seen = seen_referral(
        db(), protocol_library(), referral_id, viewer, language=problems.language(), now=request_clock()()
    )
    return _shown(seen)


def _shown(seen: SeenReferral) -> ReferralOut:
    referral, state = seen.referral, seen.status
    return ReferralOut(
        id=referral.id,
        version=referral.version,
        protocol_name=referral.protocol_name,
        protocol_version=referral.protocol_version,
        state=referral.state,
        state_title=state.state_title,
        finished=state.finished,
        waits_on=state.waits_on,
        deadline=DeadlineOut(
            title=state.deadline.title, due_at=state.deadline.due_at, overdue=state.deadline.overdue
        )
        if state.deadline
        else None,
        urgent=referral.urgent,
        side=seen.side,
        sender_organization_id=referral.sender_organization_id,
        receiver_organization_id=referral.receiver_organization_id,
        needs=sorted(need.code for need in referral.needs),
        consent_valid=seen.consent is not None,
        created_at=referral.created_at,
        sent_at=seen.sent_at,
        redirected_from_id=seen.redirected_from_id,
        redirected_to=seen.redirected_to,
        actions=[
            ActionOut(
                trigger=action.trigger,
                title=action.title,
                dest=action.dest,
                reasons=[
                    ReasonOut(code=r.code, label=r.label, comment_required=r.comment_required)
                    for r in action.reasons
                ],
                comment=action.comment,
                target=action.target,
            )
            for action in seen.actions
        ],
    )


def _etag(referral: ReferralOut) -> dict[str, str]:
    return {"ETag": f'"{referral.version}"'}


def _expected_version() -> int | None:
    """The version `If-Match` names; 0 (never current) when it names none we could have given."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    found = _ETAG.match(header)
    return int(found[1]) if found else 0


@blueprint.post("/referrals")
@documented(
    "Open a referral (a draft), with her consent if given",
    tag=TAG,
    body=ReferralCreate,
    response=ReferralOut,
    status=201,
    etag=True,
    location=True,
    description="The protocol is the one the two organizations agreed, or the standard one. "
    "Fire `send` to share it.",
)
def create() -> Response:
    data = body(ReferralCreate)
    referral = open_with_consent(
        db(),
        protocol_library(),
        actor(),
        receiver_organization_id=data.receiver_organization_id,
        need_codes=data.need_codes,
        urgent=data.urgent,
        protocol=data.protocol,
        person=PersonDetails(**data.person.model_dump()) if data.person else None,
        consent=ConsentTerms(**data.consent.model_dump()) if data.consent else None,
        clock=request_clock(),
    )
    shown = represent(referral.id, actor())
    location = url_for("api.get_referral", referral_id=referral.id)
    return answer(shown, 201, {**_etag(shown), "Location": location})


@blueprint.get("/referrals")
@documented(
    "Referrals the organization sent or received, newest first",
    tag=TAG,
    query=ReferralFilters,
    response=ReferralList,
)
def list_referrals() -> Response:
    filters = query(ReferralFilters)
    viewer = actor()
    # The SQL selects what the pages' access rule lets the key's organization see: what it
    # sent, and what it received once sent (a key always has a role that acts on referrals).
    ids = list(db().scalars(_scan(viewer, filters, _cursor(filters.cursor)).limit(filters.limit + 1)))
    shown = ids[: filters.limit]
    seen = seen_referrals(
        db(), protocol_library(), shown, viewer, language=problems.language(), now=request_clock()()
    )
    items = [_shown(referral) for referral in seen]
    next_cursor = _encode(shown[-1]) if len(ids) > filters.limit else None
    return answer(ReferralList(items=items, next_cursor=next_cursor))


def _scan(viewer: Actor, filters: ReferralFilters, after: int | None):
    organization = viewer.organization_id
    sent = Referral.sender_organization_id == organization
    received = and_(Referral.receiver_organization_id == organization, shared_with_receiver())
    scan = select(Referral.id).where(
        {"sent": sent, "received": received}.get(filters.role or "", or_(sent, received))
    )
    if filters.state:
        scan = scan.where(Referral.state == filters.state)
    if filters.protocol:
        scan = scan.where(Referral.protocol_name == filters.protocol)
    if after is not None:
        scan = scan.where(Referral.id < after)
    return scan.order_by(Referral.id.desc())


def _encode(referral_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{referral_id}".encode()).decode().rstrip("=")


def _cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "before" and number.isdigit() and len(number) < 10:
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidField(["query", "cursor"], problems.HTTP[422].title)


@blueprint.get("/referrals/<int:referral_id>")
@documented(
    "One referral, with the actions the organization may take now", tag=TAG, response=ReferralOut, etag=True
)
def get_referral(referral_id: int) -> Response:
    shown = represent(referral_id, actor())
    return answer(shown, headers=_etag(shown))


@blueprint.post("/referrals/<int:referral_id>/actions")
@documented(
    "Fire one of the referral's actions (send, acknowledge, accept, decline, redirect, ...)",
    tag=TAG,
    body=TriggerIn,
    response=ReferralOut,
    etag=True,
    if_match=True,
    description="With `If-Match`, a referral changed since it was read answers 409 with its current state. "
    "With `Prefer: return=minimal`, a success answers 204 with the new ETag and no body.",
    minimal=True,
)
def fire_action(referral_id: int) -> Response:
    data = body(TriggerIn)
    viewer = actor()
    try:
        referral = fire(
            db(),
            protocol_library(),
            referral_id,
            data.trigger,
            viewer,
            reason=data.reason,
            comment=data.comment,
            target_organization_id=data.target_organization_id,
            expected_version=_expected_version(),
            clock=request_clock(),
        )
    except ReferralError as error:
        # A conflict with the referral's state: say where it stands now, as the page would.
        if problems.kind_of(error).status != 409:
            raise
        current = represent(referral_id, viewer)
        return problems.from_error(error, current=current.model_dump(mode="json"))
    if _minimal():
        # RFC 7240: the client will read the referral when it needs to; the ETag is enough to go on.
        done = Response(status=204)
        done.headers["ETag"] = f'"{referral.version}"'
        done.headers["Preference-Applied"] = "return=minimal"
        return done
    shown = represent(referral_id, viewer)
    return answer(shown, headers=_etag(shown))


def _minimal() -> bool:
    return any(
        part.strip().lower() == "return=minimal" for part in request.headers.get("Prefer", "").split(",")
    )


@blueprint.get("/referrals/<int:referral_id>/events")
@documented("The referral's event log, oldest first", tag=TAG, response=EventList)
def events(referral_id: int) -> Response:
    session, protocols, language, viewer = db(), protocol_library(), problems.language(), actor()
    page = referral_page(session, protocols, referral_id, viewer, language=language, now=request_clock()())
    items = [
        EventOut(
            seq=entry.seq,
            at=entry.at,
            kind=entry.kind,
            trigger=entry.trigger,
            title=entry.title,
            from_state=entry.from_state,
            to_state=entry.to_state,
            state_title=entry.state_title,
            party=entry.party,
            comment=entry.comment,
            reason_code=entry.reason_code,
            reason=entry.reason,
            target_organization_id=entry.target_organization_id,
        )
        for entry in hide_unreadable(
            timeline(session, protocols, page, language),
            may_read_messages(viewer, page.referral, request_clock()()),
        )
    ]
    return answer(EventList(items=items))


@blueprint.get("/referrals/<int:referral_id>/person")
@documented(
    "Her details, for an organization that may see them (the read is audited)",
    tag=TAG,
    response=PersonOut,
    description="The sending organization always may; the receiving one while a consent is valid. "
    "404 when there is nothing it may see.",
)
def person(referral_id: int) -> Response:
    details = read_person(db(), referral_id, actor(), clock=request_clock())
    if details is None:
        raise NotFound()
    return answer(PersonOut(**details.__dict__))

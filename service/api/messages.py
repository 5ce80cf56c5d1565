"""`/api/v1/referrals/{id}/messages`: read and write the messages of a referral.

The same operations as the page (`messages_for`, `write_message`): another organization
answers 404, and the receiving one reads no text once her consent is withdrawn.
"""

from __future__ import annotations

from flask import Response

from service.api.blueprint import actor
from service.api.blueprint import answer
from service.api.blueprint import blueprint
from service.api.blueprint import body
from service.api.openapi import documented
from service.api.schemas import MessageIn
from service.api.schemas import MessageList
from service.api.schemas import MessageOut
from service.referrals.messages import Message
from service.referrals.messages import messages_for
from service.referrals.messages import write_message
from service.web.clock import request_clock
from service.web.database import db

TAG = "referrals"


def _shown(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        at=message.at,
        party=message.party,
        author=message.user_name,
        text=message.text,
        for_coordinator=message.for_coordinator,
    )


@blueprint.get("/referrals/<int:referral_id>/messages")
@documented("The referral's messages, oldest first", tag=TAG, response=MessageList)
def list_messages(referral_id: int) -> Response:
    found = messages_for(db(), referral_id, actor(), now=request_clock()())
    return answer(MessageList(items=[_shown(message) for message in found]))


@blueprint.post("/referrals/<int:referral_id>/messages")
@documented(
    "Write a message to the referral's other organization",
    tag=TAG,
    body=MessageIn,
    response=MessageOut,
    status=201,
    description="Only once the referral is sent (403 before), and while her consent is valid (409). "
    "The other organization is told by email that there is a new message, never its content.",
)
def post_message(referral_id: int) -> Response:
    data = body(MessageIn)
    viewer = actor()
    clock = request_clock()
    event_id = write_message(
        db(), referral_id, viewer, data.text, for_coordinator=data.for_coordinator, clock=clock
    )
    written = next(m for m in messages_for(db(), referral_id, viewer, now=clock()) if m.id == event_id)
    return answer(_shown(written), status=201)

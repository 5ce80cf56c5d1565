"""The form that writes a message on a referral, from its page or a signed link's."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from service.referrals.forms import strip_text
from service.referrals.messages import MAX_LENGTH
from service.web.forms import Form

PREFIX = "message"


class MessageForm(Form):
    """A message to the other organization; made with `prefix=PREFIX`: pages show it beside other forms."""

    text = TextAreaField(
        _l("Message"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Write the message.")),
            Length(max=MAX_LENGTH, message=_l("A message holds at most %(max)d characters.")),
        ],
    )
    for_coordinator = BooleanField(_l("Mark for the other organization's coordinator"))

"""The SMTP client of the worker (`worker.sending.SmtpPostbox`), against aiosmtpd on loopback,
with and without PIPELINING: what arrives, and what each refusal raises, the connection
staying usable for the next message."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession

from tests.worker.conftest import free_port
from tests.worker.conftest import offer_pipelining
from tests.worker.conftest import take_unless_refused
from worker.sending import SmtpPostbox

SENDER = "noreply@maillage.example.org"
MESSAGE = b"Subject: essai\r\n\r\n.une ligne qui commence par un point\r\n..et deux\r\nfin\r\n"


@dataclass
class Server:
    """Takes every message but those from or to an address in `refuse`, or whose subject is "refuse"."""

    pipelining: bool
    received: list[tuple[str, bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_EHLO(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.pipelining:
            return offer_pipelining(session, hostname, responses)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "553 5.7.1 sender not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return take_unless_refused(envelope, address, self.refuse)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        if b"Subject: refuse" in envelope.original_content:
            return "554 5.6.0 message refused"
        self.received.extend((to, envelope.original_content) for to in envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    handler, port = Server(pipelining=request.param), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def postbox(server: tuple[Server, str]) -> Iterator[SmtpPostbox]:
    opened = SmtpPostbox(server[1], f"Maillage <{SENDER}>")
    yield opened
    opened.close()


def test_a_message_arrives_as_it_was_written_dots_included(server, postbox):
    handler, _url = server
    postbox.send(MESSAGE, "accueil@example.org")
    postbox.send(MESSAGE, "direction@example.org")

    assert handler.received == [("accueil@example.org", MESSAGE), ("direction@example.org", MESSAGE)]


@pytest.mark.parametrize(
    ("refused", "message", "error", "code"),
    [
        ("nobody@example.org", MESSAGE, smtplib.SMTPRecipientsRefused, None),
        (SENDER, MESSAGE, smtplib.SMTPSenderRefused, 553),
        ("", b"Subject: refuse\r\n\r\nnon\r\n", smtplib.SMTPDataError, 554),
    ],
    ids=["recipient", "sender", "data"],
)
def test_a_refusal_raises_what_sendmail_raises_and_the_next_message_goes(
    server, postbox, refused, message, error, code
):
    handler, _url = server
    handler.refuse.add(refused)
    with pytest.raises(error) as raised:
        postbox.send(
            message, "nobody@example.org" if refused == "nobody@example.org" else "accueil@example.org"
        )
    if code is None:
        assert raised.value.recipients["nobody@example.org"][0] == 550
    else:
        assert raised.value.smtp_code == code
    handler.refuse.clear()

    postbox.send(MESSAGE, "accueil@example.org")
    assert handler.received == [("accueil@example.org", MESSAGE)]

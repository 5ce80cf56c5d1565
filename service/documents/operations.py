"""Documents attached to a referral: added and read under the rules of her details.

Either of the referral's two organizations adds a document (a signed consent, an assessment the
partner needs) and reads those attached: the sending organization always, the receiving one only
while her consent is valid, as `referrals.operations.read_person` decides for her details. Anyone
else gets `ReferralNotFound`. Each addition is an event of the referral's log; each reading of a
document's bytes is audited ("document.read"). The bytes are encrypted (`sealing`) in the store
(`storage`), under a random key; no email ever carries a document.

Domain code: no Flask.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.documents.content import check_content
from service.documents.content import display_name
from service.documents.models import ReferralDocument
from service.documents.sealing import seal
from service.documents.sealing import unseal
from service.documents.storage import DocumentStore
from service.documents.storage import configured_store
from service.errors import ConsentRequired
from service.errors import ReferralNotFound
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.operations import all_or_nothing
from service.referrals.operations import lock_referral
from service.referrals.operations import log_event
from service.referrals.operations import parties_seeing
from service.referrals.operations import was_sent

log = logging.getLogger(__name__)

DOCUMENT_KIND = "document"
SIDES = ("sender", "receiver")


@dataclass(frozen=True)
class Document:
    """A document as a party of its referral sees it listed."""

    id: int
    name: str
    content_type: str
    size: int
    party: str  # the side that attached it
    added_by: str | None  # None: a partner through a signed link
    added_at: datetime


def _side(actor: Actor, referral: Referral, parties: frozenset[str]) -> str:
    """The side `actor` acts for on `referral`; `ReferralNotFound` for anyone who is neither."""
    side = next((s for s in SIDES if s in parties), None)
    if side is None:
        raise ReferralNotFound(referral.id)
    return side


def may_add(side: str, referral: Referral, now: datetime) -> bool:
    """Whether a side may attach a document now: the sender to its draft or under her consent, the
    receiver under her consent (her consent is what lets the two organizations share her paper)."""
    if side == "sender" and not was_sent(referral):
        return True
    return referral.has_valid_consent(now)


def may_read(side: str, referral: Referral, now: datetime) -> bool:
    """Whether a side reads the documents now: the sender always, the receiver under her consent."""
    return side == "sender" or referral.has_valid_consent(now)


def add_document(
    session: Session,
    referral_id: int,
    actor: Actor,
    *,
    data: bytes,
    sent_name: str,
    max_bytes: int,
    signed_link_id: int | None = None,
    store: DocumentStore | None = None,
    clock: Clock = utcnow,
) -> int:
    """Attach a PDF, JPEG or PNG to the referral; returns the document's id. Commits.

    `DocumentRefused` for a file that is none of them, empty or over `max_bytes`;
    `ConsentRequired` where her consent does not allow it (`may_add`).
    """
    checked = check_content(data, max_bytes=max_bytes)
    # Sealed before the referral is locked: encrypting megabytes is no reason to hold others back.
    sealed = seal(data)
    store = store or configured_store()
    key = secrets.token_hex(16)
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        side = _side(actor, referral, parties_seeing(session, referral, actor))
        now = clock()
        if not may_add(side, referral, now):
            raise ConsentRequired(DOCUMENT_KIND, "consent_recorded")
        store.put(key, sealed)
        try:
            document = ReferralDocument(
                referral_id=referral.id,
                key=key,
                name=display_name(sent_name, checked),
                content_type=checked.content_type,
                size=len(data),
                party=side,
                added_by_id=actor.user_id,
                added_at=now,
            )
            session.add(document)
            session.flush()
            log_event(session, referral, kind=DOCUMENT_KIND, trigger=None, actor=actor, party=side, at=now)
            audit(
                session, "document.added", actor, now, referral_id=referral.id, signed_link_id=signed_link_id
            )
            session.commit()
        except BaseException:
            # Nothing refers to the bytes written: they go with the rows that failed.
            store.delete(key)
            raise
    return document.id


def documents_for(
    session: Session, referral_id: int, actor: Actor, *, now: datetime
) -> list[Document] | None:
    """The referral's documents for one of its parties, oldest first; None where her consent hides
    them from the reader's side; `ReferralNotFound` for anyone else."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise ReferralNotFound(referral_id)
    side = _side(actor, referral, parties_seeing(session, referral, actor))
    if not may_read(side, referral, now):
        return None
    rows = session.execute(
        select(ReferralDocument, User.name)
        .outerjoin(User, User.id == ReferralDocument.added_by_id)
        .where(ReferralDocument.referral_id == referral_id)
        .order_by(ReferralDocument.id)
    ).all()
    return [_listed(document, name) for document, name in rows]


def read_document(
    session: Session,
    referral_id: int,
    document_id: int,
    actor: Actor,
    *,
    signed_link_id: int | None = None,
    store: DocumentStore | None = None,
    clock: Clock = utcnow,
) -> tuple[Document, bytes]:
    """One document and its bytes, for a party that may read it, with the read audited. Commits.

    `ReferralNotFound` for anyone else, for a document of another referral and for one whose
    bytes are gone; `ConsentRequired` for the receiving side once her consent no longer holds.
    """
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise ReferralNotFound(referral_id)
    side = _side(actor, referral, parties_seeing(session, referral, actor))
    row = session.execute(
        select(ReferralDocument, User.name)
        .outerjoin(User, User.id == ReferralDocument.added_by_id)
        .where(ReferralDocument.id == document_id, ReferralDocument.referral_id == referral_id)
    ).one_or_none()
    if row is None:
        raise ReferralNotFound(referral_id)
    now = clock()
    if not may_read(side, referral, now):
        raise ConsentRequired(DOCUMENT_KIND, "consent_recorded")
    document, name = row
    try:
        sealed = (store or configured_store()).get(document.key)
    except FileNotFoundError:
        log.warning("document %d of referral %d: its bytes are not in the store", document.id, referral_id)
        raise ReferralNotFound(referral_id) from None
    data = unseal(sealed)
    audit(session, "document.read", actor, now, referral_id=referral_id, signed_link_id=signed_link_id)
    session.commit()
    return _listed(document, name), data


def _listed(document: ReferralDocument, added_by: str | None) -> Document:
    return Document(
        id=document.id,
        name=document.name,
        content_type=document.content_type,
        size=document.size,
        party=document.party,
        added_by=added_by,
        added_at=document.added_at,
    )

"""A partner without an account downloads a document of the referral her signed link serves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.clock import Clock
from service.clock import utcnow
from service.documents.operations import Document
from service.documents.operations import read_document
from service.documents.storage import DocumentStore
from service.errors import ReferralError
from service.links.operations import link_holder
from service.links.operations import resolve_link


def read_through_link(
    session: Session,
    token: str,
    document_id: int,
    *,
    store: DocumentStore | None = None,
    clock: Clock = utcnow,
) -> tuple[Document, bytes]:
    """One document of the link's referral, read as its receiving organization, audited with the link.

    The same rules as for an account of that organization (`read_document`): under her consent only.
    """
    link = resolve_link(session, token, clock=clock, lock=True)
    link.last_used_at = clock()
    try:
        return read_document(
            session,
            link.referral_id,
            document_id,
            link_holder(link),
            signed_link_id=link.id,
            store=store,
            clock=clock,
        )
    except ReferralError:
        session.rollback()
        raise

"""Erasing a referral's documents: their rows and their bytes, none left in the store.

Used by the retention purge and her erasure (`referrals.retention.erase_personal_data`) and by the
withdrawal of her consent (`referrals.operations.withdraw_consent`), in the caller's transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.documents.models import ReferralDocument
from service.documents.storage import DocumentStore
from service.documents.storage import configured_store

log = logging.getLogger(__name__)


def erase_documents(session: Session, referral_id: int, store: DocumentStore | None = None) -> int:
    """Delete the referral's documents, rows and bytes; returns how many. The caller commits.

    The bytes go first, before the caller's commit: should the commit then fail, the rows stay,
    pointing at nothing, and the next purge finds and deletes them again. The other order could
    leave her paper in the store with no row to find it by.
    """
    keys = list(
        session.scalars(select(ReferralDocument.key).where(ReferralDocument.referral_id == referral_id))
    )
    if not keys:
        return 0
    store = store or configured_store()
    for key in keys:
        store.delete(key)
    session.execute(delete(ReferralDocument).where(ReferralDocument.referral_id == referral_id))
    log.info("%d document(s) of referral %d erased", len(keys), referral_id)
    return len(keys)

"""Her rights over what Maillage holds about her: access, portability, correction, erasure (Law 25).

A woman asks the organization that referred her. Its coordinator, or its
privacy officer (who answers access requests under the law), finds the
referrals about her (by number, by name) among those her organization sent,
never another's, and then, for the referrals she picks:

- `person_file` gathers everything held about her on them: her details, her
  consents, the event log, the emergency exception if any, the documents
  attached; shown as a page or downloaded as JSON (`as_json`, the documents'
  bytes in it);

and the coordinator alone changes them:

- `correct_person` corrects her details on one referral;
- `erase_person` erases her personal data from finished referrals, as the
  retention purge does (`erase_personal_data`): the anonymized record stays,
  and with it the network's figures.

Every search, read, export, correction and erasure is in the audit trail.

Domain code: no Flask.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from service.accounts.models import Role
from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Organization
from service.documents.models import ReferralDocument
from service.documents.sealing import unseal
from service.documents.storage import DocumentStore
from service.documents.storage import configured_store
from service.errors import ConcurrentUpdate
from service.errors import NotAllowed
from service.errors import ReferralError
from service.errors import ReferralNotFound
from service.referrals.actors import Actor
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import PersonDetails
from service.referrals.operations import all_or_nothing
from service.referrals.operations import details_of
from service.referrals.operations import lock_referral
from service.referrals.operations import log_event
from service.referrals.queries import event_words
from service.referrals.retention import erase_personal_data
from workflows.loader import ProtocolLibrary

# Who answers her requests to see her file (access, portability): the coordinator of the
# organization that referred her, and its privacy officer, in charge of answering them (Law 25).
MAY_ANSWER = frozenset({Role.COORDINATOR, Role.PRIVACY_OFFICER})
# Who corrects and erases: the coordinator, whose organization acts on the referrals.
MAY_CHANGE = frozenset({Role.COORDINATOR})
CORRECTED_KIND = "corrected"
ERASED_KIND = "erased"
FORMAT_VERSION = 1


class StillOpen(ReferralError):
    """Erasure asked for referrals not finished yet: cancel or close them first."""

    def __init__(self, referral_ids: list[int]) -> None:
        self.referral_ids = referral_ids
        super().__init__(f"referrals still open: {referral_ids}")


def _may_answer(actor: Actor, roles: frozenset[str] = MAY_ANSWER) -> None:
    if actor.role not in roles or actor.organization_id is None:
        raise NotAllowed("person_rights", frozenset())


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


# Lowercase ASCII letters and digits that no other character case-folds to: not "s" ("ß" folds to
# "ss"), "i" ("İ"), "k" (the Kelvin sign), "f" and "l" (ligatures), and a few more. A name holding
# one of them holds that very letter, in one case or the other: a case-insensitive LIKE finds it
# in SQL, where case folding is not Python's. (tests/service/test_person_rights.py checks this
# list against Python's Unicode tables.)
_FOLD_STABLE = frozenset("bcdegmopqruvxz0123456789")


def _name_pattern(wanted: str) -> str | None:
    """A LIKE pattern matched by every name whose normalized form holds `wanted` (normalized), and
    by some others: its fold-stable characters in order, neighbours kept together, `%` for the rest.
    None when it has no such character to look for."""
    pattern = re.sub("%+", "%", "".join(c if c in _FOLD_STABLE else "%" for c in f"%{wanted}%"))
    return None if pattern == "%" else pattern


# Finding her -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """A referral of the organization about a woman whose name matches the search."""

    referral_id: int
    name: str
    created_at: datetime
    receiver_name: str
    state_title: str


def find_person(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    number: int | None = None,
    name: str = "",
    language: str = "fr",
    clock: Clock = utcnow,
) -> list[Match]:
    """The referrals her organization sent with her details, by number and/or part of her name.

    Whatever the case and spacing of the name. Each referral found is a read of
    her name, audited ("person.searched").

    Names are stored as typed: SQL keeps the names that may match (`_name_pattern`), and
    Python's case folding, the rule, decides among those few.
    """
    _may_answer(actor)
    wanted = _normalized(name)
    query = (
        select(Referral, ReferralPerson, Organization.name)
        .join(ReferralPerson, ReferralPerson.referral_id == Referral.id)
        .join(Organization, Organization.id == Referral.receiver_organization_id)
        .where(Referral.sender_organization_id == actor.organization_id)
        .order_by(Referral.id.desc())
    )
    if number is not None:
        query = query.where(Referral.id == number)
    pattern = _name_pattern(wanted)
    if pattern is not None:
        query = query.where(ReferralPerson.name.ilike(pattern))
    found = []
    for referral, person, receiver_name in session.execute(query):
        if wanted and wanted not in _normalized(person.name):
            continue
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        found.append(
            Match(
                referral_id=referral.id,
                name=person.name,
                created_at=referral.created_at,
                receiver_name=receiver_name,
                state_title=protocol.states[referral.state].title.in_language(language),
            )
        )
    now = clock()
    for match in found:
        audit(session, "person.searched", actor, now, referral_id=match.referral_id)
    session.commit()
    return found


def own_referrals(session: Session, actor: Actor, referral_ids: Iterable[int]) -> list[Referral]:
    """These referrals, all sent by the actor's organization; ReferralNotFound for the first that is not."""
    ids = sorted(set(referral_ids))
    if not ids:
        raise ReferralNotFound(0)
    referrals = {
        r.id: r
        for r in session.scalars(
            select(Referral)
            .where(Referral.id.in_(ids))
            # Her file shows each referral's needs and whether it went out in an emergency.
            .options(selectinload(Referral.needs), selectinload(Referral.emergency))
        )
    }
    for referral_id in ids:
        referral = referrals.get(referral_id)
        if referral is None or referral.sender_organization_id != actor.organization_id:
            raise ReferralNotFound(referral_id)
    return [referrals[i] for i in ids]


# Her file --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentRecord:
    method: str
    shared_with: str
    purpose: str
    given_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class EventRecord:
    at: datetime
    kind: str
    trigger: str | None
    state: str
    reason_code: str | None
    comment: str | None
    # The same in words, as the referral's timeline says them (`event_words`).
    title: str | None
    state_title: str
    reason: str | None


@dataclass(frozen=True)
class DocumentRecord:
    name: str
    content_type: str
    size: int
    added_at: datetime
    added_by: str  # the side that attached it: "sender" or "receiver"
    content_base64: str | None  # in the download only (`export`)


@dataclass(frozen=True)
class ReferralRecord:
    """One referral about her, with everything Maillage holds on it."""

    number: int
    created_at: datetime
    state: str
    state_title: str
    protocol: str
    protocol_version: int
    urgent: bool
    sent_by: str
    sent_to: str
    needs: list[str]
    person: PersonDetails | None  # None once erased
    consents: list[ConsentRecord]
    sent_without_consent_at: datetime | None
    events: list[EventRecord]
    documents: list[DocumentRecord]


@dataclass(frozen=True)
class PersonFile:
    generated_at: datetime
    organization: str
    referrals: list[ReferralRecord]


def person_file(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    referral_ids: Iterable[int],
    *,
    export: bool = False,
    language: str = "fr",
    store: DocumentStore | None = None,
    clock: Clock = utcnow,
) -> PersonFile:
    """Everything held about her on these referrals of the actor's organization.

    Audited per referral: "person.read" for the page, "person.exported" for a download,
    which carries the documents' bytes too.
    """
    _may_answer(actor)
    referrals = own_referrals(session, actor, referral_ids)
    ids = [r.id for r in referrals]
    names = dict(session.execute(select(Organization.id, Organization.name)).all())
    people = {
        p.referral_id: p
        for p in session.scalars(select(ReferralPerson).where(ReferralPerson.referral_id.in_(ids)))
    }
    consents: dict[int, list[ConsentRecord]] = {}
    for consent in session.scalars(select(Consent).where(Consent.referral_id.in_(ids)).order_by(Consent.id)):
        consents.setdefault(consent.referral_id, []).append(
            ConsentRecord(
                consent.method,
                consent.shared_with,
                consent.purpose,
                consent.given_at,
                consent.expires_at,
                consent.withdrawn_at,
            )
        )
    events: dict[int, list[EventRecord]] = {}
    protocol_of = {r.id: protocols.get(r.protocol_name, r.protocol_version) for r in referrals}
    query = (
        select(ReferralEvent)
        .where(ReferralEvent.referral_id.in_(ids))
        .order_by(ReferralEvent.referral_id, ReferralEvent.seq)
    )
    for event in session.scalars(query):
        words = event_words(protocol_of[event.referral_id], event, language)
        events.setdefault(event.referral_id, []).append(
            EventRecord(
                at=event.at,
                kind=event.kind,
                trigger=event.trigger,
                state=event.to_state,
                reason_code=event.reason_code,
                comment=event.comment,
                title=words.title,
                state_title=words.state_title,
                reason=words.reason,
            )
        )
    documents: dict[int, list[DocumentRecord]] = {}
    query = (
        select(ReferralDocument).where(ReferralDocument.referral_id.in_(ids)).order_by(ReferralDocument.id)
    )
    for document in session.scalars(query):
        documents.setdefault(document.referral_id, []).append(
            DocumentRecord(
                name=document.name,
                content_type=document.content_type,
                size=document.size,
                added_at=document.added_at,
                added_by=document.party,
                content_base64=_content(document, store) if export else None,
            )
        )
    records = []
    for referral in referrals:
        protocol = protocol_of[referral.id]
        person = people.get(referral.id)
        records.append(
            ReferralRecord(
                number=referral.id,
                created_at=referral.created_at,
                state=referral.state,
                state_title=protocol.states[referral.state].title.in_language(language),
                protocol=referral.protocol_name,
                protocol_version=referral.protocol_version,
                urgent=referral.urgent,
                sent_by=names[referral.sender_organization_id],
                sent_to=names[referral.receiver_organization_id],
                needs=sorted(n.label_en if language == "en" else n.label_fr for n in referral.needs),
                person=details_of(person) if person is not None else None,
                consents=consents.get(referral.id, []),
                sent_without_consent_at=referral.emergency.decided_at if referral.emergency else None,
                events=events.get(referral.id, []),
                documents=documents.get(referral.id, []),
            )
        )
    now = clock()
    for referral_id in ids:
        audit(session, "person.exported" if export else "person.read", actor, now, referral_id=referral_id)
    session.commit()
    return PersonFile(generated_at=now, organization=names[actor.organization_id], referrals=records)


def _content(document: ReferralDocument, store: DocumentStore | None) -> str | None:
    """A document's bytes in base64, for her file's download; None when they are gone from the store."""
    try:
        sealed = (store or configured_store()).get(document.key)
    except FileNotFoundError:
        return None
    return base64.b64encode(unseal(sealed)).decode("ascii")


def as_json(file: PersonFile) -> dict[str, Any]:
    """Her file as a JSON document: plain keys, ISO 8601 times in UTC."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return {"format": "maillage-person-file", "version": FORMAT_VERSION, **plain(asdict(file))}


# Correcting and erasing ------------------------------------------------------------------


def correct_person(
    session: Session,
    referral_id: int,
    actor: Actor,
    details: PersonDetails,
    *,
    expected_version: int | None = None,
    clock: Clock = utcnow,
) -> Referral:
    """Correct her details on one referral her organization sent: in the event log, audited. Commits.

    The receiving organization sees the corrected details (while her consent holds).
    A referral whose data was erased has nothing left to correct (`ReferralNotFound`).
    """
    _may_answer(actor, MAY_CHANGE)
    with all_or_nothing(session, referral_id):
        referral = lock_referral(session, referral_id, actor)
        if referral.sender_organization_id != actor.organization_id:
            raise ReferralNotFound(referral_id)
        if expected_version is not None and referral.version != expected_version:
            raise ConcurrentUpdate(referral_id)
        stored = session.get(ReferralPerson, referral_id)
        if stored is None:
            raise ReferralNotFound(referral_id)
        for name, value in asdict(details).items():
            setattr(stored, name, value)
        now = clock()
        log_event(
            session,
            referral,
            kind=CORRECTED_KIND,
            trigger=None,
            actor=actor,
            party="sender",
            at=now,
        )
        audit(session, "person.corrected", actor, now, referral_id=referral_id)
        session.commit()
    return referral


def erase_person(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    referral_ids: Iterable[int],
    *,
    clock: Clock = utcnow,
) -> list[int]:
    """Erase her personal data from these finished referrals of the actor's organization. Commits once.

    All or none: a referral not finished yet (`StillOpen`) is still being acted
    on with her, so it must be cancelled or closed first. Each erasure is in
    the referral's event log ("erased") and the audit trail ("person.erased").
    """
    _may_answer(actor, MAY_CHANGE)
    try:
        referrals = own_referrals(session, actor, referral_ids)
        open_ids = [
            r.id
            for r in referrals
            if not protocols.get(r.protocol_name, r.protocol_version).is_terminal(r.state)
        ]
        if open_ids:
            raise StillOpen(open_ids)
        now = clock()
        for found in referrals:
            referral = lock_referral(session, found.id, actor)
            erase_personal_data(session, referral.id)
            log_event(
                session,
                referral,
                kind=ERASED_KIND,
                trigger=None,
                actor=actor,
                party="sender",
                at=now,
            )
            audit(session, "person.erased", actor, now, referral_id=referral.id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return [r.id for r in referrals]

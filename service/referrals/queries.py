"""What the referral pages read: lists, suggestions, one referral's page and its timeline.

Nothing here changes data or reads the woman's details for display (that is
`operations.read_person`, which audits the read). Every function that takes
an actor shows her only what her organization sent or received.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm import selectinload

from service.accounts.models import Role
from service.accounts.models import User
from service.db import without_parallel_workers
from service.directory.agreements import current_agreement
from service.directory.agreements import partner_ids
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.directory.models import service_needs
from service.errors import ReferralNotFound
from service.referrals.actors import REFERRAL_ROLES
from service.referrals.actors import SYSTEM
from service.referrals.actors import Actor
from service.referrals.models import LISTED_COLUMNS
from service.referrals.models import Consent
from service.referrals.models import Referral
from service.referrals.models import ReferralEvent
from service.referrals.models import ReferralPerson
from service.referrals.operations import REDIRECT_GUARD
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition
from workflows.schema import StateSpec
from workflows.schema import inline

# Where there is no agreement between the two organizations.
DEFAULT_PROTOCOL = "standard"
DEFAULT_URGENT_PROTOCOL = "urgent"
# States that end a referral badly, for the pages to style their buttons with care.
SOBERING_STATES = frozenset({"declined", "redirected", "cancelled"})
# How many referrals each part of the dashboard shows a page.
DASHBOARD_PAGE_SIZE = 50
# How many received referrals the inbox shows a page.
INBOX_PAGE_SIZE = 50


def _label(fr: str, en: str, language: str) -> str:
    return en if language == "en" else fr


def _side(parties: frozenset[str]) -> str:
    return "sender" if "sender" in parties or "sender_coordinator" in parties else "receiver"


# The intake form ------------------------------------------------------------------


@dataclass(frozen=True)
class NeedGroup:
    code: str
    needs: list[tuple[str, str]]  # (code, label)


def needs_by_group(session: Session, language: str, keep: Iterable[str] = ()) -> list[NeedGroup]:
    """The active needs (and any in `keep`, e.g. a draft's), grouped as the taxonomy groups them."""
    kept = list(keep)
    query = select(Need).where(or_(Need.active.is_(True), Need.code.in_(kept))).order_by(Need.code)
    groups: dict[str, list[tuple[str, str]]] = {}
    for need in session.scalars(query):
        groups.setdefault(need.group, []).append((need.code, _label(need.label_fr, need.label_en, language)))
    return [NeedGroup(code, sorted(needs, key=lambda n: n[1])) for code, needs in groups.items()]


def need_labels(session: Session, codes: Iterable[str], language: str) -> list[str]:
    query = select(Need).where(Need.code.in_(list(codes)))
    return sorted(_label(n.label_fr, n.label_en, language) for n in session.scalars(query))


def organization_choices(session: Session, excluding: Iterable[int | None] = ()) -> list[tuple[int, str]]:
    """(id, name) of every organization of the directory but `excluding`, by name."""
    left_out = [i for i in excluding if i is not None]
    query = select(Organization.id, Organization.name).order_by(Organization.name)
    if left_out:
        query = query.where(Organization.id.not_in(left_out))
    return [(row.id, row.name) for row in session.execute(query)]


@dataclass(frozen=True)
class Suggestion:
    """A partner whose services cover some of her needs, with its capacity ("unknown" when not said)."""

    organization_id: int
    name: str
    capacity_status: str
    covered: tuple[str, ...]


def partner_suggestions(
    session: Session, sender_organization_id: int, need_codes: Iterable[str]
) -> list[Suggestion]:
    """Organizations in an active partnership with the sender whose services cover the needs.

    Those covering the most needs first, then by name.
    """
    codes = list(need_codes)
    partners = partner_ids(session, sender_organization_id)
    if not codes or not partners:
        return []
    rows = session.execute(
        select(Organization.id, Organization.name, Organization.capacity_status, service_needs.c.need_code)
        .join(Service, Service.organization_id == Organization.id)
        .join(service_needs, service_needs.c.service_id == Service.id)
        .where(Organization.id.in_(partners), service_needs.c.need_code.in_(codes))
    )
    found: dict[int, tuple[str, str, set[str]]] = {}
    for row in rows:
        *_, covered = found.setdefault(row.id, (row.name, row.capacity_status or "unknown", set()))
        covered.add(row.need_code)
    suggestions = [
        Suggestion(organization_id, name, status, tuple(sorted(covered)))
        for organization_id, (name, status, covered) in found.items()
    ]
    return sorted(suggestions, key=lambda s: (-len(s.covered), s.name))


@dataclass(frozen=True)
class ProtocolChoice:
    """The protocol a new referral follows, its parameters, and the agreement they come from."""

    name: str
    parameters: dict[str, str]
    agreement_id: int | None


def protocol_for(
    session: Session,
    sender_id: int,
    receiver_id: int,
    *,
    urgent: bool,
    on: date,
    override: str | None = None,
) -> ProtocolChoice:
    """What the two organizations agreed for referrals on `on`, or the standard (urgent) protocol.

    The agreement's parameters were set for its main protocol, so they apply
    only to it; its urgent protocol, when another one, runs with its defaults.
    A coordinator's `override` for another protocol leaves the agreement aside.
    """
    agreement = current_agreement(session, sender_id, receiver_id, on)
    if agreement is None:
        return ProtocolChoice(override or (DEFAULT_URGENT_PROTOCOL if urgent else DEFAULT_PROTOCOL), {}, None)
    name = agreement.urgent_protocol_name if urgent else agreement.protocol_name
    if override and override != name:
        return ProtocolChoice(override, {}, None)
    parameters = dict(agreement.parameters) if name == agreement.protocol_name else {}
    return ProtocolChoice(name, parameters, agreement.id)


# One referral ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonChoice:
    code: str
    label: str
    comment_required: bool


@dataclass(frozen=True)
class ActionInfo:
    """One button the protocol offers: what it needs (a reason, a comment, an organization)."""

    trigger: str
    title: str
    dest: str
    reasons: tuple[ReasonChoice, ...]
    comment: str  # "none", "optional" or "required"
    target: str | None  # "required" for a redirect, "optional" for a decline's suggestion
    sobering: bool


def action_info(protocol: Protocol, transition: Transition, language: str) -> ActionInfo:
    reasons = protocol.reasons.get(transition.reason, {}) if transition.reason else {}
    if REDIRECT_GUARD in transition.guards:
        target = "required"
    elif transition.dest == "declined":
        target = "optional"
    else:
        target = None
    return ActionInfo(
        trigger=transition.trigger,
        title=transition.title.in_language(language),
        dest=transition.dest,
        reasons=tuple(
            ReasonChoice(code, _label(r.fr, r.en, language), r.comment_required)
            for code, r in reasons.items()
        ),
        comment=transition.comment,
        target=target,
        sobering=transition.dest in SOBERING_STATES,
    )


def actions_for(protocol: Protocol, state: str, parties: frozenset[str], language: str) -> list[ActionInfo]:
    """The actions these parties may take now, as the page shows them."""
    return [action_info(protocol, t, language) for t in protocol.available(state, parties)]


@dataclass(frozen=True)
class DeadlineInfo:
    title: str
    due_at: datetime  # the deadline itself: its first step, the reminder
    overdue: bool


@dataclass(frozen=True)
class Status:
    """Where a referral stands for someone looking at it at `now`."""

    state_title: str
    finished: bool
    waits_on: str | None  # the party: "sender" or "receiver"
    deadline: DeadlineInfo | None


def status(protocol: Protocol, referral: Referral, language: str, now: datetime) -> Status:
    spec = protocol.states[referral.state]
    deadline = None
    if spec.deadline is not None and not spec.terminal:
        due = protocol.due_at(referral.state, referral.state_entered_at, 0, referral.parameters)
        if due is not None:
            deadline = DeadlineInfo(spec.deadline.title.in_language(language), due, due <= now)
    return Status(
        state_title=spec.title.in_language(language),
        finished=spec.terminal,
        waits_on=None if spec.terminal else spec.waits_on,
        deadline=deadline,
    )


@dataclass(frozen=True)
class SeenReferral:
    """A referral as the viewer's organization sees it: where it stands and what the viewer may do now."""

    referral: Referral
    protocol: Protocol
    parties: frozenset[str]
    side: str  # "sender" or "receiver": the viewer's side
    status: Status
    actions: list[ActionInfo]
    consent: Consent | None  # the newest one valid now
    sent_at: datetime | None
    redirected_from_id: int | None  # only when the viewer may see that referral
    redirected_to: list[int]  # the linked referrals the viewer may see


def seen_referrals(
    session: Session,
    protocols: ProtocolLibrary,
    referral_ids: Iterable[int],
    actor: Actor,
    *,
    language: str,
    now: datetime,
) -> list[SeenReferral]:
    """Those of `referral_ids` that `actor` may see, in their order: a few queries, however many."""
    wanted = list(dict.fromkeys(referral_ids))
    if not wanted:
        return []
    loaded = {
        referral.id: referral
        for referral in session.scalars(
            select(Referral)
            .where(Referral.id.in_(wanted))
            .options(selectinload(Referral.needs), selectinload(Referral.consents))
        )
    }
    if not loaded:
        return []
    originals = {r.redirected_from_id for r in loaded.values() if r.redirected_from_id is not None}
    related = session.scalars(
        select(Referral)
        .where(or_(Referral.id.in_(originals), Referral.redirected_from_id.in_(list(loaded))))
        .order_by(Referral.id)
    ).all()
    everyone = {r.id: r for r in related} | loaded
    linked: dict[int, list[int]] = {}
    for referral in related:
        if referral.redirected_from_id in loaded:
            linked.setdefault(referral.redirected_from_id, []).append(referral.id)

    def seeing(referral: Referral) -> frozenset[str]:
        return actor.parties_seeing(referral, sent=referral.sent_at is not None) - {SYSTEM}

    seen = []
    for referral in (loaded[i] for i in wanted if i in loaded):
        parties = seeing(referral)
        if not parties:
            continue
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        original = referral.redirected_from_id
        valid = [c for c in referral.consents if c.is_valid(now)]
        seen.append(
            SeenReferral(
                referral=referral,
                protocol=protocol,
                parties=parties,
                side=_side(parties),
                status=status(protocol, referral, language, now),
                actions=actions_for(protocol, referral.state, parties, language),
                consent=valid[-1] if valid else None,
                sent_at=referral.sent_at,
                redirected_from_id=original if original in everyone and seeing(everyone[original]) else None,
                redirected_to=[i for i in linked.get(referral.id, []) if seeing(everyone[i])],
            )
        )
    return seen


def seen_referral(
    session: Session,
    protocols: ProtocolLibrary,
    referral_id: int,
    actor: Actor,
    *,
    language: str,
    now: datetime,
) -> SeenReferral:
    """One referral as `actor` sees it, or `ReferralNotFound` if she may not see it."""
    seen = seen_referrals(session, protocols, [referral_id], actor, language=language, now=now)
    if not seen:
        raise ReferralNotFound(referral_id)
    return seen[0]


@dataclass(frozen=True)
class ReferralPage(SeenReferral):
    """What the page of one referral shows, but her details and the timeline.

    The signed-link page can show the same: it needs only an actor with the
    receiving organization's party.
    """

    sender: Organization
    receiver: Organization
    protocol_title: str
    needs: list[str]
    agreement: ReferralAgreement | None
    opened_by: str | None  # the name of the person who opened it

    @property
    def waits_on_viewer(self) -> bool:
        return self.status.waits_on == self.side

    @property
    def waiting_on(self) -> Organization | None:
        if self.status.waits_on is None:
            return None
        return self.sender if self.status.waits_on == "sender" else self.receiver

    @property
    def is_draft(self) -> bool:
        return self.referral.state == self.protocol.initial


def referral_page(
    session: Session,
    protocols: ProtocolLibrary,
    referral_id: int,
    actor: Actor,
    *,
    language: str,
    now: datetime,
) -> ReferralPage:
    """The page data of one referral for `actor`, or `ReferralNotFound` if she may not see it."""
    seen = seen_referral(session, protocols, referral_id, actor, language=language, now=now)
    referral = seen.referral
    return ReferralPage(
        **{field.name: getattr(seen, field.name) for field in fields(SeenReferral)},
        sender=session.get_one(Organization, referral.sender_organization_id),
        receiver=session.get_one(Organization, referral.receiver_organization_id),
        protocol_title=seen.protocol.spec.title.in_language(language),
        needs=sorted(_label(n.label_fr, n.label_en, language) for n in referral.needs),
        agreement=session.get(ReferralAgreement, referral.agreement_id) if referral.agreement_id else None,
        opened_by=session.scalar(select(User.name).where(User.id == referral.created_by_id))
        if referral.created_by_id
        else None,
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the event log as the page says it."""

    seq: int
    at: datetime
    kind: str  # "opened", "edited", "transition", "reminder", "escalation"
    trigger: str | None  # the protocol's name of the transition
    title: str | None  # what the transition did ("Envoyé"), or the deadline's title for a reminder
    from_state: str | None
    to_state: str
    state_title: str
    user_name: str | None  # None: the system, or a partner through a signed link
    party: str
    organization_name: str | None  # the organization of the party that acted
    comment: str | None
    reason_code: str | None
    reason: str | None  # what the code says, in the page's language
    target_organization_id: int | None
    target_organization: str | None
    target_is_redirect: bool  # where she was redirected, rather than a resource a decline suggests
    from_redirect: bool  # the draft opened by redirecting another referral
    redirected_from_id: int | None  # that referral, when the viewer may see it


def timeline(
    session: Session, protocols: ProtocolLibrary, page: ReferralPage, language: str
) -> list[TimelineEntry]:
    """The referral's event log, oldest first, in `language`."""
    referral, protocol = page.referral, page.protocol
    rows = session.execute(
        select(ReferralEvent, User.name)
        .outerjoin(User, User.id == ReferralEvent.actor_user_id)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq)
    ).all()
    targets = {e.target_organization_id for e, _ in rows if e.target_organization_id is not None}
    names = dict(
        session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(targets))).all()
    )
    entries = []
    for event, user_name in rows:
        transition = transition_of(protocol, event)
        words = event_words(protocol, event, language)
        party = event.actor_party
        organization = {"sender": page.sender.name, "receiver": page.receiver.name}.get(party)
        from_redirect = event.kind == "opened" and referral.redirected_from_id is not None
        entries.append(
            TimelineEntry(
                seq=event.seq,
                at=event.at,
                kind=event.kind,
                trigger=event.trigger,
                title=words.title,
                from_state=event.from_state,
                to_state=event.to_state,
                state_title=words.state_title,
                user_name=user_name,
                party=party,
                organization_name=organization,
                comment=None if from_redirect else event.comment,
                reason_code=event.reason_code,
                reason=words.reason,
                target_organization_id=event.target_organization_id,
                target_organization=names.get(event.target_organization_id),
                target_is_redirect=transition is not None and REDIRECT_GUARD in transition.guards,
                from_redirect=from_redirect,
                redirected_from_id=page.redirected_from_id if from_redirect else None,
            )
        )
    return entries


@dataclass(frozen=True)
class EventWords:
    """What a logged event did, in a reader's words rather than the protocol's codes."""

    title: str | None  # what the transition did ("Envoyé"), or the deadline's title for a reminder
    state_title: str  # the state it left the referral in
    reason: str | None  # what the reason code says


def event_words(protocol: Protocol, event: ReferralEvent, language: str) -> EventWords:
    """The words the timeline and her file show for one logged event, in `language`."""
    transition = transition_of(protocol, event)
    title = transition.done.in_language(language) if transition else None
    if event.kind in ("reminder", "escalation") and event.from_state in protocol.states:
        deadline = protocol.states[event.from_state].deadline
        # Shown after a colon ("Rappel : accuser réception").
        title = inline(deadline.title.in_language(language)) if deadline else None
    reason = None
    if transition and transition.reason and event.reason_code:
        coded = protocol.reasons.get(transition.reason, {}).get(event.reason_code)
        reason = _label(coded.fr, coded.en, language) if coded else event.reason_code
    state = protocol.states.get(event.to_state)
    return EventWords(
        title=title,
        state_title=state.title.in_language(language) if state else event.to_state,
        reason=reason,
    )


def transition_of(protocol: Protocol, event: ReferralEvent) -> Transition | None:
    """The transition a logged event records: the one from the event's state, else one of its trigger."""
    if event.kind != "transition" or event.trigger is None:
        return None
    matching = [t for t in protocol.transitions if t.trigger == event.trigger]
    exact = [t for t in matching if t.dest == event.to_state and event.from_state in t.sources]
    return (exact or matching or [None])[0]


# Lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedReferral:
    """A line of a list of referrals: never her name, nor anything that could identify her."""

    id: int
    direction: str  # "sent" or "received", from the viewer's organization
    partner_name: str
    needs: list[str]
    urgent: bool
    status: Status
    waits_on_us: bool
    created_at: datetime
    sent_at: datetime | None

    @property
    def overdue(self) -> bool:
        return self.status.deadline is not None and self.status.deadline.overdue


@dataclass(frozen=True)
class Listing:
    """One page of one part of the dashboard, and how many referrals the whole part holds."""

    rows: list[ListedReferral]
    total: int
    page: int  # from 1, always a page that exists (the first one when the part is empty)
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def nearest(self, page: int) -> int:
        """The page that exists nearest to `page`."""
        return min(max(page, 1), self.pages)

    def numbers(self, around: int = 2) -> list[int | None]:
        """The page numbers to offer: the first, the last and those near this one; None for a gap."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers: list[int | None] = []
        for number in sorted(n for n in shown if 1 <= n <= self.pages):
            if numbers and number - 1 != numbers[-1]:
                numbers.append(None)
            numbers.append(number)
        return numbers


DASHBOARD_PARTS = ("ours", "theirs", "finished")


@dataclass(frozen=True)
class Dashboard:
    parts: dict[str, Listing]  # by `DASHBOARD_PARTS`: waiting on us, waiting on the partner, finished


def shared_with_receiver(of: Any = Referral) -> ColumnElement[bool]:
    """The referral was sent, so its receiving organization sees it (`Actor.parties_seeing`, in SQL).

    `of`: the referrals table or an alias of it, here and in the other SQL rules below.
    """
    return of.sent_at.is_not(None)


def in_states(
    protocols: ProtocolLibrary,
    which: Callable[[StateSpec], bool],
    of: Any = Referral,
    subject: str = "referral",
) -> ColumnElement[bool]:
    """The referral (or other `subject` of `of`'s table) is in one of the states `which` picks, in its
    own protocol version (in SQL). Only `subject`'s protocols are named: the others' states would
    lengthen every list's filter for rows that cannot be theirs."""
    clauses = []
    for protocol in protocols:
        if protocol.subject != subject:
            continue
        states = sorted(name for name, spec in protocol.states.items() if which(spec))
        if states:
            clauses.append(
                and_(
                    of.protocol_name == _constant(protocol.name),
                    of.protocol_version == _constant(protocol.version),
                    of.state.in_(bindparam(None, states, expanding=True, literal_execute=True)),
                )
            )
    return or_(false(), *clauses)


def _constant(value: str | int) -> ColumnElement[Any]:
    """A protocol's name, version or state, written into the SQL rather than sent as a parameter: the
    lists' statements stay short enough for the driver to keep their parsed form (psycopg keeps those of
    at most 50 parameters), instead of parsing 10,000 characters again at every page."""
    return literal(value, literal_execute=True)


def _listed(
    session: Session,
    protocols: ProtocolLibrary,
    referrals: list[Referral],
    organization_id: int,
    language: str,
    now: datetime,
) -> list[ListedReferral]:
    others = {r.receiver_organization_id for r in referrals} | {r.sender_organization_id for r in referrals}
    names = dict(
        session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(others))).all()
    )
    rows = []
    for referral in referrals:
        protocol = protocols.get(referral.protocol_name, referral.protocol_version)
        outgoing = referral.sender_organization_id == organization_id
        state = status(protocol, referral, language, now)
        rows.append(
            ListedReferral(
                id=referral.id,
                direction="sent" if outgoing else "received",
                partner_name=names[
                    referral.receiver_organization_id if outgoing else referral.sender_organization_id
                ],
                needs=sorted(_label(n.label_fr, n.label_en, language) for n in referral.needs),
                urgent=referral.urgent,
                status=state,
                waits_on_us=state.waits_on == ("sender" if outgoing else "receiver"),
                created_at=referral.created_at,
                sent_at=referral.sent_at,
            )
        )
    return rows


def dashboard(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    language: str,
    now: datetime,
    pages: Mapping[str, int] | None = None,
    size: int = DASHBOARD_PAGE_SIZE,
) -> Dashboard:
    """*Mes référencements*: what waits on us, overdue first; then what waits on partners; then finished.

    A coordinator sees everything her organization sent or received; anyone
    else the referrals she opened, and those received by her organization
    that wait on it. Each part shows its page of `pages` (the first by
    default; the nearest one that exists when it does not), `size` a page:
    the parts are sorted, counted and cut in SQL, so a page reads a few
    queries of at most `size` rows, however many referrals the years left.
    """
    wanted = dict(pages or {})
    organization_id = actor.organization_id
    if organization_id is None or actor.role not in REFERRAL_ROLES:
        return Dashboard({part: Listing([], 0, 1, size) for part in DASHBOARD_PARTS})
    without_parallel_workers(session)
    # What the organization sent, and what it received once sent: two index-only scans of the
    # `ix_referrals_*_listed` indexes (an OR of the two would read every row's page, 10,000 at ten
    # years). A referral's two organizations differ, so none is in both halves.
    columns = [getattr(Referral, name) for name in LISTED_COLUMNS]
    ours_or_received = union_all(
        select(*columns).where(Referral.sender_organization_id == organization_id),
        select(*columns).where(Referral.receiver_organization_id == organization_id, shared_with_receiver()),
    ).subquery("seen_by_organization")
    mine = aliased(Referral, ours_or_received, adapt_on_names=True)
    seen, finished, waits_on_us = _dashboard_rules(protocols, actor, organization_id, mine)
    parts = _dashboard_parts(finished, waits_on_us)
    # Each referral's part, its rules evaluated once a row: one short scan of the organization's index.
    part_of = case((finished, "finished"), (waits_on_us, "ours"), else_="theirs").label("part")
    counted = dict(
        session.execute(
            select(part_of, func.count()).select_from(mine).where(seen).group_by(part_of.name)
        ).all()
    )
    totals = {part: counted.get(part, 0) for part in parts}

    # `status` counts a deadline from its first step, which SQL cannot compute (business days, holidays).
    # While that step is the next one, the row's `due_at` is its moment; once it fell due (the sweep
    # moved on), the referral is overdue and its entry in the state is the nearest the row says.
    with_deadline = in_states(protocols, lambda spec: not spec.terminal and spec.deadline is not None, mine)
    first_due = case(
        (and_(with_deadline, mine.deadline_step == 0), mine.due_at),
        (with_deadline, mine.state_entered_at),
    )
    by_urgency = (
        case((overdue(protocols, now, mine), 0), else_=1),
        case((mine.urgent, 0), else_=1),
        case((first_due.is_(None), 1), else_=0),
        first_due,
        mine.created_at.desc(),
        mine.id.desc(),
    )

    numbers, ids = {}, {}
    for part, where in parts.items():
        numbers[part] = Listing([], totals[part], 1, size).nearest(wanted.get(part, 1))
        offset = (numbers[part] - 1) * size
        if not totals[part]:
            ids[part] = []
        elif part == "finished":
            ids[part] = _finished_page(session, protocols, actor, organization_id, offset, size)
        else:
            ids[part] = list(
                session.scalars(
                    select(mine.id).where(seen, where).order_by(*by_urgency).offset(offset).limit(size)
                )
            )
    every = [i for part in parts for i in ids[part]]
    loaded = session.scalars(
        select(Referral).where(Referral.id.in_(every)).options(selectinload(Referral.needs))
    ).all()
    rows = _listed(session, protocols, list(loaded), organization_id, language, now)
    listed = {row.id: row for row in rows}
    return Dashboard(
        {part: Listing([listed[i] for i in ids[part]], totals[part], numbers[part], size) for part in parts}
    )


def _dashboard_rules(
    protocols: ProtocolLibrary, actor: Actor, organization_id: int, of: Any
) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """For the organization's referrals `of`: which the actor sees on her dashboard, which are finished,
    which wait on the organization."""
    finished = in_states(protocols, lambda spec: spec.terminal, of)
    outgoing = of.sender_organization_id == organization_id

    def waiting_on(party: str) -> ColumnElement[bool]:
        return in_states(protocols, lambda spec: not spec.terminal and spec.waits_on == party, of)

    waits_on_us = or_(and_(outgoing, waiting_on("sender")), and_(~outgoing, waiting_on("receiver")))
    if actor.role == Role.COORDINATOR:
        seen: ColumnElement[bool] = true()
    else:
        # What a referral received from a partner is to her only while it waits on her organization.
        seen = or_(
            and_(outgoing, of.created_by_id == actor.user_id),
            and_(~outgoing, ~finished, waits_on_us),
        )
    return seen, finished, waits_on_us


def _dashboard_parts(
    finished: ColumnElement[bool], waits_on_us: ColumnElement[bool]
) -> dict[str, ColumnElement[bool]]:
    """Each part's rule, by `DASHBOARD_PARTS`."""
    return {
        "ours": and_(~finished, waits_on_us),
        "theirs": and_(~finished, ~waits_on_us),
        "finished": finished,
    }


def _finished_page(
    session: Session, protocols: ProtocolLibrary, actor: Actor, organization_id: int, offset: int, size: int
) -> list[int]:
    """The ids of one page of the dashboard's finished part, newest sent first.

    Each side (sent, received once sent) is read newest first along its `ix_referrals_*_listed` index,
    which stops at the page's end, and the two are merged: the organization's history is never sorted.
    """
    seen, finished, _ = _dashboard_rules(protocols, actor, organization_id, Referral)
    sides = [("sender", Referral.sender_organization_id == organization_id)]
    if actor.role == Role.COORDINATOR:
        # Anyone else sees a referral received from a partner only while it waits on her organization.
        sides.append(
            ("receiver", and_(Referral.receiver_organization_id == organization_id, shared_with_receiver()))
        )
    newest_of_each = []
    for side, mine in sides:
        newest = (
            select(Referral.id, Referral.sent_at, Referral.created_at)
            .where(mine, seen, finished)
            .order_by(*newest_first())
            .limit(offset + size)
            .subquery(f"finished_{side}")
        )
        newest_of_each.append(select(newest.c.id, newest.c.sent_at, newest.c.created_at))
    both = (union_all(*newest_of_each) if len(newest_of_each) > 1 else newest_of_each[0]).subquery("finished")
    return list(session.scalars(select(both.c.id).order_by(*newest_first(both.c)).offset(offset).limit(size)))


def overdue(protocols: ProtocolLibrary, now: datetime, of: Any = Referral) -> ColumnElement[bool]:
    """The referral's deadline fell due (`Status.deadline.overdue`, in SQL).

    While its first step is the next one, `due_at` is that step's moment; once the
    sweep moved past it, the first step fell due.
    """
    with_deadline = in_states(protocols, lambda spec: not spec.terminal and spec.deadline is not None, of)
    return and_(with_deadline, or_(of.deadline_step > 0, of.due_at <= now))


def newest_first(of: Any = Referral) -> tuple[ColumnElement, ...]:
    """Newest first by when the referral was sent (opened, for one never sent), then by number."""
    return (func.coalesce(of.sent_at, of.created_at).desc(), of.id.desc())


def inbox(
    session: Session,
    protocols: ProtocolLibrary,
    actor: Actor,
    *,
    language: str,
    now: datetime,
    page: int = 1,
    size: int = INBOX_PAGE_SIZE,
) -> Listing:
    """Referrals received by the actor's organization, `size` a page: open ones first, overdue first,
    then newest. Sorted, counted and cut in SQL, so a page reads the same few queries at any age."""
    if actor.organization_id is None or actor.role not in REFERRAL_ROLES:
        return Listing([], 0, 1, size)
    without_parallel_workers(session)
    received = and_(Referral.receiver_organization_id == actor.organization_id, shared_with_receiver())
    total = session.scalar(select(func.count()).select_from(Referral).where(received)) or 0
    number = Listing([], total, 1, size).nearest(page)
    finished = in_states(protocols, lambda spec: spec.terminal)
    ids = list(
        session.scalars(
            select(Referral.id)
            .where(received)
            .order_by(
                case((finished, 1), else_=0), case((overdue(protocols, now), 0), else_=1), *newest_first()
            )
            .offset((number - 1) * size)
            .limit(size)
        )
    )
    loaded = session.scalars(
        select(Referral).where(Referral.id.in_(ids)).options(selectinload(Referral.needs))
    ).all()
    rows = _listed(session, protocols, list(loaded), actor.organization_id, language, now)
    listed = {row.id: row for row in rows}
    return Listing([listed[i] for i in ids], total, number, size)


# Before sending ---------------------------------------------------------------------


@dataclass(frozen=True)
class Duplicate:
    id: int
    state_title: str


def possible_duplicates(
    session: Session, protocols: ProtocolLibrary, referral: Referral, *, language: str
) -> list[Duplicate]:
    """Open referrals of the same sending organization to the same receiver for the same woman.

    The same woman: the same name and phone, or the same email, whatever the
    case, spaces and phone punctuation. Only the sender's own referrals are
    compared, and only their numbers come out: nothing of another
    organization's, and nothing of hers, is shown.
    """
    mine = session.get(ReferralPerson, referral.id)
    if mine is None:
        return []
    key = _identity(mine)
    rows = session.execute(
        select(Referral, ReferralPerson)
        .join(ReferralPerson, ReferralPerson.referral_id == Referral.id)
        .where(
            Referral.sender_organization_id == referral.sender_organization_id,
            Referral.receiver_organization_id == referral.receiver_organization_id,
            Referral.id != referral.id,
        )
        .order_by(Referral.id)
    ).all()
    found = []
    for other, person in rows:
        protocol = protocols.get(other.protocol_name, other.protocol_version)
        if protocol.is_terminal(other.state) or not _same_person(key, _identity(person)):
            continue
        found.append(Duplicate(other.id, protocol.states[other.state].title.in_language(language)))
    return found


def _identity(person: ReferralPerson) -> tuple[str, str, str]:
    name = " ".join(person.name.split()).casefold()
    phone = "".join(c for c in person.phone if c.isdigit())
    return name, phone, person.email.strip().casefold()


def _same_person(mine: tuple[str, str, str], other: tuple[str, str, str]) -> bool:
    (name, phone, email), (other_name, other_phone, other_email) = mine, other
    return bool(name and phone and (name, phone) == (other_name, other_phone)) or bool(
        email and email == other_email
    )

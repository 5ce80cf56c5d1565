# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""A region at ten years of data, for the benchmarks: directory, partnerships, users, referrals, log.

`fill(engine, referrals, now)` fills a migrated, empty database with:

- the needs' taxonomy, 40 fictional organizations, each with two services and
  partnerships with eight others;
- in each organization six caseworkers, a coordinator and a privacy officer,
  and one regional admin for the region;
- `referrals` referrals opened evenly at 20,000 a year until `now` (ten years
  for 200,000: a bigger region is a longer history, not a busier one), one in
  twenty (10,000 of 200,000) with the first organization on one side, each
  walked through its protocol as people and the sweep would move it: every
  transition the protocol offers from where it stands (mostly the usual path,
  sometimes a decline, a redirect with its linked draft, a cancellation), by a
  party allowed to fire it, with its reason when it needs one; every deadline
  step that fell due while it waited logged as the sweep logs it, the next one
  in `due_at`. Those still open at `now` are the recent ones and a few left
  forgotten. About 5.5 log rows each (1.1 million for 200,000).
- her consent before sending, her details, and what the retention purge leaves
  of referrals finished more than 12 months ago (no details, no free text).

Rows are written with COPY, not through the domain operations (a few minutes
rather than hours); the walk asks the protocols themselves what may happen, so
states, events, deadlines and parties are those the operations would write.
No outbox rows: those emails would be long sent.

    .venv/bin/python bench/region.py --referrals 200000 [--keep] [--url URL]

Without `--keep` the database is dropped at the end: the run times the
generation. With it, the database stays and its URL is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/transitions.py and comes first on the import path:
# drop it, or the engine's `import transitions` imports that script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.append(str(HERE))  # last: our helpers, after every library

import argparse
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from scratch_database import own_database
from scratch_database import shown
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy import text

from service.accounts.models import Role
from service.accounts.passwords import hash_password
from service.db import make_engine
from service.db import session_factory
from service.directory.needs import seed_needs
from service.models import Need  # every model, so that the mappers configure
from service.models import Organization
from service.models import Partnership
from service.models import Service
from service.models import User
from service.protocols import protocol_library
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

DEFAULT_URL = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A fixed moment, so that two runs build the same region (the pages are served on this clock).
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
# The region's pace: a bigger region is a longer history, not a busier one (200,000 is ten years), so
# that two sizes differ only by the years behind them, as one region does over time.
PER_YEAR = 20_000
ORGANIZATIONS = 40
CASEWORKERS = 6
PARTNERS = 8
# One referral in FOCUS_EVERY has the first organization on one side: 10,000 of 200,000.
FOCUS_EVERY = 20
# What the retention purge leaves of a referral finished longer ago (the default regional maximum).
RETENTION = timedelta(days=365)
PASSWORD = "bench-region-password-0"  # noqa: S105 - fictional users of a throwaway database

# How often people choose each action where the protocol offers several; any other weighs 1.
WEIGHTS = {
    "send": 30.0,
    "discard": 1.0,
    "acknowledge": 30.0,
    "accept": 20.0,
    "decline": 4.0,
    "redirect": 1.5,
    "record_first_contact": 30.0,
    "record_follow_up": 15.0,
    "close": 12.0,
    "cancel": 0.6,
}
# Hours between two actions, by the state left: a draft is sent the same day, a follow-up comes weeks later.
PACE = {"draft": 3.0, "in_progress": 24.0 * 25, "followed_up": 24.0 * 4}
USUAL_PACE = 10.0
FORGOTTEN = 0.01  # left where they stood, the sweep's reminders and escalations logged


@dataclass(frozen=True)
class Region:
    """What a benchmark needs to know of the region it was given."""

    now: datetime
    organization_id: int  # the organization whose people the pages are measured for
    users: dict[str, int]  # role -> a user of that organization (regional admin: of the region)
    referral_id: int  # one of its referrals, received and under way, for the referral page
    partnership_id: int  # one of its partnerships, for its bilan
    referrals: int
    events: int
    password: str = PASSWORD


@dataclass
class Walk:
    """One referral as it is generated: its row, its log, its consent and her details."""

    id: int
    protocol: Protocol
    sender: int
    receiver: int
    created_by: int
    created_at: datetime
    urgent: bool
    needs: list[str]
    redirected_from: int | None = None
    state: str = ""
    entered: datetime = NOW
    step: int = 0
    due: datetime | None = None
    events: list[tuple] = field(default_factory=list)
    consent_at: datetime | None = None


class Generator:
    """Walks referrals through their protocols and writes them out with COPY."""

    def __init__(self, protocols: ProtocolLibrary, now: datetime, seed: int, years: float) -> None:
        self.protocols = protocols
        self.now = now
        self.years = years
        self.random = random.Random(seed)
        self.parameters = {p.name: p.resolve_parameters({}) for p in protocols.latest()}

    # The directory and the people ------------------------------------------------------

    def directory(self, engine: Engine) -> tuple[list[int], dict[int, dict[str, list[int]]], list[str]]:
        """Organizations, services, partnerships and users; returns their ids and the need codes."""
        created = self.now - timedelta(days=365 * self.years + 30)
        password_hash = hash_password(PASSWORD)  # one hash for all: hashing each costs a second
        kinds = ("Maison d'hébergement", "CALACS", "Centre de femmes", "CAVAC", "Organisme communautaire")
        with session_factory(engine)() as session:
            seed_needs(session)
            codes = list(session.scalars(select(Need.code).order_by(Need.code)))
            organizations = [
                Organization(
                    name=f"Organisme fictif {n:02d}",
                    kind=kinds[n % len(kinds)],
                    mandate="Organisme fictif généré pour les bancs d'essai.",
                    territory="Laval",
                    languages=["fr", "en"] if n % 3 else ["fr"],
                    phone=f"450-555-{n:04d}",
                    referral_email=f"references{n:02d}@example.org",
                    capacity_status=("open", "waitlist", "full", None)[n % 4],
                    created_at=created,
                )
                for n in range(1, ORGANIZATIONS + 1)
            ]
            session.add_all(organizations)
            session.flush()
            ids = [o.id for o in organizations]
            for n, organization in enumerate(organizations):
                for k in range(2):
                    service = Service(
                        organization_id=organization.id,
                        name=f"Service {k + 1} de l'organisme {n + 1:02d}",
                        description="Service fictif.",
                    )
                    service.needs = list(
                        session.scalars(select(Need).where(Need.code.in_(self.random.sample(codes, 3))))
                    )
                    session.add(service)
            for n, first in enumerate(ids):
                for k in range(1, PARTNERS // 2 + 1):
                    second = ids[(n + k) % len(ids)]
                    session.add(
                        Partnership(
                            first_organization_id=min(first, second),
                            second_organization_id=max(first, second),
                            kinds=["referral_protocol"],
                            formal=k == 1,
                            started_on=created.date(),
                            created_at=created,
                        )
                    )
            people: dict[int, dict[str, list[int]]] = {}
            enrolled = {"mfa_enabled_at": created}  # the roles that need a second factor have one
            for n, organization in enumerate(organizations):
                staff: dict[str, list[int]] = {}
                roles = [Role.CASEWORKER] * CASEWORKERS + [Role.COORDINATOR, Role.PRIVACY_OFFICER]
                for k, role in enumerate(roles):
                    user = User(
                        email=f"{role}{k}.org{n + 1:02d}@example.org",
                        name=f"Personne fictive {k} de l'organisme {n + 1:02d}",
                        organization_id=organization.id,
                        role=role,
                        password_hash=password_hash,
                        created_at=created,
                        **enrolled,
                    )
                    session.add(user)
                    session.flush()
                    staff.setdefault(role, []).append(user.id)
                people[organization.id] = staff
            admin = User(
                email="table.regionale@example.org",
                name="Table régionale fictive",
                organization_id=None,
                role=Role.REGIONAL_ADMIN,
                password_hash=password_hash,
                created_at=created,
                **enrolled,
            )
            session.add(admin)
            session.flush()
            people[0] = {Role.REGIONAL_ADMIN: [admin.id]}
            session.commit()
        return ids, people, codes

    # The referrals ------------------------------------------------------------------------

    def walk(self, referral: Walk, people: dict[int, dict[str, list[int]]]) -> Walk | None:
        """Move `referral` as far as people would have by `now`; returns the draft a redirect opened."""
        protocol = referral.protocol
        parameters = self.parameters[protocol.name]
        referral.state = protocol.initial
        referral.entered = referral.created_at
        opened_by_system = referral.redirected_from is not None
        referral.events.append(
            (
                "opened",
                None,
                None,
                protocol.initial,
                None if opened_by_system else referral.created_by,
                "system" if opened_by_system else "sender",
                referral.created_at,
                f"Ouvert par la redirection du référencement n° {referral.redirected_from}."
                if opened_by_system
                else None,
                None,
                None,
            )
        )
        forgotten = self.random.random() < FORGOTTEN
        linked = None
        while not protocol.is_terminal(referral.state):
            pace = PACE.get(referral.state, USUAL_PACE)
            leaves = referral.entered + timedelta(hours=self.random.expovariate(1 / pace) + 0.05)
            if forgotten and referral.state != protocol.initial and self.random.random() < 0.3:
                leaves = self.now + timedelta(days=1)
            self.sweep(referral, parameters, min(leaves, self.now))
            if leaves > self.now:
                break
            transition = self.choose(protocol, referral)
            side = "sender" if transition.parties & {"sender", "sender_coordinator"} else "receiver"
            organization = referral.sender if side == "sender" else referral.receiver
            if side in transition.parties:
                party = side
                user = referral.created_by if side == "sender" else self.pick(people, organization)
            else:
                party = min(transition.parties)
                user = people[organization][Role.COORDINATOR][0]
            reason = None
            if transition.reason:
                reason = self.random.choice(
                    [c for c, r in protocol.reasons[transition.reason].items() if not r.comment_required]
                )
            target = None
            if transition.trigger == "send":
                referral.consent_at = leaves - timedelta(minutes=5)
            if transition.dest == "redirected":
                target = self.other(referral)
            referral.events.append(
                (
                    "transition",
                    transition.trigger,
                    referral.state,
                    transition.dest,
                    user,
                    party,
                    leaves,
                    None,
                    reason,
                    target,
                )
            )
            referral.state, referral.entered, referral.step = transition.dest, leaves, 0
            referral.due = protocol.due_at(referral.state, leaves, 0, parameters)
            if target is not None:
                linked = Walk(
                    id=0,
                    protocol=self.protocols.get(protocol.name),
                    sender=referral.sender,
                    receiver=target,
                    created_by=referral.created_by,
                    created_at=leaves,
                    urgent=referral.urgent,
                    needs=referral.needs,
                    redirected_from=referral.id,
                )
        if protocol.is_terminal(referral.state):
            referral.due = None
        return linked

    def sweep(self, referral: Walk, parameters: dict[str, str], until: datetime) -> None:
        """Log each deadline step that fell due before `until`, as the sweep does."""
        protocol = referral.protocol
        while True:
            due = protocol.due_at(referral.state, referral.entered, referral.step, parameters)
            referral.due = due
            if due is None or due > until:
                return
            kind = protocol.deadline_step(referral.state, referral.step).kind
            referral.events.append(
                (kind, None, referral.state, referral.state, None, "system", due, None, None, None)
            )
            referral.step += 1

    def choose(self, protocol: Protocol, referral: Walk) -> Transition:
        offered = [t for t in protocol.transitions if referral.state in t.sources]
        weights = [WEIGHTS.get(t.trigger, 1.0) for t in offered]
        return self.random.choices(offered, weights)[0]

    def pick(self, people: dict[int, dict[str, list[int]]], organization: int) -> int:
        return self.random.choice(people[organization][Role.CASEWORKER])

    def other(self, referral: Walk) -> int:
        while True:
            target = self.random.choice(self.organizations)
            if target not in (referral.sender, referral.receiver):
                return target

    def referrals(
        self, count: int, organizations: list[int], people: dict[int, dict[str, list[int]]], codes: list[str]
    ) -> Iterator[Walk]:
        """`count` referrals (redirects' linked drafts included), walked, in the order of their ids."""
        self.organizations = organizations
        focus, others = organizations[0], organizations[1:]
        start = self.now - timedelta(days=365 * self.years)
        span = (self.now - start).total_seconds()
        standard, urgent = self.protocols.get("standard"), self.protocols.get("urgent")
        accompanied = self.protocols.get("accompanied")
        pending: list[Walk] = []
        made = 0
        n = 0
        while made < count:
            if pending:
                referral = pending.pop()
            else:
                if n % FOCUS_EVERY == 0:
                    partner = self.random.choice(others)
                    sender, receiver = (focus, partner) if n % (2 * FOCUS_EVERY) == 0 else (partner, focus)
                else:
                    sender, receiver = self.random.sample(others, 2)
                is_urgent = self.random.random() < 0.1
                protocol = urgent if is_urgent else (accompanied if n % 17 == 0 else standard)
                referral = Walk(
                    id=0,
                    protocol=protocol,
                    sender=sender,
                    receiver=receiver,
                    created_by=self.pick(people, sender),
                    created_at=start + timedelta(seconds=span * (made + self.random.random()) / count),
                    urgent=is_urgent,
                    needs=self.random.sample(codes, self.random.choice((1, 1, 2, 3))),
                )
                n += 1
            made += 1
            referral.id = made
            linked = self.walk(referral, people)
            if linked is not None and made + len(pending) < count:
                pending.append(linked)
            yield referral


@contextmanager
def timed(what: str, report: bool) -> Iterator[None]:
    started = time.perf_counter()
    yield
    if report:
        print(f"  {what:<44} {time.perf_counter() - started:7.1f} s", flush=True)


def fill(
    engine: Engine, referrals: int, *, now: datetime = NOW, seed: int = 12, report: bool = False
) -> Region:
    """Fill the migrated, empty database of `engine` with a region of `referrals` referrals (see above)."""
    generator = Generator(protocol_library(), now, seed, referrals / PER_YEAR)
    with timed("directory, partnerships and users", report):
        organizations, people, codes = generator.directory(engine)
    retention_cutoff = now - RETENTION
    events = 0
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with timed(f"{referrals:,} referrals walked and copied", report), connection.cursor() as cursor:
            with (
                cursor.copy(
                    "COPY referrals (id, protocol_name, protocol_version, parameters, urgent,"
                    " sender_organization_id, receiver_organization_id, created_by_id, redirected_from_id,"
                    " state, state_entered_at, deadline_step, due_at, last_seq, version, created_at, sent_at)"
                    " FROM STDIN"
                ) as referral_rows,
            ):
                walks = []
                for walk in generator.referrals(referrals, organizations, people, codes):
                    referral_rows.write_row(
                        (
                            walk.id,
                            walk.protocol.name,
                            walk.protocol.version,
                            json.dumps(generator.parameters[walk.protocol.name]),
                            walk.urgent,
                            walk.sender,
                            walk.receiver,
                            walk.created_by,
                            walk.redirected_from,
                            walk.state,
                            walk.entered,
                            walk.step,
                            walk.due,
                            len(walk.events),
                            len(walk.events),
                            walk.created_at,
                            # As `log_event` keeps it: the first sending's moment.
                            next((event[6] for event in walk.events if event[1] == "send"), None),
                        )
                    )
                    walks.append(walk)
            with cursor.copy(
                "COPY referral_events (referral_id, seq, kind, trigger, from_state, to_state, actor_user_id,"
                " actor_party, at, comment, reason_code, target_organization_id) FROM STDIN"
            ) as event_rows:
                for walk in walks:
                    purged = walk.protocol.is_terminal(walk.state) and walk.entered < retention_cutoff
                    for seq, (
                        kind,
                        trigger,
                        source,
                        dest,
                        user,
                        party,
                        at,
                        comment,
                        reason,
                        target,
                    ) in enumerate(walk.events, start=1):
                        event_rows.write_row(
                            (
                                walk.id,
                                seq,
                                kind,
                                trigger,
                                source,
                                dest,
                                user,
                                party,
                                at,
                                None if purged else comment,
                                reason,
                                target,
                            )
                        )
                    events += len(walk.events)
            with cursor.copy("COPY referral_needs (referral_id, need_code) FROM STDIN") as need_rows:
                for walk in walks:
                    for code in walk.needs:
                        need_rows.write_row((walk.id, code))
            with cursor.copy(
                "COPY consents (referral_id, method, shared_with, purpose, given_at, expires_at,"
                " withdrawn_at, recorded_by_id) FROM STDIN"
            ) as consent_rows:
                for walk in walks:
                    if walk.consent_at is None:
                        continue
                    purged = walk.protocol.is_terminal(walk.state) and walk.entered < retention_cutoff
                    consent_rows.write_row(
                        (
                            walk.id,
                            "verbal" if walk.id % 3 else "written",
                            "" if purged else "Ses coordonnées et ses besoins, avec l'organisme receveur.",
                            "" if purged else "Obtenir le service demandé.",
                            walk.consent_at,
                            walk.consent_at + timedelta(days=365),
                            None,
                            walk.created_by,
                        )
                    )
            with cursor.copy(
                "COPY referral_people (referral_id, name, phone, email, language, contact_preferences,"
                " safety_constraints, notes) FROM STDIN"
            ) as person_rows:
                for walk in walks:
                    if walk.protocol.is_terminal(walk.state) and walk.entered < retention_cutoff:
                        continue
                    person_rows.write_row(
                        (
                            walk.id,
                            f"Personne fictive {walk.id}",
                            f"450-555-{walk.id % 10000:04d}",
                            "",
                            "fr",
                            "Par téléphone, le matin.",
                            "",
                            "",
                        )
                    )
            cursor.execute("SELECT setval('referrals_id_seq', (SELECT max(id) FROM referrals))")
        connection.commit()
    finally:
        raw.close()
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with timed("VACUUM ANALYZE, CHECKPOINT", report), autocommit as connection:
        connection.execute(text("VACUUM ANALYZE"))
        connection.execute(text("CHECKPOINT"))
    focus = organizations[0]
    staff = people[focus]
    with engine.connect() as connection:
        # A referral the organization received and is working on, as people open most often: the
        # newest in progress, else accepted, else received. One state at every size, so that its page
        # (a received one's has the forms to accept or decline) compares across sizes.
        shown_referral = connection.execute(
            text(
                "SELECT id FROM referrals WHERE receiver_organization_id = :focus AND state <> 'draft'"
                " ORDER BY CASE state WHEN 'in_progress' THEN 0 WHEN 'accepted' THEN 1"
                " WHEN 'received' THEN 2 ELSE 3 END, id DESC LIMIT 1"
            ),
            {"focus": focus},
        ).scalar_one()
        partnership = connection.execute(
            text(
                "SELECT id FROM partnerships WHERE :focus IN (first_organization_id, second_organization_id)"
                " ORDER BY id LIMIT 1"
            ),
            {"focus": focus},
        ).scalar_one()
    return Region(
        now=now,
        organization_id=focus,
        users={
            Role.CASEWORKER: staff[Role.CASEWORKER][0],
            Role.COORDINATOR: staff[Role.COORDINATOR][0],
            Role.PRIVACY_OFFICER: staff[Role.PRIVACY_OFFICER][0],
            Role.REGIONAL_ADMIN: people[0][Role.REGIONAL_ADMIN][0],
        },
        referral_id=shown_referral,
        partnership_id=partnership,
        referrals=referrals,
        events=events,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=200_000, help="how many (default 200,000)")
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (its database is left alone)")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    arguments = parser.parse_args()
    started = time.perf_counter()
    with own_database(arguments.url, keep=arguments.keep) as url:
        engine = make_engine(url)
        region = fill(engine, arguments.referrals, report=True)
        with engine.connect() as connection:
            mine = connection.execute(
                text(
                    "SELECT count(*) FROM referrals"
                    " WHERE sender_organization_id = :focus OR receiver_organization_id = :focus"
                ),
                {"focus": region.organization_id},
            ).scalar_one()
            still_open = connection.execute(
                text("SELECT count(*) FROM referrals WHERE due_at IS NOT NULL")
            ).scalar_one()
        engine.dispose()
        print(
            f"{region.referrals:,} referrals ({mine:,} of organization {region.organization_id}),"
            f" {region.events:,} log rows, {still_open:,} with a deadline to come,"
            f" in {time.perf_counter() - started:.0f} s"
        )
        if arguments.keep:
            print(f"kept: {shown(url)}")


if __name__ == "__main__":
    main()

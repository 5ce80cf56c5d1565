"""One-time links: a token is stored hashed, found while usable, and consumed once, even by two at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import OneTimeLink
from service.accounts.models import User
from service.accounts.one_time_links import Purpose
from service.accounts.one_time_links import Unusable
from service.accounts.one_time_links import consume
from service.accounts.one_time_links import find
from service.accounts.one_time_links import issue
from service.accounts.one_time_links import revoke_all
from service.accounts.one_time_links import token_hash
from service.accounts.one_time_links import why_unusable
from service.db import make_engine
from tests.conftest import PASSWORD_HASH
from tests.conftest import new_postgresql_database

HOUR = timedelta(hours=1)


@pytest.fixture
def account(session: Session, network) -> User:
    return session.get_one(User, network.shelter.caseworker.user_id)


def test_only_the_hash_of_a_token_of_256_bits_is_stored(session, clock, account):
    token = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    session.commit()

    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    stored = session.scalars(select(OneTimeLink)).one()
    assert stored.token_hash == token_hash(token)
    assert token not in stored.token_hash
    assert (stored.user_id, stored.purpose) == (account.id, "password_reset")
    assert stored.expires_at - stored.created_at == HOUR
    assert stored.created_at == clock.now


def test_a_link_is_found_until_it_expires(session, clock, account):
    token = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    session.commit()

    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock).user_id == account.id
    clock.advance(minutes=59)
    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock) is not None
    clock.advance(minutes=1)
    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock) is None
    assert why_unusable(session, token, Purpose.PASSWORD_RESET, clock=clock) is Unusable.EXPIRED
    assert consume(session, token, Purpose.PASSWORD_RESET, clock=clock) is None


def test_a_link_is_consumed_once(session, clock, account):
    token = issue(session, account, Purpose.INVITATION, HOUR, clock=clock)
    session.commit()

    assert consume(session, token, Purpose.INVITATION, clock=clock) == account.id
    session.commit()
    assert consume(session, token, Purpose.INVITATION, clock=clock) is None
    assert find(session, token, Purpose.INVITATION, clock=clock) is None
    assert why_unusable(session, token, Purpose.INVITATION, clock=clock) is Unusable.USED


def test_finding_a_link_does_not_use_it(session, clock, account):
    token = issue(session, account, Purpose.INVITATION, HOUR, clock=clock)
    session.commit()

    for _ in range(3):
        assert find(session, token, Purpose.INVITATION, clock=clock) is not None
    assert why_unusable(session, token, Purpose.INVITATION, clock=clock) is None
    assert consume(session, token, Purpose.INVITATION, clock=clock) == account.id


def test_a_link_of_one_purpose_opens_nothing_of_another(session, clock, account):
    token = issue(session, account, Purpose.INVITATION, HOUR, clock=clock)
    session.commit()

    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock) is None
    assert why_unusable(session, token, Purpose.PASSWORD_RESET, clock=clock) is Unusable.UNKNOWN
    assert consume(session, token, Purpose.PASSWORD_RESET, clock=clock) is None
    assert consume(session, token, Purpose.INVITATION, clock=clock) == account.id


@pytest.mark.parametrize("tampered", ["", "x", "A" * 43, "A" * 10_000])
def test_a_tampered_token_opens_nothing(session, clock, account, tampered):
    token = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    session.commit()

    for raw in (tampered, token[:-1], token + "A", token[:-1] + ("B" if token[-1] != "B" else "C")):
        assert find(session, raw, Purpose.PASSWORD_RESET, clock=clock) is None
        assert why_unusable(session, raw, Purpose.PASSWORD_RESET, clock=clock) is Unusable.UNKNOWN
        assert consume(session, raw, Purpose.PASSWORD_RESET, clock=clock) is None
    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock) is not None


def test_a_new_link_revokes_her_earlier_ones_of_the_same_purpose(session, clock, account):
    first = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    invitation = issue(session, account, Purpose.INVITATION, HOUR, clock=clock)
    second = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    session.commit()

    assert why_unusable(session, first, Purpose.PASSWORD_RESET, clock=clock) is Unusable.REVOKED
    assert find(session, second, Purpose.PASSWORD_RESET, clock=clock) is not None
    assert find(session, invitation, Purpose.INVITATION, clock=clock) is not None
    assert revoke_all(session, account.id, Purpose.PASSWORD_RESET, clock=clock) == 1
    assert consume(session, second, Purpose.PASSWORD_RESET, clock=clock) is None


def test_a_rolled_back_consumption_leaves_the_link_usable(session, clock, account):
    token = issue(session, account, Purpose.PASSWORD_RESET, HOUR, clock=clock)
    session.commit()

    nested = session.begin_nested()
    assert consume(session, token, Purpose.PASSWORD_RESET, clock=clock) == account.id
    nested.rollback()  # e.g. the new password was refused: she may try again with the same link

    assert find(session, token, Purpose.PASSWORD_RESET, clock=clock) is not None


@pytest.fixture(scope="module")
def committing_engine() -> Iterator[Engine]:
    """A PostgreSQL database of this module's own: two sessions commit for real, side by side."""
    with new_postgresql_database() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.mark.postgresql
def test_of_two_submissions_at_once_exactly_one_consumes_the_link(committing_engine):
    now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    with Session(committing_engine) as setup:
        user = User(email="two@example.org", name="Fictive", role="caseworker", password_hash=PASSWORD_HASH)
        user.created_at = now
        setup.add(user)
        setup.flush()
        token = issue(setup, user, Purpose.PASSWORD_RESET, HOUR, clock=lambda: now)
        setup.commit()
        user_id = user.id

    second_answer: list[int | None] = []
    with Session(committing_engine) as first, Session(committing_engine) as second:
        assert consume(first, token, Purpose.PASSWORD_RESET, clock=lambda: now) == user_id

        def submit_again() -> None:
            second_answer.append(consume(second, token, Purpose.PASSWORD_RESET, clock=lambda: now))
            second.commit()

        other = threading.Thread(target=submit_again)
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive(), "the second submission must wait for the first's row lock"
        first.commit()
        other.join(timeout=10)

    assert second_answer == [None]

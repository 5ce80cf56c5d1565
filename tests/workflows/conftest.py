"""Fixtures for the engine's tests: the shipped protocols and a referral kept in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from workflows.loader import ProtocolLibrary
from workflows.loader import load_library
from workflows.protocol import Protocol


class MemoryReferral:
    """The least a referral needs to be driven by a protocol: a state and a consent."""

    def __init__(self, state: str, consent: bool = True) -> None:
        self.state = state
        self.consent = consent

    def has_valid_consent(self, now: datetime) -> bool:
        return self.consent


@pytest.fixture(scope="session")
def library() -> ProtocolLibrary:
    return load_library()


@pytest.fixture(scope="session")
def standard(library: ProtocolLibrary) -> Protocol:
    return library.get("standard", 1)


@pytest.fixture(scope="session")
def urgent(library: ProtocolLibrary) -> Protocol:
    return library.get("urgent", 1)


@pytest.fixture(scope="session")
def accompanied(library: ProtocolLibrary) -> Protocol:
    return library.get("accompanied", 1)


@pytest.fixture
def new_referral() -> Callable[..., MemoryReferral]:
    """Make an in-memory referral, by default a draft with consent recorded."""

    def make(state: str = "draft", consent: bool = True) -> MemoryReferral:
        return MemoryReferral(state, consent)

    return make

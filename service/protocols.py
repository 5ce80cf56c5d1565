"""The protocol library the service drives referrals with."""

from __future__ import annotations

from functools import cache

from service.config import settings
from workflows.loader import PROTOCOLS_FOLDER
from workflows.loader import ProtocolLibrary
from workflows.loader import load_library


@cache
def protocol_library() -> ProtocolLibrary:
    """Every protocol version in the configured folder, loaded and checked once per process."""
    return load_library(settings().protocols_dir or PROTOCOLS_FOLDER)

"""Domain errors of the service, beside the engine's (re-exported here for one import)."""

from __future__ import annotations

from workflows.errors import ConsentRequired
from workflows.errors import FieldProblem
from workflows.errors import GuardFailed
from workflows.errors import InvalidTransition
from workflows.errors import NotAllowed
from workflows.errors import ParameterError
from workflows.errors import ProtocolError
from workflows.errors import ProtocolNotFound
from workflows.errors import ReferralError
from workflows.errors import UnknownTrigger

__all__ = [
    "ConcurrentUpdate",
    "ConsentRequired",
    "FieldProblem",
    "GuardFailed",
    "InvalidTransition",
    "NotAllowed",
    "ParameterError",
    "ProtocolError",
    "ProtocolNotFound",
    "ReferralError",
    "ReferralNotFound",
    "UnknownTrigger",
]


class ReferralNotFound(ReferralError):
    """No referral with this id, or none this organization may see (the same answer, on purpose)."""

    def __init__(self, referral_id: int) -> None:
        self.referral_id = referral_id
        super().__init__(f"no referral {referral_id}")


class ConcurrentUpdate(ReferralError):
    """Someone else changed the referral since it was read: reload and try again."""

    def __init__(self, referral_id: int) -> None:
        self.referral_id = referral_id
        super().__init__(f"referral {referral_id} changed since it was read; reload it")

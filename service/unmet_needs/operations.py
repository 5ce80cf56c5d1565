"""Recording an unmet need: checked, audited, committed once; nothing is sent to anyone."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import audit
from service.clock import Clock
from service.clock import utcnow
from service.directory.models import Need
from service.referrals.actors import Actor
from service.referrals.operations import MAY_OPEN
from service.unmet_needs.models import UnmetNeed
from service.unmet_needs.models import unmet_need_needs


class UnmetNeedRefused(Exception):
    """The need cannot be recorded: `rule` says why (not_allowed, no_needs, unknown_needs)."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def record_unmet_need(
    session: Session,
    actor: Actor,
    need_codes: Iterable[str],
    *,
    territory: str = "",
    clientele: str = "",
    clock: Clock = utcnow,
) -> UnmetNeed:
    """Record that no organization fits these needs, for this territory and clientele."""
    if actor.role not in MAY_OPEN or actor.organization_id is None:
        raise UnmetNeedRefused("not_allowed")
    codes = sorted(set(need_codes))
    if not codes:
        raise UnmetNeedRefused("no_needs")
    known = set(session.scalars(select(Need.code).where(Need.code.in_(codes), Need.active.is_(True))))
    if known != set(codes):
        raise UnmetNeedRefused("unknown_needs")
    now = clock()
    unmet = UnmetNeed(
        organization_id=actor.organization_id,
        recorded_at=now,
        territory=territory.strip()[:200],
        clientele=clientele.strip()[:500],
    )
    session.add(unmet)
    session.flush()
    session.execute(insert(unmet_need_needs), [{"unmet_need_id": unmet.id, "need_code": c} for c in codes])
    audit(session, "unmet_need.recorded", actor, now)
    session.commit()
    return unmet

"""Overlaps and gaps in the directory: needs several services cover for the same people and place,
and needs no service covers ("éviter les dédoublements et les chevauchements").

Read from the directory alone, as it stands: services, the needs each covers,
and the territory and clienteles its organization states. Those are public
facts about organizations, nothing about a woman, so no cell is suppressed.
Territories and clienteles are free text: two organizations are taken to
serve the same place (or people) when their words match once case, spacing
and final punctuation are set aside.

Domain code: no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.models import service_needs


@dataclass(frozen=True)
class Overlap:
    """One need covered by several services for the same territory and clientele."""

    need_code: str
    territory: str
    clientele: str
    services: list[tuple[str, str]]  # (organization, service), in name order

    @property
    def organizations(self) -> list[str]:
        return sorted({organization for organization, _service in self.services}, key=str.casefold)


@dataclass(frozen=True)
class DirectoryCoverage:
    overlaps: list[Overlap]
    uncovered: list[str]  # codes of the active needs no service covers


def same_words(text: str) -> str:
    """The key two free-text territories or clienteles are compared by."""
    return " ".join(text.split()).casefold().rstrip(" .;,")


def coverage(session: Session) -> DirectoryCoverage:
    """Every overlap (need, territory, clientele covered by two services or more) and every gap."""
    rows = session.execute(
        select(
            service_needs.c.need_code,
            Service.name,
            Organization.name,
            Organization.territory,
            Organization.clienteles,
        )
        .join(Service, Service.id == service_needs.c.service_id)
        .join(Organization, Organization.id == Service.organization_id)
    )
    groups: dict[tuple[str, str, str], list[tuple[str, str, str, str]]] = {}
    for need, service, organization, territory, clientele in rows:
        key = (need, same_words(territory), same_words(clientele))
        groups.setdefault(key, []).append((organization, service, territory.strip(), clientele.strip()))
    overlaps = [
        Overlap(
            need_code=need,
            territory=_wording(t for _o, _s, t, _c in found),
            clientele=_wording(c for _o, _s, _t, c in found),
            services=sorted(
                ((o, s) for o, s, _t, _c in found), key=lambda pair: (pair[0].casefold(), pair[1])
            ),
        )
        for (need, _territory, _clientele), found in groups.items()
        if len(found) > 1
    ]
    covered = {need for need, _territory, _clientele in groups}
    active = session.scalars(select(Need.code).where(Need.active.is_(True)).order_by(Need.code))
    return DirectoryCoverage(
        overlaps=sorted(
            overlaps, key=lambda o: (o.need_code, same_words(o.territory), same_words(o.clientele))
        ),
        uncovered=[code for code in active if code not in covered],
    )


def _wording(variants: Iterable[str]) -> str:
    """One way the organizations word a place or people they share: a capitalized one first."""
    return min(variants, key=lambda words: (words[:1].islower(), words))


def _by_name(pair: tuple[str, str]) -> tuple[str, str]:
    return pair[0].casefold(), pair[1]

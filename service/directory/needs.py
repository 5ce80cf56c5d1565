"""The starting taxonomy of needs, shipped with Maillage and extended by the regional admin."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.directory.models import Need

NEEDS_FILE = Path(__file__).resolve().parent / "needs.yaml"


def seed_needs(session: Session, path: Path = NEEDS_FILE) -> int:
    """Add the shipped needs the database does not have yet; returns how many were added."""
    known = set(session.scalars(select(Need.code)))
    added = 0
    for item in yaml.safe_load(path.read_text(encoding="utf-8")):
        if item["code"] not in known:
            session.add(
                Need(code=item["code"], group=item["group"], label_fr=item["fr"], label_en=item["en"])
            )
            added += 1
    session.commit()
    return added

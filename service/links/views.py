"""The page a partner without an account reaches from a signed link."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("links", __name__, url_prefix="/link")

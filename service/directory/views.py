"""Directory pages: organizations, their services, partnerships and agreements."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("directory", __name__, url_prefix="/directory")

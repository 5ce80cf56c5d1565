"""The organization's page: the tools of its coordinators and privacy officer, in one place.

The main menu keeps the daily work (referrals, directory, reports); what a
coordinator or a privacy officer does now and then is listed here, each tool
shown to the roles that may use it (its own view checks again).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required

from service.accounts.models import Role

blueprint = Blueprint("organization", __name__)


@dataclass(frozen=True)
class Tool:
    endpoint: str
    title: str
    purpose: str
    roles: frozenset[str]


COORDINATOR = frozenset({Role.COORDINATOR})
KEEPERS = frozenset({Role.COORDINATOR, Role.PRIVACY_OFFICER})
TOOLS = (
    Tool(
        "person.search",
        _l("Her rights"),
        _l("A woman asks what Maillage holds about her, to correct it or to erase it."),
        KEEPERS,
    ),
    Tool(
        "emergency.report",
        _l("Emergencies"),
        _l("Every referral sent without consent because her life or safety was at risk."),
        KEEPERS | {Role.REGIONAL_ADMIN},
    ),
    Tool(
        "privacy.register",
        _l("Incident register"),
        _l("Confidentiality incidents, as Law 25 asks them to be recorded."),
        KEEPERS,
    ),
    Tool(
        "privacy.retention",
        _l("Retention period"),
        _l("How long personal data stays after a referral is closed."),
        KEEPERS,
    ),
    Tool("audit.index", _l("Audit log"), _l("Who read or did what, and when."), KEEPERS),
    Tool(
        "failed_messages.index",
        _l("Failed messages"),
        _l("Emails to the organization that could not be delivered, to send again."),
        COORDINATOR,
    ),
    Tool(
        "api_keys.index",
        _l("API keys"),
        _l("Keys that let the organization's other systems use Maillage."),
        COORDINATOR,
    ),
)


def tools_for(role: str) -> list[Tool]:
    """The tools a person with `role` may use, in the page's order."""
    return [tool for tool in TOOLS if role in tool.roles]


@blueprint.route("/organization")
@login_required
def index() -> str:
    tools = tools_for(current_user.role)
    if not tools:
        abort(403)
    return render_template("organization/index.html", tools=tools)

"""Helpers the templates call: the menu for the signed-in person, form accessibility, dates."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from flask import Flask
from flask import current_app
from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import Field
from wtforms.widgets import ListWidget

from service.accounts.models import Role
from service.dates import format_day
from service.dates import format_moment
from service.referrals.actors import REFERRAL_ROLES
from service.web.organization import tools_for


def main_menu() -> list[tuple[str, str]]:
    """(endpoint, label) of the pages this person may use, in menu order."""
    items = []
    if not current_user.is_privacy_officer:  # her work is the register, not referrals
        items.append(("referrals.dashboard", _("My referrals")))
    if current_user.role in (Role.CASEWORKER, Role.COORDINATOR):
        items.append(("referrals.new", _("New referral")))
    if current_user.role in REFERRAL_ROLES:
        items.append(("referrals.inbox", _("Received")))
    items += [("directory.index", _("Directory")), ("directory.partnerships", _("Partnerships"))]
    if current_user.organization_id is not None:  # her organization's book, shared with its team
        items.append(("address_book.index", _("Address book")))
    if current_user.is_coordinator or current_user.is_regional_admin:  # figures, never a woman's data
        items.append(("reports.index", _("Reports")))
    if current_user.is_coordinator:  # her organization's accounts
        items.append(("team.index", _("Team")))
    if tools_for(current_user.role):  # the coordinators' and privacy officer's tools
        items.append(("organization.index", _("My organization")))
    items.append(("auth.sessions", _("My sessions")))
    if "mailbox" in current_app.blueprints:  # development only: what Maillage "sent" here
        items.append(("mailbox.index", _("Mailbox (development)")))
    return items


def described_by(field: Field, hint: str | None = None, group: bool = False) -> dict[str, str]:
    """Attributes tying a field (or, with `group`, its fieldset) to its hint and errors."""
    ids = [f"{field.id}-hint"] if hint else []
    ids += [f"{field.id}-error-{i}" for i in range(1, len(field.errors) + 1)]
    attributes = {"aria-describedby": " ".join(ids)} if ids else {}
    if field.errors and not group:
        attributes["aria-invalid"] = "true"
    return attributes


def error_target(field: Field) -> str:
    """The id an error summary's link leads to: a field, or the first box of a group of them.

    A link to a fieldset moves no focus (it cannot take it); a link to its
    first radio button or checkbox takes the keyboard there.
    """
    if isinstance(field.widget, ListWidget):
        options = list(field)
        if options:
            return options[0].id
    return field.id


def here() -> str:
    """This page's address without its #fragment, for a form that posts back to it.

    A form without `action` posts to the address with its fragment (`#main`,
    after the skip link), and a page opened on a fragment ignores `autofocus`:
    the error summary would not take the focus.
    """
    return request.full_path if request.query_string else request.path


def current_locale() -> str:
    return get_locale().language if get_locale() else "fr"


def when(moment: datetime, style: str = "long", seconds: bool = False) -> str:
    """The `when` filter: a moment in the page's language, e.g. "6 décembre 2026 à 5 h 05"."""
    return format_moment(moment, current_locale(), style, seconds=seconds)


def day(value: date | datetime, style: str = "long") -> str:
    """The `day` filter: a day in the page's language, e.g. "6 décembre 2026"."""
    return format_day(value, current_locale(), style)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(when=when, day=day)
    app.jinja_env.globals.update(
        main_menu=main_menu,
        described_by=described_by,
        current_locale=current_locale,
        here=here,
        error_target=error_target,
    )

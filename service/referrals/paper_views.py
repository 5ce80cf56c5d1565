"""The printable pages of a referral: the consent form to sign and the sheet to hand her.

Only the two organizations party to the referral see them (anyone else: 404, as
the referral's page). The paper speaks the language chosen on the page
(`?paper=en`), independent of the language of the page around it; the address
carries that choice and the referral's number, nothing about her.
"""

from __future__ import annotations

from flask import Blueprint
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import force_locale
from flask_login import current_user
from flask_login import login_required
from markupsafe import Markup

from service.config import settings
from service.directory.wording import language_names
from service.protocols import protocol_library
from service.referrals.operations import MAY_OPEN
from service.referrals.paper import CONSENT_FORM_VIEWED
from service.referrals.paper import PAPER_LANGUAGES
from service.referrals.paper import SHEET_VIEWED
from service.referrals.paper import consent_form as consent_form_facts
from service.referrals.paper import her_sheet
from service.referrals.paper import note_printed
from service.referrals.paper import paper_language
from service.referrals.queries import ReferralPage
from service.referrals.queries import referral_page
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale

blueprint = Blueprint("paper", __name__)


def _page(referral_id: int) -> ReferralPage:
    # Raises ReferralNotFound (a 404) for anyone but the two organizations.
    return referral_page(
        db(),
        protocol_library(),
        referral_id,
        current_user.actor,
        language=current_locale(),
        now=request_clock()(),
    )


def _languages(endpoint: str, referral_id: int, chosen: str) -> list[tuple[str, str, str, bool]]:
    """The paper's language choices: (code, its name in itself, address, chosen)."""
    names = {"fr": "Français", "en": "English"}
    return [
        (code, names[code], url_for(endpoint, referral_id=referral_id, paper=code), code == chosen)
        for code in PAPER_LANGUAGES
    ]


def _render(template: str, endpoint: str, page: ReferralPage, language: str, **paper) -> str:
    # The paper in her language, the page around it in the caseworker's.
    with force_locale(language):
        document = render_template(
            f"referrals/paper/_{template}.html", language=language, language_names=language_names, **paper
        )
    return render_template(
        f"referrals/paper/{template}.html",
        page=page,
        document=Markup(document),  # noqa: S704 - our own template's output, escaped when rendered
        languages=_languages(endpoint, page.referral.id, language),
        may_record_consent=page.side == "sender"
        and current_user.role in MAY_OPEN
        and not page.status.finished,
    )


@blueprint.route("/referrals/<int:referral_id>/sheet")
@login_required
def sheet(referral_id: int) -> str:
    """Her sheet: where she is referred, how to reach them, and what comes next."""
    page = _page(referral_id)
    language = paper_language(request.args.get("paper"), current_locale())
    now = request_clock()()
    note_printed(db(), SHEET_VIEWED, current_user.actor, referral_id, now)
    return _render("sheet", "paper.sheet", page, language, sheet=her_sheet(page, language, now))


@blueprint.route("/referrals/<int:referral_id>/consent-form")
@login_required
def consent_form(referral_id: int) -> str:
    """The consent form she signs by hand before her information goes to the receiving organization."""
    page = _page(referral_id)
    language = paper_language(request.args.get("paper"), current_locale())
    note_printed(db(), CONSENT_FORM_VIEWED, current_user.actor, referral_id, request_clock()())
    facts = consent_form_facts(page, language, settings().retention_months)
    return _render("consent_form", "paper.consent_form", page, language, form=facts)

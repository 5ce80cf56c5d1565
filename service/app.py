"""The Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service import extensions
from service.config import Settings
from service.config import settings
from service.links.redaction import keep_tokens_out_of_logs
from service.web import database
from service.web import errors
from service.web import headers
from service.web import health
from service.web import inputs
from service.web import metrics
from service.web import request_ids
from service.web import templating
from service.web.catalogs import TRANSLATIONS
from service.web.catalogs import check_catalogs
from service.web.locale import remember_choice
from service.web.locale import select_locale
from workflows.loader import TEMPLATES_FOLDER


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The Maillage web app, configured from `MAILLAGE_*` variables, then `test_config`."""
    config = settings()
    app = Flask(__name__, template_folder=str(TEMPLATES_FOLDER))
    development = config.env == "development"
    app.config.from_mapping(
        SECRET_KEY=_secret_key(config),
        DATABASE_URL=config.resolved_database_url(),
        # `__Host-`: browsers take it only Secure, for Path=/ and without a Domain, so no other host
        # (a sibling subdomain) can set or shadow it. It needs HTTPS: a plain name in development.
        SESSION_COOKIE_NAME="maillage_session" if development else "__Host-maillage_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not development,
        REMEMBER_COOKIE_HTTPONLY=True,
        # Flask-WTF's HTTPS check wants a Referer, which `Referrer-Policy: no-referrer` (signed links)
        # makes browsers leave out: every form would fail. The token and SameSite cookies remain.
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="America/Montreal",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        RATELIMIT_STORAGE_URI=config.resolved_ratelimit_storage_url(),
        # Next to Celery's keys in a shared Redis, and still counting (per process) when Redis is away.
        RATELIMIT_KEY_PREFIX=f"{config.broker_key_prefix}maillage-limits",
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        PUBLIC_BASE_URL=config.base_url,
        SESSION_IDLE_MINUTES=config.session_idle_minutes,
        SESSION_MAX_HOURS=config.session_max_hours,
        REAUTH_MINUTES=config.reauth_minutes,
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        API_MAX_CONTENT_LENGTH=config.max_api_request_bytes,
    )
    if test_config:
        app.config.update(test_config)

    if config.proxy_hops:
        # The client's address and scheme as the proxies saw them: rate limits count per person.
        hops = config.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    check_catalogs()
    database.init_app(app)
    extensions.babel.init_app(app, locale_selector=select_locale)
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    extensions.login_manager.init_app(app)
    extensions.login_manager.login_view = "auth.sign_in"
    extensions.login_manager.login_message = None
    app.after_request(remember_choice)
    errors.register(app)
    # `/healthz` and `/readyz`: answered without sign-in, cookie, CSRF token or rate limit.
    health.register(app, config)
    # `/metrics` and the timing of each request, when MAILLAGE_METRICS_TOKEN is set.
    metrics.register(app, config)
    # Each request's id in its log lines (JSON with MAILLAGE_LOG_FORMAT=json), its answer and its emails.
    request_ids.register(app, config)
    # Request paths in logs, the app's and its server's, never carry a signed link's token.
    keep_tokens_out_of_logs(app)
    # Before any view: an address with an id no row has, or a NUL, never reaches the database.
    # The API checks its own, after the key (`service.api.blueprint.authenticate`).
    inputs.register(app, exempt={"api"})
    headers.register(app, https=not development)
    templating.register(app)

    from service.accounts.invitation_views import blueprint as invitation
    from service.accounts.reset_views import blueprint as password_reset
    from service.accounts.team_views import blueprint as team
    from service.accounts.views import blueprint as auth
    from service.address_book.views import blueprint as address_book
    from service.api.blueprint import register as register_api
    from service.audit.views import blueprint as audit_log
    from service.calendars.views import blueprint as calendars
    from service.directory.bilan_views import blueprint as bilans
    from service.directory.sheet_views import blueprint as directory_import
    from service.directory.views import blueprint as directory
    from service.documents.views import blueprint as documents
    from service.join_requests.views import blueprint as join_requests
    from service.links.views import blueprint as links
    from service.notifications.failed_views import blueprint as failed_messages
    from service.onboarding.views import blueprint as onboarding
    from service.partnership_requests.link_views import blueprint as request_links
    from service.partnership_requests.views import blueprint as partnership_requests
    from service.practice_notes.views import blueprint as practice_notes
    from service.privacy.views import blueprint as privacy
    from service.protocol_pages.views import blueprint as protocol_pages
    from service.referrals.emergency_views import blueprint as emergency
    from service.referrals.message_views import blueprint as messages
    from service.referrals.paper_views import blueprint as paper
    from service.referrals.person_views import blueprint as person
    from service.referrals.views import blueprint as referrals
    from service.reports.views import blueprint as reports
    from service.standards.views import blueprint as standards
    from service.unmet_needs.views import blueprint as unmet_needs
    from service.web.organization import blueprint as organization

    for blueprint in (
        auth,
        password_reset,
        directory,
        directory_import,
        bilans,
        join_requests,
        onboarding,
        address_book,
        calendars,
        practice_notes,
        links,
        referrals,
        partnership_requests,
        request_links,
        messages,
        documents,
        emergency,
        paper,
        person,
        standards,
        failed_messages,
        privacy,
        audit_log,
        reports,
        protocol_pages,
        unmet_needs,
        organization,
        team,
        invitation,
    ):
        app.register_blueprint(blueprint)
    # The JSON API and its key pages: CSRF-exempt, rate-limited per key, errors in problem+json.
    register_api(app)
    if development:
        # The embedded default's mailbox: what Maillage "sent" on this computer.
        from service.notifications.views import blueprint as mailbox

        app.register_blueprint(mailbox)
    return app


def _secret_key(config: Settings) -> str:
    """The set secret key, or in development the one made once and kept in the data folder."""
    key = config.resolved_secret_key()
    if key is None:
        raise RuntimeError("MAILLAGE_SECRET_KEY must be set outside development (MAILLAGE_ENV=development)")
    return key

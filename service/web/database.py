"""One database session per request, closed when the request ends."""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy.orm import Session

from service.config import settings
from service.db import make_engine
from service.db import session_factory
from service.notifications.publishing import publish_after_commit
from worker.publishing import SendAtOnce

_KEY = "maillage.sessions"


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], write_at_begin=True)
    sessions = session_factory(engine)
    # The emails a request queued are handed to the worker as soon as its transaction commits.
    publish_after_commit(sessions, SendAtOnce(settings()))
    app.extensions[_KEY] = sessions
    app.teardown_appcontext(_close)


def db() -> Session:
    """The current request's session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_KEY]()
    return g.db_session


def _close(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()

"""The calendar pages: « Calendrier » (feed addresses), the feeds themselves, and the regional calendar.

A feed is read by a calendar application, which signs in nowhere: its secret address is the key,
and an unknown or revoked one is a 404 like any missing page. The regional calendar's feed holds
only what organizations chose to make public, and needs no key.
"""

from __future__ import annotations

from datetime import datetime
from datetime import time

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import select

from service.calendars import feeds
from service.calendars.forms import KIND_LABELS
from service.calendars.forms import EventForm
from service.calendars.forms import FeedForm
from service.calendars.forms import FilterForm
from service.calendars.forms import RevokeForm
from service.calendars.ics import MEDIA_TYPE
from service.calendars.ics import calendar_bytes
from service.calendars.models import PublicEvent
from service.calendars.public_events import EventDetails
from service.calendars.public_events import EventRefused
from service.calendars.public_events import cancel_event
from service.calendars.public_events import may_post
from service.calendars.public_events import post_event
from service.calendars.public_events import upcoming_events
from service.calendars.sources import Audience
from service.calendars.sources import catalog
from service.calendars.sources import dated_things
from service.calendars.sources import public_event_dated
from service.directory.models import Need
from service.directory.models import Organization
from service.errors import NotAllowed
from service.extensions import limiter
from service.protocols import protocol_library
from service.unmet_needs.queries import directory_values
from service.web.clock import request_clock
from service.web.database import db
from service.web.templating import current_locale
from workflows.durations import TIME_ZONE

blueprint = Blueprint("calendars", __name__, url_prefix="/calendar")

# Calendar applications read a feed every few minutes to every few hours; a guessing client, faster.
FEED_RATE = "60 per minute"
# What the page lists of her coming dated things, as a check of what her feed holds.
SHOWN = 20


def _base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url


def _ics(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype=MEDIA_TYPE)
    response.headers["Content-Type"] = f"{MEDIA_TYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _needs(english: bool) -> list[tuple[str, str]]:
    needs = db().scalars(select(Need).where(Need.active))
    return sorted(
        ((n.code, n.label_en if english else n.label_fr) for n in needs),
        key=lambda choice: choice[1].casefold(),
    )


# « Calendrier »: her feed, and her organization's for a coordinator.


def _page(token: str | None = None, status: int = 200) -> tuple[str, int]:
    session = db()
    actor = current_user.actor
    own, organization = feeds.feeds_of(session, actor)
    coming = []
    if actor.organization_id is not None:
        audience = Audience(
            actor.organization_id,
            actor.user_id,
            actor.role,
            current_locale(),
            protocol_library(),
            request_clock()(),
        )
        now = audience.now
        coming = [t for t in dated_things(session, audience) if _ends(t) >= now][:SHOWN]
    return (
        render_template(
            "calendars/index.html",
            own=own,
            organization=organization,
            token=token,
            coming=coming,
            feed_form=FeedForm(),
            revoke=RevokeForm(),
        ),
        status,
    )


def _ends(thing) -> datetime:
    end = thing.end or thing.start
    if isinstance(end, datetime):
        return end
    return datetime.combine(end, time(), tzinfo=TIME_ZONE)


@blueprint.get("/")
@login_required
def index() -> tuple[str, int]:
    return _page()


@blueprint.post("/feeds/<scope>")
@login_required
def create_feed(scope: str) -> tuple[str, int]:
    if scope not in ("mine", "organization"):
        abort(404)
    if not FeedForm().validate_on_submit():
        abort(400)
    try:
        _feed, token = feeds.create_feed(
            db(), current_user.actor, for_organization=scope == "organization", clock=request_clock()
        )
    except NotAllowed:
        abort(403)
    return _page(token=token, status=201)


@blueprint.post("/feeds/<int:feed_id>/revoke")
@login_required
def revoke_feed(feed_id: int) -> Response:
    if not RevokeForm().validate_on_submit():
        abort(400)
    try:
        feed = feeds.revoke_feed(db(), current_user.actor, feed_id, clock=request_clock())
    except NotAllowed:
        abort(404)
    flash(
        _("Calendar address %(prefix)s… revoked: it no longer opens anything.", prefix=feed.prefix), "success"
    )
    return redirect(url_for("calendars.index"), 303)


@blueprint.get("/feed/<token>.ics")
@limiter.limit(FEED_RATE)
def feed(token: str) -> Response:
    """An organization's or a person's feed; 404 for an unknown or revoked address."""
    session = db()
    found = feeds.active_feed(session, token)
    if found is None:
        abort(404)
    row, person = found
    language = person.language if person is not None and person.language in ("fr", "en") else "fr"
    now = request_clock()()
    audience = Audience(
        row.organization_id,
        person.id if person is not None else None,
        person.role if person is not None else None,
        language,
        protocol_library(),
        now,
    )
    organization = session.get_one(Organization, row.organization_id)
    words = catalog(language)
    if person is None:
        name = words.gettext("Maillage — %(organization)s") % {"organization": organization.name}
    else:
        name = words.gettext("Maillage — my calendar (%(organization)s)") % {
            "organization": organization.name
        }
    body = calendar_bytes(
        dated_things(session, audience), name=name, base_url=_base_url(), now=now, uid=f"feed-{row.id}"
    )
    return _ics(body, "maillage.ics")


# The regional calendar.


def _filters() -> FilterForm:
    english = current_locale() == "en"
    form = FilterForm(formdata=request.args)
    form.offer(_needs(english), directory_values(db(), "clienteles"))
    if not form.validate():
        # An unknown value filters nothing rather than failing: the list says which filters hold.
        for unknown in (form.clientele, form.need):
            if unknown.errors:
                unknown.data = ""
                unknown.errors = []
    return form


def _event_form() -> EventForm:
    form = EventForm()
    form.offer(_needs(current_locale() == "en"), directory_values(db(), "clienteles"))
    return form


def _events_page(form: EventForm | None = None, status: int = 200) -> tuple[str, int]:
    filters = _filters()
    now = request_clock()()
    events = upcoming_events(db(), now, clientele=filters.clientele.data or "", need=filters.need.data or "")
    poster = may_post(current_user.actor)
    feed_query = {k: v for k, v in (("clientele", filters.clientele.data), ("need", filters.need.data)) if v}
    return (
        render_template(
            "calendars/events.html",
            events=events,
            filters=filters,
            form=(form or _event_form()) if poster else None,
            kinds=KIND_LABELS,
            feed_url=url_for("calendars.regional_feed", _external=True, **feed_query),
        ),
        status,
    )


@blueprint.get("/events")
@login_required
def events() -> tuple[str, int]:
    return _events_page()


# Why `post_event` refused, beside the field it concerns.
REFUSALS = {
    "kind": ("kind", _l("Choose the kind of event.")),
    "title": ("title", _l("Give the event a title.")),
    "ends_before_start": ("ends", _l("The end time must come after the start time.")),
    "in_the_past": ("day", _l("The event must start in the future.")),
    "need": ("needs", _l("Tick needs of the list.")),
}


@blueprint.post("/events")
@login_required
def post() -> tuple[str, int] | Response:
    if not may_post(current_user.actor):
        abort(403)
    form = _event_form()
    if not form.validate_on_submit():
        return _events_page(form, status=422)
    starts = datetime.combine(form.day.data, form.starts.data, tzinfo=TIME_ZONE)
    ends = datetime.combine(form.day.data, form.ends.data, tzinfo=TIME_ZONE)
    details = EventDetails(
        kind=form.kind.data,
        title=form.title.data or "",
        starts_at=starts,
        ends_at=ends,
        description=form.description.data or "",
        place=form.place.data or "",
        clientele=form.clientele.data or "",
        needs=tuple(form.needs.data or ()),
    )
    try:
        event = post_event(db(), current_user.actor, details, clock=request_clock())
    except EventRefused as refused:
        name, message = REFUSALS[refused.code]
        field = getattr(form, name)
        field.errors = [*field.errors, str(message)]
        return _events_page(form, status=422)
    flash(_("The event is on the regional calendar."), "success")
    return redirect(url_for("calendars.event", event_id=event.id), 303)


@blueprint.get("/events/<int:event_id>")
@login_required
def event(event_id: int) -> str:
    found = db().get(PublicEvent, event_id)
    if found is None or found.cancelled_at is not None:
        abort(404)
    own = may_post(current_user.actor) and found.organization_id == current_user.organization_id
    return render_template(
        "calendars/event.html", event=found, kinds=KIND_LABELS, own=own, cancel=RevokeForm()
    )


@blueprint.post("/events/<int:event_id>/cancel")
@login_required
def cancel(event_id: int) -> Response:
    if not RevokeForm().validate_on_submit():
        abort(400)
    try:
        cancel_event(db(), current_user.actor, event_id, clock=request_clock())
    except NotAllowed:
        abort(404)
    flash(_("The event is cancelled: it left the regional calendar."), "success")
    return redirect(url_for("calendars.events"), 303)


@blueprint.get("/events.ics")
@limiter.limit(FEED_RATE)
def regional_feed() -> Response:
    """The regional calendar as a feed, with the page's filters: public events only, no key needed."""
    filters = _filters()
    now = request_clock()()
    found = upcoming_events(db(), now, clientele=filters.clientele.data or "", need=filters.need.data or "")
    language = current_locale()
    name = catalog(language).gettext("Maillage — regional calendar")
    body = calendar_bytes(
        [public_event_dated(e) for e in found], name=name, base_url=_base_url(), now=now, uid="regional"
    )
    return _ics(body, "maillage-region.ics")

"""Attaching a document on a referral's page, and downloading one: the views parse and call
`service.documents.operations`.

A file larger than `MAILLAGE_DOCUMENT_MAX_BYTES` is refused before it is read: the request's
limit is raised for this address alone, to the document's size and a little for the form around
it, before anything reads the body. Flask-WTF's check of every POST reads the body first, under
the pages' own smaller limit, so this view is left out of it and its form checks the CSRF token
itself (every `FlaskForm` does), once the limit is set.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import send_file
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from service import extensions
from service.config import settings
from service.documents.content import DocumentRefused
from service.documents.forms import PREFIX
from service.documents.forms import DocumentForm
from service.documents.operations import add_document
from service.documents.operations import read_document
from service.documents.wording import refusal_text
from service.documents.wording import too_large_text
from service.errors import ConcurrentUpdate
from service.errors import ConsentRequired
from service.referrals.views import page_with_document_form
from service.web.clock import request_clock
from service.web.database import db
from service.web.errors import error_page
from service.web.inputs import uploads_in_memory

blueprint = Blueprint("documents", __name__)
# Room for the form around the file: its boundaries, headers and CSRF token take well under this.
FORM_ALLOWANCE = 64 * 1024


@blueprint.route("/referrals/<int:referral_id>/documents", methods=["POST"])
@login_required
def attach(referral_id: int) -> str | Response | tuple[str, int]:
    """Attach the file sent; a refusal shows the referral's page again, saying why beside the field."""
    limit = settings().document_max_bytes
    request.max_content_length = limit + FORM_ALLOWANCE
    # Her paper is parsed into memory (10 MB at most), never into a temporary file on the disk.
    uploads_in_memory()
    try:
        form = DocumentForm(prefix=PREFIX)
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        form = DocumentForm(prefix=PREFIX, formdata=None)
        form.file.errors = [too_large_text(limit)]
        return page_with_document_form(referral_id, form), 413
    if form.meta.csrf and form.csrf_token.errors:
        return error_page(400, _("The form expired. Go back, reload the page and send it again."))
    if not submitted:
        return page_with_document_form(referral_id, form)
    upload = form.file.data
    # One byte past the limit is enough to know the file is too large: the rest stays unread.
    data = upload.stream.read(limit + 1)
    try:
        add_document(
            db(),
            referral_id,
            current_user.actor,
            data=data,
            sent_name=upload.filename or "",
            max_bytes=limit,
            clock=request_clock(),
        )
    except DocumentRefused as refused:
        why = refusal_text(refused.reason, limit)
    except ConsentRequired:
        why = _("Her consent is not valid: no document can be attached to this referral.")
    except ConcurrentUpdate:
        why = _("This referral changed in the meantime. Attach the document again.")
    else:
        flash(_("Document attached. Only your two organizations can download it."), "success")
        return redirect(url_for("referrals.show", referral_id=referral_id, _anchor="documents-title"), 303)
    form.file.errors = [*form.file.errors, why]
    return page_with_document_form(referral_id, form)


# The form checks its CSRF token itself, after the limit above (see the module's docstring).
extensions.csrf.exempt(attach)


@blueprint.route("/referrals/<int:referral_id>/documents/<int:document_id>")
@login_required
def download(referral_id: int, document_id: int) -> Response | tuple[str, int]:
    """The document, as a download under the name it was attached with; the read is audited."""
    try:
        document, data = read_document(
            db(), referral_id, document_id, current_user.actor, clock=request_clock()
        )
    except ConsentRequired:
        return error_page(403, _("Her consent is no longer valid: her documents are not shown."))
    response = send_file(
        BytesIO(data),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

"""The form that attaches a document to a referral, on its page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired

from service.web.forms import Form

PREFIX = "document"


class DocumentForm(Form):
    """One file; made with `prefix=PREFIX`: the referral's page shows it beside other forms."""

    file = FileField(
        _l("Document (PDF, JPEG or PNG)"), validators=[FileRequired(_l("Choose a file to attach."))]
    )

"""The base of every form of the pages: what no field may hold, checked once for all of them."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import StopValidation

from service.web.inputs import MAX_ID
from service.web.inputs import has_control_characters


def readable(_form: Any, field: Field) -> None:
    """No control character (a NUL...) in what was sent, and no whole number past the database's.

    First of each field's validators: the others (and the view) never see such a value.
    """
    if any(isinstance(sent, str) and has_control_characters(sent) for sent in field.raw_data or ()):
        raise StopValidation(_l("Remove the invisible control characters from this field."))
    values = field.data if isinstance(field.data, list) else [field.data]
    if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_ID for v in values):
        raise StopValidation(_l("This number is too large."))


class Form(FlaskForm):
    """A form whose every field refuses control characters and numbers the database cannot hold."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Field:
            field = super().bind_field(form, unbound_field, options)  # type: ignore[misc]
            field.validators = [readable, *field.validators]
            return field

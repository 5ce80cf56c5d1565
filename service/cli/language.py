"""The language the `maillage` command speaks: French unless told otherwise, like the pages.

`maillage --language en ...` or `MAILLAGE_LANGUAGE=en` choose English. Messages go through
the app's own catalog (`_`); help texts are marked with `_l` and translated when the help is
shown, since click reads them when the commands are defined, before the language is known.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import click
from babel.support import NullTranslations
from babel.support import Translations

from service.web.catalogs import TRANSLATIONS
from service.web.locale import LANGUAGES

ENVIRONMENT = "MAILLAGE_LANGUAGE"
META = "maillage.language"


def current_language() -> str:
    """The language chosen for this command: `--language`, then MAILLAGE_LANGUAGE, then French."""
    context = click.get_current_context(silent=True)
    chosen = context.find_root().meta.get(META) if context is not None else None
    chosen = chosen or os.environ.get(ENVIRONMENT, "").strip().lower()
    return chosen if chosen in LANGUAGES else "fr"


@cache
def _catalog(language: str) -> NullTranslations:
    # Without a compiled catalog (a checkout before `make catalogs`), the English msgids are shown.
    return Translations.load(str(TRANSLATIONS), [language])


def _(message: str, **values: Any) -> str:
    """`message` (an English msgid) in the command's language, with its `%(name)s` filled in."""
    return in_language(current_language(), message, **values)


def in_language(language: str, message: str, **values: Any) -> str:
    """`message` in the given language: for output in another language than the command's own."""
    text = _catalog(language if language in LANGUAGES else "fr").gettext(message)
    return text % values if values else text


def _l(message: str) -> str:
    """Marks a help text for the catalog; `Command` and `Option` translate it when shown."""
    return message


def role_name(role: str) -> str:
    """A role as people call it, in the command's language (the code stays what `--role` takes)."""
    names = {
        "caseworker": _("Caseworker"),
        "coordinator": _("Coordinator"),
        "partner_contact": _("Partner contact"),
        "privacy_officer": _("Privacy officer"),
        "regional_admin": _("Regional admin"),
    }
    return names.get(role, role)


class Option(click.Option):
    """An option whose help is translated when shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        written = self.help
        self.help = _(written) if written else written
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = written


class _Translated(click.Command):
    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        written = self.help
        self.help = _(written) if written else written
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = written

    def get_short_help_str(self, limit: int = 45) -> str:
        written = self.help, self.short_help
        self.help = _(written[0]) if written[0] else written[0]
        self.short_help = _(written[1]) if written[1] else written[1]
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help, self.short_help = written


class Command(_Translated):
    """A command whose help (given as `help=_l(...)`) is translated when shown."""


class Group(_Translated, click.Group):
    """A group of commands whose help is translated when shown; its commands are `Command`s."""

    command_class = Command
    group_class = type


def choose_language(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Keeps the `--language` given (eager: before `--help` is answered) for this invocation."""
    if value:
        ctx.find_root().meta[META] = value
    return value

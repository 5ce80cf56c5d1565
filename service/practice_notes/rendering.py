"""A note's Markdown as HTML that is safe to show in any partner's page.

CommonMark with raw HTML off: `<script>` or `<img onerror>` typed in a note is
shown as text, never as markup. Links go only to web pages, email addresses or
places of this site (no `javascript:`, `data:` or `file:`), and carry
`rel="noopener nofollow"`. Images are off: a picture from elsewhere would tell
its host who reads the note and when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType
from markdown_it.utils import OptionsDict
from markupsafe import Markup

# A scheme is letters, digits, +, - or . before the first colon (RFC 3986); no scheme: this site.
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


class NoteMarkdown(MarkdownIt):
    """CommonMark without raw HTML nor images, whose links lead only where `ALLOWED_SCHEMES` say."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False, "linkify": False, "typographer": False})
        self.disable("image")
        self.add_render_rule("link_open", _link_open)

    def validateLink(self, url: str) -> bool:
        """Whether a link may lead to `url` (already normalized): a web page, an email or this site."""
        found = SCHEME.match(url.strip())
        return found is None or found.group(1).lower() in ALLOWED_SCHEMES


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # Another site gets neither this page (noopener) nor a ranking vote from the network (nofollow).
    tokens[idx].attrSet("rel", "noopener nofollow")
    return str(self.renderToken(tokens, idx, options, env))


_MARKDOWN = NoteMarkdown()


def note_html(text: str) -> Markup:
    """The HTML of a note's Markdown, safe to insert in a page as it is."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - raw HTML is off and links are checked above

"""Bar charts drawn on the server as SVG: no script, no inline style (the CSP allows neither).

Each chart is an image with a title and a description for screen readers;
the page shows the same figures in a table beside it, which is what a screen
reader user reads. A hidden (suppressed) count gets no bar: its length would
give the number back. Colours and fonts come from classes in maillage.css.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from markupsafe import escape

WIDTH = 640
LABEL_HEIGHT = 20
BAR_HEIGHT = 18
GAP = 12
VALUE_ROOM = 90


@dataclass(frozen=True)
class Bar:
    """One bar: what it counts, its number (None when hidden) and the text shown for it."""

    label: str
    value: float | None
    shown: str


def bar_chart(chart_id: str, title: str, description: str, bars: list[Bar]) -> Markup:
    """A horizontal bar chart, each bar under its label, its number at its end."""
    top = max((bar.value or 0 for bar in bars), default=0) or 1
    row = LABEL_HEIGHT + BAR_HEIGHT + GAP
    height = max(row * len(bars), row)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = index * row
        baseline = y + LABEL_HEIGHT + 14
        parts.append(f'<text class="chart-label" x="0" y="{y + 15}">{escape(bar.label)}</text>')
        if bar.value is None:
            parts.append(
                f'<text class="chart-value chart-hidden" x="0" y="{baseline}">{escape(bar.shown)}</text>'
            )
            continue
        length = round((WIDTH - VALUE_ROOM) * bar.value / top, 1)
        parts.append(
            f'<rect class="chart-bar" x="0" y="{y + LABEL_HEIGHT}" width="{length}" height="{BAR_HEIGHT}"/>'
        )
        parts.append(f'<text class="chart-value" x="{length + 6}" y="{baseline}">{escape(bar.shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above went through escape()

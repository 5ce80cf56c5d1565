"""Pictures of a protocol for the people who agree on it: Mermaid text, or a standalone SVG.

Both draw the protocol as a template: no referral, no current state. The SVG
needs no binary and no script; its layout is deliberately simple: states in
columns by their distance from the initial state, forward transitions between
neighbouring columns, and every other transition routed in a lane under the
states so that it never crosses a state.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections import deque
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Literal
from xml.sax.saxutils import escape

from workflows.durations import Duration
from workflows.protocol import Protocol
from workflows.protocol import Transition

LANGUAGES = ("fr", "en")

PARTY_NAMES = {
    "sender": {"fr": "organisme référent", "en": "sending organization"},
    "receiver": {"fr": "organisme receveur", "en": "receiving organization"},
    "sender_coordinator": {"fr": "coordination référente", "en": "sending coordinator"},
    "receiver_coordinator": {"fr": "coordination receveuse", "en": "receiving coordinator"},
    "system": {"fr": "système", "en": "system"},
    # The parties of a request to join the network (subject join_request).
    "requester": {"fr": "organisme demandeur", "en": "requesting organization"},
    "regional_admin": {"fr": "administration régionale", "en": "regional admin"},
    # The parties of a request between two organizations (subject partnership_request).
    "asking": {"fr": "organisme qui demande", "en": "asking organization"},
    "answering": {"fr": "organisme qui répond", "en": "answering organization"},
}

WORDS = {
    "fr": {
        "version": "version",
        "reminder": "rappel après",
        "escalation": "escalade après",
        "reminder_from": "rappel",
        "escalation_from": "escalade",
        "before": "avant",
        "after": "après",
        "start": "● : début",
        "terminal": "double bordure : état final",
        "adjustable": "* : délai ajustable dans l'entente de partenariat",
    },
    "en": {
        "version": "version",
        "reminder": "reminder after",
        "escalation": "escalation after",
        "reminder_from": "reminder",
        "escalation_from": "escalation",
        "before": "before",
        "after": "after",
        "start": "●: start",
        "terminal": "double border: final state",
        "adjustable": "*: delay a partnership agreement may adjust",
    },
}

FRENCH_UNITS = {
    "minutes": ("minute", "minutes"),
    "hours": ("heure", "heures"),
    "days": ("jour", "jours"),
    "business_days": ("jour ouvrable", "jours ouvrables"),
}


# Words shared by both pictures ------------------------------------------------


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of: {', '.join(LANGUAGES)}")


def heading(protocol: Protocol, language: str) -> str:
    """The protocol's title and version, e.g. "Référencement standard (version 1)"."""
    title = protocol.spec.title.in_language(language)
    return f"{title} ({WORDS[language]['version']} {protocol.version})"


def party_names(parties: Iterable[str], language: str) -> str:
    """Who may fire a transition, in a fixed order, e.g. "organisme référent, système"."""
    chosen = set(parties)
    return ", ".join(names[language] for party, names in PARTY_NAMES.items() if party in chosen)


def duration_text(duration: Duration, language: str) -> str:
    """A duration in words: "2 jours ouvrables", "1 hour"."""
    if language == "en":
        return str(duration)
    one, many = FRENCH_UNITS[duration.unit]
    return f"{duration.amount} {one if duration.amount == 1 else many}"


def deadline_lines(
    protocol: Protocol,
    state: str,
    language: str,
    mark_adjustable: bool = False,
    parameters: Mapping[str, str] | None = None,
) -> list[str]:
    """A state's deadline: its title, then one line per step ("rappel après 2 jours ouvrables").

    `parameters`: an agreement's values for the protocol's parameters; the defaults where None.
    """
    deadline = protocol.states[state].deadline
    if deadline is None:
        return []
    lines = [deadline.title.in_language(language)]
    for step in deadline.steps:
        mark = "*" if mark_adjustable and step.after in protocol.spec.parameters else ""
        duration = protocol.duration(step.after, parameters)
        if step.from_field is not None:
            # Counted from one of the request's dates: "rappel 2 jours avant Début du prêt".
            words = WORDS[language]
            side = words["before"] if duration.amount < 0 else words["after"]
            what = protocol.fields[step.from_field].label.in_language(language)
            when = duration_text(Duration(abs(duration.amount), duration.unit), language)
            lines.append(f"{words[step.kind + '_from']} {when} {side} {what}")
            continue
        when = duration_text(duration, language)
        lines.append(f"{WORDS[language][step.kind]} {when}{mark}")
    return lines


# Mermaid ----------------------------------------------------------------------

# Characters that end or change a Mermaid statement, written as its entity codes.
_MERMAID_CODES = {c: f"#{ord(c)};" for c in '#&"%:;<>{}'}
# Phrases Mermaid's lexer reads as keywords wherever they appear on a line.
_MERMAID_PHRASES = re.compile(r"\b(d)(?=irection\s+(?:tb|bt|rl|lr)\b)|\b(e)(?=nd\s+note\b)", re.IGNORECASE)
# State names Mermaid's lexer would take for a keyword.
_MERMAID_KEYWORDS = re.compile(r"^(default.*|note|state|class|classdef|scale|end)$", re.IGNORECASE)


def _mermaid_text(text: str) -> str:
    text = " ".join(text.split())
    text = "".join(_MERMAID_CODES.get(c, c) for c in text)
    return _MERMAID_PHRASES.sub(lambda m: f"#{ord(m.group(0))};", text)


def _mermaid_id(state: str) -> str:
    return f"state_{state}" if _MERMAID_KEYWORDS.match(state) else state


def mermaid(protocol: Protocol, language: str = "fr") -> str:
    """The protocol as a Mermaid ``stateDiagram-v2``, with a title block, deadlines as notes."""
    _check_language(language)
    lines = ["---", f"title: {json.dumps(heading(protocol, language), ensure_ascii=False)}", "---"]
    lines.append("stateDiagram-v2")
    for name, state in protocol.states.items():
        lines.append(f'    state "{_mermaid_text(state.title.in_language(language))}" as {_mermaid_id(name)}')
    lines.append(f"    [*] --> {_mermaid_id(protocol.initial)}")
    for transition in protocol.transitions:
        label = _mermaid_text(
            f"{transition.title.in_language(language)} ({party_names(transition.parties, language)})"
        )
        for source in transition.sources:
            lines.append(f"    {_mermaid_id(source)} --> {_mermaid_id(transition.dest)}: {label}")
    for name, state in protocol.states.items():
        if state.terminal:
            lines.append(f"    {_mermaid_id(name)} --> [*]")
    for name in protocol.states:
        note = deadline_lines(protocol, name, language)
        if note:
            lines.append(f"    note right of {_mermaid_id(name)}")
            lines += [f"        {_mermaid_text(line)}" for line in note]
            lines.append("    end note")
    return "\n".join(lines) + "\n"


# SVG: layout ------------------------------------------------------------------

FONT = "'Segoe UI', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
INK = "#1a1a1a"
MUTED = "#404040"  # 10:1 on white
MARGIN = 24
START_ROOM = 48  # left of the first column, for the start dot
HEADING_ROOM = 44
ROW_GAP = 60
LOOP_ROOM = 64  # more room above a row where a state has a self-loop
CHANNEL_MIN = 80  # between two columns
LANE_GAP = 46
LANE_STEP = 8  # between the vertical parts of two lanes in one channel
PAD_X, PAD_Y = 12, 9
# font size, bold, line height; per kind of line
TEXT = {
    "name": (15, True, 20),
    "deadline": (12.5, False, 17),
    "title": (13, True, 17),
    "who": (12, False, 16),
}

Lines = list[tuple[str, str]]  # (text, kind of line)
Kind = Literal["forward", "vertical", "loop", "lane"]


def _text_width(text: str, kind: str) -> float:
    """A generous estimate of a line's width: there are no font metrics without a renderer."""
    size, bold, _ = TEXT[kind]
    return len(text) * size * (0.56 if bold else 0.5)


def _block_size(lines: Lines, pad_x: float = PAD_X, pad_y: float = PAD_Y) -> tuple[float, float]:
    """Width and height of lines of text with padding around them."""
    width = max(_text_width(text, kind) for text, kind in lines)
    return width + 2 * pad_x, sum(TEXT[kind][2] for _, kind in lines) + 2 * pad_y - 4


@dataclass
class Box:
    """A state drawn as a rectangle; x and y are its top left corner."""

    state: str
    column: int
    row: int
    lines: Lines
    terminal: bool
    width: float = 0
    height: float = 0
    x: float = 0
    y: float = 0

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.width, self.height)


@dataclass
class Edge:
    """One arrow: one transition from one of its source states."""

    transition: Transition
    source: str
    kind: Kind
    path: str = ""

    @property
    def lane(self) -> Transition:
        """The arrows of one transition from several states share a lane, and its label."""
        return self.transition


@dataclass
class Label:
    """A transition's title and parties on a white ground; x is its centre, or its left with anchor start."""

    lines: Lines
    x: float
    cy: float
    anchor: Literal["middle", "start"] = "middle"
    width: float = field(init=False)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.width, self.height = _block_size(self.lines, pad_x=4, pad_y=4)

    def rect(self) -> tuple[float, float, float, float]:
        left = self.x - self.width / 2 if self.anchor == "middle" else self.x - 4
        return (left, self.cy - self.height / 2, self.width, self.height)


@dataclass
class Layout:
    """Where everything of the SVG goes."""

    boxes: dict[str, Box]
    edges: list[Edge] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lanes: dict[Transition, int] = field(default_factory=dict)  # lane -> its rank from the states
    reach: dict[int, float] = field(default_factory=dict)  # column -> where its boxes and labels end
    width: float = 0
    height: float = 0
    start_y: float = 0


def positions(protocol: Protocol) -> dict[str, tuple[int, int]]:
    """Each state's (column, row): column by distance from the initial state, row by discovery order."""
    exits: dict[str, list[str]] = defaultdict(list)
    for transition in protocol.transitions:
        for source in transition.sources:
            exits[source].append(transition.dest)
    column = {protocol.initial: 0}
    queue = deque([protocol.initial])
    while queue:
        state = queue.popleft()
        for dest in exits[state]:
            if dest not in column:
                column[dest] = column[state] + 1
                queue.append(dest)
    last = max(column.values()) + 1
    for state in protocol.states:  # only an unchecked protocol has unreachable states
        column.setdefault(state, last)
    rows: dict[int, int] = defaultdict(int)
    placed = {}
    for state, c in column.items():
        placed[state] = (c, rows[c])
        rows[c] += 1
    return placed


def _transition_label(transition: Transition, language: str) -> Lines:
    return [
        (transition.title.in_language(language), "title"),
        (f"({party_names(transition.parties, language)})", "who"),
    ]


def _boxes(protocol: Protocol, language: str, parameters: Mapping[str, str] | None) -> dict[str, Box]:
    boxes = {}
    for state, (column, row) in positions(protocol).items():
        spec = protocol.states[state]
        lines = [(spec.title.in_language(language), "name")]
        lines += [
            (line, "deadline")
            for line in deadline_lines(protocol, state, language, mark_adjustable=True, parameters=parameters)
        ]
        box = Box(state, column, row, lines, spec.terminal)
        box.width, box.height = _block_size(lines)
        box.width = max(box.width, 110)
        boxes[state] = box
    return boxes


def _kind(source: Box, dest: Box) -> Kind:
    if source is dest:
        return "loop"
    if dest.column == source.column + 1:
        return "forward"
    if dest.column == source.column and abs(dest.row - source.row) == 1:
        return "vertical"
    return "lane"  # backwards, or down past other states of the column


def _rank_lanes(layout: Layout) -> None:
    """Shorter lanes run closer to the states, so that lanes nest instead of crossing."""
    spans: dict[Transition, int] = defaultdict(int)
    for edge in layout.edges:
        if edge.kind == "lane":
            span = abs(layout.boxes[edge.source].column - layout.boxes[edge.transition.dest].column)
            spans[edge.lane] = max(spans[edge.lane], span)
    layout.lanes = {lane: n for n, lane in enumerate(sorted(spans, key=spans.__getitem__))}


def _place_boxes(layout: Layout, language: str) -> float:
    """Place boxes on the grid, with room between columns for labels and lanes; return the grid's bottom."""
    boxes = layout.boxes.values()
    columns = max(box.column for box in boxes) + 1
    rows = max(box.row for box in boxes) + 1
    widths = [max(b.width for b in boxes if b.column == c) for c in range(columns)]
    heights = [max((b.height for b in boxes if b.row == r), default=0) for r in range(rows)]
    channel = [float(CHANNEL_MIN)] * columns
    overhang = [0.0] * columns  # labels of vertical arrows stick out right of their column
    for edge in layout.edges:
        c = layout.boxes[edge.source].column
        width = _block_size(_transition_label(edge.transition, language), pad_x=4, pad_y=4)[0]
        if edge.kind == "forward":
            channel[c] = max(channel[c], width + 32)
        elif edge.kind == "vertical":
            overhang[c] = max(overhang[c], 12 + width - widths[c] / 2)
    lane_room = LANE_STEP * len(layout.lanes) + 16 if layout.lanes else 0
    x = MARGIN + START_ROOM
    lefts = []
    for c in range(columns):
        lefts.append(x)
        layout.reach[c] = x + widths[c] + max(overhang[c], 0)
        x = max(x + widths[c] + channel[c], layout.reach[c] + lane_room) + lane_room
    layout.width = layout.reach[columns - 1] + lane_room + MARGIN
    looped = {layout.boxes[e.source].row for e in layout.edges if e.kind == "loop"}
    y = MARGIN + HEADING_ROOM
    tops = []
    for r in range(rows):
        y += (ROW_GAP if r else 16) + (LOOP_ROOM if r in looped else 0)
        tops.append(y)
        y += heights[r]
    for box in boxes:
        box.x = lefts[box.column] + (widths[box.column] - box.width) / 2
        box.y = tops[box.row] + (heights[box.row] - box.height) / 2
    return y


def _ports(layout: Layout, initial: str) -> dict[Hashable, float]:
    """Where each arrow meets each box: spread along the side, ordered to avoid crossings."""
    sides: dict[tuple[str, str], dict[Hashable, tuple[float, ...]]] = defaultdict(dict)
    sides[(initial, "left")]["start"] = (-1e9,)
    for i, edge in enumerate(layout.edges):
        source, dest = layout.boxes[edge.source], layout.boxes[edge.transition.dest]
        if edge.kind == "forward":
            sides[(source.state, "right")][(i, "out")] = (dest.cy, i)
            sides[(dest.state, "left")][(i, "in")] = (source.cy, i)
        elif edge.kind == "lane":
            # Lanes further out leave and enter higher up, so that lanes do not cross each other.
            sides[(source.state, "right")][(i, "out")] = (1e9, -layout.lanes[edge.lane])
            sides[(dest.state, "left")][edge.lane] = (1e9, -layout.lanes[edge.lane])
        elif edge.kind == "vertical":
            upper, lower = sorted((source, dest), key=lambda box: box.row)
            sides[(upper.state, "bottom")][(i, "upper")] = (i,)
            sides[(lower.state, "top")][(i, "lower")] = (i,)
        else:
            sides[(source.state, "top")][(i, "loop")] = (i,)
    where: dict[Hashable, float] = {}
    for (state, side), attached in sides.items():
        box = layout.boxes[state]
        start, length = (box.y, box.height) if side in ("left", "right") else (box.x, box.width)
        for n, key in enumerate(sorted(attached, key=attached.__getitem__)):
            where[key] = start + length * (n + 1) / (len(attached) + 1)
    return where


def _forward(layout: Layout, i: int, where: dict[Hashable, float], label: Lines) -> Label:
    """A curve to the next column; its label where neighbouring curves are furthest apart."""
    edge = layout.edges[i]
    source, dest = layout.boxes[edge.source], layout.boxes[edge.transition.dest]
    x0, y0, x1, y1 = source.x + source.width, where[(i, "out")], dest.x, where[(i, "in")]
    bend = (x1 - x0) / 2
    edge.path = f"M{x0:.1f},{y0:.1f} C{x0 + bend:.1f},{y0:.1f} {x1 - bend:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
    fan_out = sum(e.kind == "forward" and e.source == edge.source for e in layout.edges)
    fan_in = sum(e.kind == "forward" and e.transition.dest == dest.state for e in layout.edges)
    t = 0.5 + 0.15 * ((fan_out > fan_in) - (fan_out < fan_in))
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3)
    x = sum(w * v for w, v in zip(weights, (x0, x0 + bend, x1 - bend, x1), strict=True))
    y = sum(w * v for w, v in zip(weights, (y0, y0, y1, y1), strict=True))
    text = Label(label, x, y)
    text.x = min(max(x, x0 + 8 + text.width / 2), x1 - 16 - text.width / 2)  # clear of boxes and arrowhead
    return text


def _vertical(layout: Layout, i: int, where: dict[Hashable, float], label: Lines) -> Label:
    """A straight line to the state just above or below; its label on its right."""
    edge = layout.edges[i]
    source, dest = layout.boxes[edge.source], layout.boxes[edge.transition.dest]
    upper, lower = sorted((source, dest), key=lambda box: box.row)
    top = (where[(i, "upper")], upper.y + upper.height)
    bottom = (where[(i, "lower")], lower.y)
    (x0, y0), (x1, y1) = (top, bottom) if source is upper else (bottom, top)
    edge.path = f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"
    return Label(label, max(x0, x1) + 10, (y0 + y1) / 2, anchor="start")


def _loop(layout: Layout, i: int, where: dict[Hashable, float], label: Lines) -> Label:
    """A loop over the top of the state; its label above it."""
    edge = layout.edges[i]
    x, y = where[(i, "loop")], layout.boxes[edge.source].y
    edge.path = (
        f"M{x - 10:.1f},{y:.1f} C{x - 36:.1f},{y - 48:.1f} {x + 36:.1f},{y - 48:.1f} {x + 10:.1f},{y:.1f}"
    )
    text = Label(label, x, 0)
    text.cy = y - 40 - text.height / 2
    return text


def _lane(layout: Layout, i: int, where: dict[Hashable, float], lane_y: float) -> tuple[float, float]:
    """Right out of the source, down to the lane under the states, along it, up into the destination.

    Returns where the arrow meets the lane, left and right.
    """
    edge = layout.edges[i]
    source, dest = layout.boxes[edge.source], layout.boxes[edge.transition.dest]
    offset = 12 + LANE_STEP * layout.lanes[edge.lane]
    down = layout.reach[source.column] + offset
    up = _column_left(layout, dest.column) - offset
    x0, y0, y1 = source.x + source.width, where[(i, "out")], where[edge.lane]
    edge.path = f"M{x0:.1f},{y0:.1f} H{down:.1f} V{lane_y:.1f} H{up:.1f} V{y1:.1f} H{dest.x:.1f}"
    return min(up, down), max(up, down)


def _column_left(layout: Layout, column: int) -> float:
    return min(box.x for box in layout.boxes.values() if box.column == column)


def _route(layout: Layout, protocol: Protocol, language: str, grid_bottom: float) -> float:
    """Give every arrow its path and label; return the bottom of the lowest lane."""
    where = _ports(layout, protocol.initial)
    layout.start_y = where["start"]
    lane_y = {lane: grid_bottom + 40 + LANE_GAP * n for lane, n in layout.lanes.items()}
    spans: dict[Transition, list[float]] = defaultdict(list)
    for i, edge in enumerate(layout.edges):
        label = _transition_label(edge.transition, language)
        if edge.kind == "lane":
            spans[edge.lane] += _lane(layout, i, where, lane_y[edge.lane])
        else:
            route = {"forward": _forward, "vertical": _vertical, "loop": _loop}[edge.kind]
            layout.labels.append(route(layout, i, where, label))
    for lane, xs in spans.items():
        text = Label(_transition_label(lane, language), (min(xs) + max(xs)) / 2, 0)
        text.cy = lane_y[lane] + 3 + text.height / 2  # under its lane, above the next one
        layout.labels.append(text)
    return max(lane_y.values(), default=grid_bottom)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _separate_labels(layout: Layout) -> None:
    """Move each label down until it covers neither a state nor an earlier label."""
    taken = [box.rect() for box in layout.boxes.values()]
    for label in layout.labels:
        while hit := next((rect for rect in taken if _overlaps(label.rect(), rect)), None):
            label.cy = hit[1] + hit[3] + label.height / 2 + 2
        taken.append(label.rect())


def layout(protocol: Protocol, language: str, parameters: Mapping[str, str] | None = None) -> Layout:
    """Where every state, arrow and label of the SVG goes."""
    boxes = _boxes(protocol, language, parameters)
    result = Layout(boxes)
    result.edges = [
        Edge(t, source, _kind(boxes[source], boxes[t.dest]))
        for t in protocol.transitions
        for source in t.sources
    ]
    _rank_lanes(result)
    grid_bottom = _place_boxes(result, language)
    lanes_bottom = _route(result, protocol, language, grid_bottom)
    _separate_labels(result)
    rects = [label.rect() for label in result.labels]
    result.width = max([result.width] + [x + w + MARGIN for x, _, w, _ in rects])
    result.height = max([lanes_bottom] + [y + h for _, y, _, h in rects]) + 24 + 2 * MARGIN
    return result


# SVG: text out ----------------------------------------------------------------


def _text(lines: Lines, x: float, top: float, anchor: str) -> str:
    """Lines of text, the first one's top at `top`."""
    out = []
    y = top
    for text, kind in lines:
        size, bold, height = TEXT[kind]
        y += height
        weight = ' font-weight="bold"' if bold else ""
        color = MUTED if kind == "who" else INK
        out.append(
            f'<text x="{x:.1f}" y="{y - height * 0.28:.1f}" font-size="{size}"{weight} fill="{color}" '
            f'text-anchor="{anchor}">{escape(text)}</text>'
        )
    return "".join(out)


def _svg_box(box: Box) -> str:
    fill, stroke = ("#f1f1f1", "#333333") if box.terminal else ("#e8f0fa", "#1f4e79")
    out = [
        f'<g class="state" data-state="{box.state}">',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" rx="8" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.6"/>',
    ]
    if box.terminal:  # a double border, as in UML
        out.append(
            f'<rect x="{box.x + 4:.1f}" y="{box.y + 4:.1f}" width="{box.width - 8:.1f}" '
            f'height="{box.height - 8:.1f}" rx="5" fill="none" stroke="{stroke}" stroke-width="1.2"/>'
        )
    out += [_text(box.lines, box.cx, box.y + PAD_Y - 2, "middle"), "</g>"]
    return "".join(out)


def _svg_label(label: Label) -> str:
    x, y, width, height = label.rect()
    return (
        f'<g class="label"><rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" rx="4" '
        f'fill="#ffffff" fill-opacity="0.95"/>{_text(label.lines, label.x, y, label.anchor)}</g>'
    )


def svg(protocol: Protocol, language: str = "fr", parameters: Mapping[str, str] | None = None) -> str:
    """The protocol as a standalone SVG picture, with no script, readable by screen readers.

    `parameters`: an agreement's values, drawn in place of the protocol's default delays.
    """
    _check_language(language)
    drawing = layout(protocol, language, parameters)
    ident = f"protocol-{protocol.name}-v{protocol.version}"
    title = heading(protocol, language)
    words = WORDS[language]
    legend = [words["start"], words["terminal"]]
    if any(text.endswith("*") for box in drawing.boxes.values() for text, _ in box.lines):
        legend.append(words["adjustable"])
    arrow = f'stroke="{INK}" stroke-width="1.6" fill="none" marker-end="url(#{ident}-arrow)"'
    start_x, start_y = drawing.boxes[protocol.initial].x, drawing.start_y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'width="{drawing.width:.0f}" height="{drawing.height:.0f}" '
        f'viewBox="0 0 {drawing.width:.0f} {drawing.height:.0f}" font-family="{FONT}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(protocol.spec.description.in_language(language))}</desc>',
        f'<defs><marker id="{ident}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" '
        'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 20}" font-size="20" font-weight="bold" fill="{INK}">'
        f"{escape(title)}</text>",
        f'<circle class="start" cx="{MARGIN + 8}" cy="{start_y:.1f}" r="8" fill="{INK}"/>',
        f'<path d="M{MARGIN + 16},{start_y:.1f} H{start_x:.1f}" {arrow}/>',
    ]
    for edge in drawing.edges:
        parts.append(
            f'<path class="transition" data-trigger="{edge.transition.trigger}" data-source="{edge.source}" '
            f'data-dest="{edge.transition.dest}" d="{edge.path}" {arrow} stroke-linejoin="round"/>'
        )
    parts += [_svg_box(box) for box in drawing.boxes.values()]
    parts += [_svg_label(label) for label in drawing.labels]
    parts.append(
        f'<text x="{MARGIN}" y="{drawing.height - MARGIN:.1f}" font-size="13" fill="{MUTED}">'
        f"{escape('   ·   '.join(legend))}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

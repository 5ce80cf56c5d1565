"""Small cells: no woman may be singled out from the region's figures.

A count from 1 to 4 is shown as "< 5" (primary suppression). That is not
enough when the table shows totals: a row "3 + 40 = 43" with only the 3
hidden gives it back by subtraction. So every line of a table (a row with its
total, a column with its total, the totals with the grand total) must hide
either nothing or at least two of its numbers; where a line hides exactly
one, the smallest other number of that line is hidden too (secondary
suppression), and so on until every line holds. A zero is shown: it singles
no one out.

Tables are additive: each row's last number is the sum of the others, and the
last row holds the column totals.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 5
SMALL = "small"
SECONDARY = "secondary"


@dataclass(frozen=True)
class Cell:
    """A count as a report shows it: the number, or why it is hidden."""

    value: int
    hidden: str | None = None

    @property
    def shown(self) -> str:
        if self.hidden == SMALL:
            return f"< {THRESHOLD}"
        if self.hidden == SECONDARY:
            return "x"
        return str(self.value)

    @property
    def visible(self) -> int | None:
        return None if self.hidden else self.value


def is_small(value: int) -> bool:
    return 0 < value < THRESHOLD


def suppress(table: list[list[int]]) -> list[list[Cell]]:
    """Hide the small counts of an additive table with its margins, and enough others that none comes back.

    `table` has one row per category plus a last row of column totals, and in
    each row a last number that is the row's total.
    """
    hidden = [[SMALL if is_small(value) else None for value in row] for row in table]
    lines = [[(i, j) for j in range(len(row))] for i, row in enumerate(table)]
    lines += [[(i, j) for i in range(len(table))] for j in range(len(table[0]))] if table else []
    changed = True
    while changed:
        changed = False
        for line in lines:
            concealed = [place for place in line if hidden[place[0]][place[1]]]
            if len(concealed) != 1:
                continue
            candidates = [place for place in line if not hidden[place[0]][place[1]]]
            if not candidates:
                continue
            # The smallest number that is not zero, a cell before a total, then the first in reading order.
            last = len(line) - 1
            i, j = min(
                candidates,
                key=lambda place: (
                    table[place[0]][place[1]] == 0,
                    line.index(place) == last,
                    table[place[0]][place[1]],
                    place,
                ),
            )
            hidden[i][j] = SECONDARY
            changed = True
    return [
        [Cell(value, why) for value, why in zip(row, reasons, strict=True)]
        for row, reasons in zip(table, hidden, strict=True)
    ]


def suppress_line(values: list[int]) -> tuple[list[Cell], Cell]:
    """A single row of counts and its total (e.g. referrals by state): the cells and the total."""
    (row,) = suppress([[*values, sum(values)]])
    return row[:-1], row[-1]


def suppressed_count(value: int) -> Cell:
    """A count shown alone, without a total beside it."""
    return Cell(value, SMALL if is_small(value) else None)


def suppressed_share(part: int, whole: int, percent: int | None) -> int | None:
    """A percentage that could single someone out (its part or the rest from 1 to 4) is not shown."""
    if percent is None or is_small(part) or is_small(whole - part):
        return None
    return percent


def suppressed_spread_count(count: int) -> bool:
    """Whether a median over `count` referrals may be shown: fewer than five could describe one woman."""
    return count >= THRESHOLD

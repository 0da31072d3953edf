"""A virtual table of a run's sites that stays fluid at tens of thousands of rows.

Only the lines on screen are ever rendered (Textual's Line API), changes arrive
in batches, and column widths are fixed, so a batch that touches rows off screen
costs a dictionary update and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.monitoring import OutcomeRow
from sdx_tui.widgets.status_badge import STATUS_COLOURS, status_label

O = OutcomeStatus  # noqa: E741

SEVERITY = {
    status: rank
    for rank, status in enumerate(
        [
            O.FAILED,
            O.TIMED_OUT,
            O.EXPIRED,
            O.DELIVERED,
            O.PENDING,
            O.CANCELLED,
            O.SKIPPED,
            O.COMPLETED,
        ]
    )
}
"""Sorting by state puts what needs a person's eyes first."""


class SortKey(enum.StrEnum):
    """The columns the table can be ordered by."""

    SITE = "site"
    STATUS = "status"
    ATTEMPTS = "attempts"
    UPDATED = "updated"


_SORT_VALUES: dict[SortKey, Callable[[OutcomeRow], tuple[object, ...]]] = {
    SortKey.SITE: lambda row: (row.site_name, row.outcome_id),
    SortKey.STATUS: lambda row: (SEVERITY[row.status], row.site_name, row.outcome_id),
    SortKey.ATTEMPTS: lambda row: (row.attempts, row.site_name, row.outcome_id),
    SortKey.UPDATED: lambda row: (row.updated_at, row.site_name, row.outcome_id),
}


@dataclass(frozen=True)
class Column:
    """One column: its heading, its width in cells, the key that sorts by it."""

    label: str
    width: int
    sort: SortKey | None = None


COLUMNS = (
    Column("Site", 28, SortKey.SITE),
    Column("Status", 11, SortKey.STATUS),
    Column("Tries", 5, SortKey.ATTEMPTS),
    Column("Delivered", 9),
    Column("Finished", 9),
    Column("Updated", 9, SortKey.UPDATED),
    Column("Error", 0),
)
"""Fixed widths: measuring columns on each change is what makes big tables slow.
The last column takes the width that is left."""


def _printable(text: str) -> str:
    return "".join(" " if ch < " " or ch == "\x7f" else ch for ch in text)


class OutcomeTable(ScrollView, can_focus=True):
    """The sites of one run, one line each, filtered and sorted."""

    DEFAULT_CSS = """
    OutcomeTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .outcome-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .outcome-table--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .outcome-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .outcome-table--empty {
            color: $foreground-muted;
            text-style: italic;
        }
    }
    """

    COMPONENT_CLASSES = {
        "outcome-table--header",
        "outcome-table--cursor",
        "outcome-table--empty",
    }

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "choose", "Open log", tooltip="Show this site's log"),
    ]

    class SiteChosen(Message):
        """A person chose a site (enter, or a click on the cursor line)."""

        def __init__(self, table: OutcomeTable, row: OutcomeRow) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> OutcomeTable:
            """The table the site was chosen in."""
            return self.table

    filter_text: reactive[str] = reactive("")
    """Rows whose site, state or error contain this (any case) are shown."""

    sort_key: reactive[SortKey] = reactive(SortKey.SITE)
    """The column the rows are ordered by."""

    sort_reverse: reactive[bool] = reactive(False)
    """Whether the order is descending."""

    cursor: var[int] = var(0, always_update=True)
    """The index of the highlighted row among the rows shown."""

    def __init__(
        self,
        *,
        time_zone: str = "UTC",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.zone = ZoneInfo(time_zone)
        """The zone times are shown in."""
        self._rows: dict[int, OutcomeRow] = {}
        self._order: list[OutcomeRow] = []
        self._position: dict[int, int] = {}
        self._status_styles: dict[tuple[str, OutcomeStatus], Style] = {}

    @property
    def row_count(self) -> int:
        """How many rows the table holds, shown or not."""
        return len(self._rows)

    @property
    def shown(self) -> Sequence[OutcomeRow]:
        """The rows that pass the filter, in display order."""
        return self._order

    @property
    def cursor_row(self) -> OutcomeRow | None:
        """The highlighted row, if any row is shown."""
        if 0 <= self.cursor < len(self._order):
            return self._order[self.cursor]
        return None

    def apply(self, rows: Iterable[OutcomeRow]) -> int:
        """Take a batch of new or changed rows; returns how many differed.

        Rows whose place in the order stays the same are repainted only if
        they are on screen; otherwise the order is rebuilt once for the batch.
        """
        changed: list[tuple[OutcomeRow | None, OutcomeRow]] = []
        for row in rows:
            old = self._rows.get(row.outcome_id)
            if old != row:
                self._rows[row.outcome_id] = row
                changed.append((old, row))
        if not changed:
            return 0

        order_key = _SORT_VALUES[self.sort_key]
        if any(
            old is None
            or order_key(old) != order_key(new)
            or self._matches(old) != self._matches(new)
            for old, new in changed
        ):
            self._rebuild()
        else:
            for _, row in changed:
                index = self._position.get(row.outcome_id)
                if index is not None:
                    self._order[index] = row
                    self._refresh_row(index)
        return len(changed)

    def clear(self) -> None:
        """Drop every row."""
        self._rows.clear()
        self._rebuild()

    def sort_by(self, key: SortKey) -> None:
        """Order by ``key``; choosing the current key again reverses the order."""
        if key is self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = key

    def watch_filter_text(self) -> None:
        self._rebuild()

    def watch_sort_key(self) -> None:
        self._rebuild()

    def watch_sort_reverse(self) -> None:
        self._rebuild()

    def validate_cursor(self, cursor: int) -> int:
        return max(0, min(cursor, len(self._order) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_cursor_into_view()

    def _matches(self, row: OutcomeRow) -> bool:
        needle = self.filter_text.strip().lower()
        if not needle:
            return True
        return (
            needle in row.site_name.lower()
            or needle in status_label(row.status)
            or needle in row.error.lower()
        )

    def _rebuild(self) -> None:
        selected = self.cursor_row
        rows = [row for row in self._rows.values() if self._matches(row)]
        rows.sort(key=_SORT_VALUES[self.sort_key], reverse=self.sort_reverse)
        self._order = rows
        self._position = {row.outcome_id: i for i, row in enumerate(rows)}
        self.virtual_size = Size(0, len(rows) + 1)

        # The highlight follows the site it was on, wherever that row moved.
        index = self._position.get(selected.outcome_id) if selected else None
        self.set_reactive(OutcomeTable.cursor, self.validate_cursor(index or 0))
        if index is not None:
            self._scroll_cursor_into_view()
        self.refresh()

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif self.cursor >= top + self._page:
            target = self.cursor - self._page + 1
            self.scroll_to(y=target, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        line = index - round(self.scroll_y) + 1
        if 1 <= line <= self._page:
            self.refresh(Region(0, line, self.size.width, 1))

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self.cursor -= self._page

    def action_page_down(self) -> None:
        self.cursor += self._page

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self._order) - 1

    def action_choose(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.SiteChosen(self, row))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x)
            if column is not None and column.sort is not None:
                self.sort_by(column.sort)
            return
        index = round(self.scroll_y) + event.y - 1
        if index >= len(self._order):
            return
        if index == self.cursor:
            self.action_choose()
        else:
            self.cursor = index

    def _column_at(self, x: int) -> Column | None:
        left = 0
        for column in COLUMNS:
            if column.width == 0 or x < left + column.width + 1:
                return column
            left += column.width + 1
        return None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("outcome-table--header")
            return self._strip(self._headings(), [header] * len(COLUMNS), width, base)

        index = round(self.scroll_y) + y - 1
        if index >= len(self._order):
            if index == 0 and self._rows:
                empty = self.get_component_rich_style("outcome-table--empty")
                text = f" No site matches {self.filter_text.strip()!r}"
                return Strip([Segment(set_cell_size(text, width), base + empty)], width)
            return Strip.blank(width, base)

        row = self._order[index]
        line_style = base
        if index == self.cursor:
            line_style = base + self.get_component_rich_style("outcome-table--cursor")
        styles = [Style()] * len(COLUMNS)
        styles[1] = self._status_style(row.status)
        return self._strip(self._cells(row), styles, width, line_style)

    def _headings(self) -> list[str]:
        arrow = " ▼" if self.sort_reverse else " ▲"
        return [
            column.label + (arrow if column.sort is self.sort_key else "")
            for column in COLUMNS
        ]

    def _cells(self, row: OutcomeRow) -> list[str]:
        return [
            row.site_name,
            status_label(row.status),
            str(row.attempts),
            self._clock(row.delivered_at),
            self._clock(row.finished_at),
            self._clock(row.updated_at),
            _printable(row.error.split("\n", 1)[0]),
        ]

    def _clock(self, value: datetime | None) -> str:
        return value.astimezone(self.zone).strftime("%H:%M:%S") if value else ""

    def _status_style(self, status: OutcomeStatus) -> Style:
        key = (self.app.theme, status)
        style = self._status_styles.get(key)
        if style is None:
            colour = STATUS_COLOURS.get(str(status), "foreground")
            raw = self.app.theme_variables.get(colour, "")
            style = Style(bold=True)
            if raw:
                style += Style(color=Color.parse(raw).rich_color)
            self._status_styles[key] = style
        return style

    def _strip(
        self, cells: list[str], styles: list[Style], width: int, line_style: Style
    ) -> Strip:
        segments = [Segment(" ", line_style)]
        used = 1
        for cell, column, style in zip(cells, COLUMNS, styles, strict=True):
            size = column.width or max(0, width - used)
            text = set_cell_size(cell, size)
            segments.append(Segment(text, line_style + style))
            used += size
            if used < width:
                segments.append(Segment(" ", line_style))
                used += 1
        return Strip(segments).crop_extend(0, width, line_style)

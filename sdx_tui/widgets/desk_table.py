"""A DataTable kept in step with a keyed list of rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

Row = tuple[str, Sequence[Any]]
"""A row key and the values of its cells, in column order."""


class DeskTable(DataTable[Any]):
    """A row-cursor table that updates rows in place by key.

    Refreshing a list every few seconds with ``clear()`` and ``add_row()`` would
    re-measure every column and lose the cursor; :meth:`sync_rows` only touches
    the cells that changed and keeps the cursor on the same row.
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="Open the highlighted row"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._column_spec = list(columns)

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":
            return self.row_count > 0
        return True

    @property
    def current_key(self) -> str | None:
        """The key of the highlighted row, if there is one."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def row_keys(self) -> list[str]:
        """Every row key, in display order."""
        return [str(row.key.value) for row in self.ordered_rows]

    def sync_rows(self, rows: Sequence[Row]) -> None:
        """Show exactly ``rows``, in that order, changing as little as possible."""
        wanted = [key for key, _ in rows]
        if wanted == self.row_keys():
            columns = [column.key for column in self.ordered_columns]
            for key, cells in rows:
                current = self.get_row(key)
                for column, old, new in zip(columns, current, cells, strict=False):
                    if old != new:
                        self.update_cell(key, column, new, update_width=True)
            return

        highlighted = self.current_key
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if highlighted in wanted:
            self.move_cursor(row=wanted.index(highlighted), animate=False)
        self.refresh_bindings()

    def move_to_key(self, key: str) -> bool:
        """Put the cursor on the row ``key``; whether it exists."""
        keys = self.row_keys()
        if key not in keys:
            return False
        self.move_cursor(row=keys.index(key), animate=False)
        return True

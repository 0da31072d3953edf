"""One run: its counts, and every site's outcome in a table that filters and sorts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, ProgressBar, Static

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.monitoring import OutcomeFeed, OutcomeRow, RunSummary, run_summary
from sdx_tui.screens.run_actions import LiveState, RunActionsScreen
from sdx_tui.screens.site_log import SiteLogScreen
from sdx_tui.widgets.outcome_table import OutcomeTable, SortKey
from sdx_tui.widgets.status_badge import StatusBadge, status_label

SORT_CYCLE = list(SortKey)


@dataclass(frozen=True)
class RunUpdate:
    """What one read of a run brings: its summary and the outcomes that changed."""

    summary: RunSummary
    changed: list[OutcomeRow]


def counts_line(summary: RunSummary) -> str:
    """``12 sites · 3 pending · 8 completed · 1 failed``: the states present."""
    parts = [f"{summary.total} site(s)"]
    parts.extend(
        f"{summary.count(status)} {status_label(status)}"
        for status in OutcomeStatus
        if summary.count(status)
    )
    return " · ".join(parts)


class RunDetailScreen(RunActionsScreen):
    """A run's sites, live; ``enter`` on a site opens its log."""

    HELP_TITLE = "Run"
    HELP = """\
## A run's sites

One line per site with its state, delivery attempts, times and the start of
any error. The table renders only the lines on screen, so it stays quick with
tens of thousands of sites; changes are read twice a second.

- `/` filters by site name, state or error text; `escape` clears the filter.
- `s` sorts by the next column, `S` reverses the order (or click a heading).
- `enter` opens the site's log and output.
- `t`, `l`, `x` and `R` test, launch, cancel or retry, after a confirmation.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter the sites"),
        Binding("s", "next_sort", "Sort", id="sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self._summary: RunSummary | None = None
        self._feed: OutcomeFeed | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="run-head"):
            yield Static(f"Run {self.run_id}", id="run-title", markup=False)
            yield StatusBadge(id="run-status")
        with Horizontal(id="run-progress"):
            yield Static(id="run-counts")
            yield ProgressBar(show_eta=False, id="run-bar")
        yield LiveState(id="run-state")
        yield OutcomeTable(id="outcomes", time_zone=self.desk.settings.time_zone)
        yield Input(
            placeholder="Filter sites by name, state or error",
            id="site-filter",
        )

    def on_mount(self) -> None:
        self._feed = OutcomeFeed(self.desk.database, self.run_id)
        self.query_one("#site-filter").display = False
        self._table.loading = True
        self._table.focus()

    @property
    def _table(self) -> OutcomeTable:
        return self.query_one("#outcomes", OutcomeTable)

    def load(self, database: Database) -> RunUpdate:
        assert self._feed is not None
        changed = self._feed.poll()
        # The summary is read after the rows so its counts are never older.
        return RunUpdate(run_summary(database, self.run_id), changed)

    def show(self, data: RunUpdate) -> None:
        table = self._table
        table.loading = False
        table.apply(data.changed)
        if data.summary != self._summary:
            self._summary = data.summary
            self._show_summary(data.summary)
            self.refresh_run_keys()

    def _show_summary(self, summary: RunSummary) -> None:
        self.query_one("#run-title", Static).update(
            f"Run {summary.run_id} · {summary.kind.value} · script "
            f"{summary.script_id} “{summary.description}”"
        )
        self.query_one("#run-status", StatusBadge).status = summary.status.value
        self.query_one("#run-counts", Static).update(counts_line(summary))
        self.query_one("#run-bar", ProgressBar).update(
            total=summary.total, progress=summary.settled
        )

    def describe(self) -> str:
        table = self._table
        order = "descending" if table.sort_reverse else "ascending"
        return (
            f"{len(table.shown)} of {table.row_count} shown · "
            f"sorted by {table.sort_key.value}, {order}"
        )

    def current_run(self) -> RunSummary | None:
        return self._summary

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        filtering = self.query_one("#site-filter", Input).has_focus
        if action in ("next_sort", "reverse_sort", "filter") and filtering:
            return False
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        filter_input = self.query_one("#site-filter", Input)
        if filter_input.display:
            filter_input.value = ""
            self._close_filter()
            return
        self.dismiss()

    def action_filter(self) -> None:
        filter_input = self.query_one("#site-filter", Input)
        filter_input.display = True
        filter_input.focus()
        self.refresh_bindings()

    def _close_filter(self) -> None:
        filter_input = self.query_one("#site-filter", Input)
        filter_input.display = bool(filter_input.value)
        self._table.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "site-filter":
            self._table.filter_text = event.value
            self.show_state()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "site-filter":
            self._close_filter()

    def action_next_sort(self) -> None:
        table = self._table
        table.sort_key = SORT_CYCLE[
            (SORT_CYCLE.index(table.sort_key) + 1) % len(SORT_CYCLE)
        ]
        self.show_state()

    def action_reverse_sort(self) -> None:
        self._table.sort_reverse = not self._table.sort_reverse
        self.show_state()

    def on_outcome_table_site_chosen(self, event: OutcomeTable.SiteChosen) -> None:
        self.app.push_screen(SiteLogScreen(event.row.site_id, run_id=self.run_id))

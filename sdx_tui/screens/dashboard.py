"""The Runs section: every recent run with its outcome counts, updating live."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Label, ListItem, ListView, ProgressBar, Static

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.monitoring import RunSummary, runs_overview
from sdx_tui.screens.run_actions import RunActionsScreen
from sdx_tui.screens.run_detail import RunDetailScreen
from sdx_tui.widgets.status_badge import status_text

O = OutcomeStatus  # noqa: E741

RUNS_SHOWN = 50
"""How many of the newest runs the dashboard lists."""

COUNTED = (
    (O.PENDING, "Pending"),
    (O.DELIVERED, "Delivered"),
    (O.COMPLETED, "Completed"),
    (O.FAILED, "Failed"),
    (O.TIMED_OUT, "Timed out"),
)
"""The outcome states the dashboard has a column for, and their headings."""


def counts_text(summary: RunSummary) -> str:
    """The count columns of one run, aligned under :func:`counts_heading`."""
    return " ".join(
        f"{summary.count(status):>{len(heading)}}" for status, heading in COUNTED
    )


def counts_heading() -> str:
    """The headings of the count columns."""
    return " ".join(heading for _, heading in COUNTED)


class RunItem(ListItem):
    """One run on the dashboard: what, its state, its counts and its progress."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(id=f"run-{summary.run_id}", classes="run-item")
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Horizontal(classes="run-row"):
            yield Label(f"#{self.summary.run_id}", classes="col-run")
            yield Label(self.summary.kind.value, classes="col-kind")
            yield Label(self.summary.description, classes="col-script", markup=False)
            yield Label(classes="col-status")
            yield Label(classes="col-counts")
            yield ProgressBar(show_eta=False, classes="col-progress")

    def on_mount(self) -> None:
        self._paint()

    def update_summary(self, summary: RunSummary) -> None:
        """Show ``summary``; the widgets repaint only if it differs."""
        if summary != self.summary:
            self.summary = summary
            self._paint()

    def _paint(self) -> None:
        summary = self.summary
        self.query_one(".col-status", Label).update(
            status_text(summary.status, self.app.theme_variables)
        )
        self.query_one(".col-counts", Label).update(counts_text(summary))
        self.query_one(ProgressBar).update(
            total=summary.total, progress=summary.settled
        )


class DashboardScreen(RunActionsScreen):
    """Recent runs, newest first, with counts per state and a progress bar each."""

    HELP_TITLE = "Runs"
    HELP = """\
## Runs

Every recent launch, test and retry, newest first, with how many of its sites
are pending, delivered, completed, failed and timed out. The list reads the
database twice a second; only the runs that changed are repainted.

- `enter` opens the run's site table.
- `p` pauses live updates, `r` reads again now.
- `t` runs the script on its test site, `l` launches a scheduled script now,
  `x` cancels a running run, `R` retries its failed sites as a new run. Each
  asks first.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_run", "Open", id="open-run", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._summaries: dict[int, RunSummary] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(id="runs-state", classes="live-state")
        with Horizontal(id="runs-heading", classes="run-row"):
            yield Label("Run", classes="col-run")
            yield Label("Kind", classes="col-kind")
            yield Label("Script", classes="col-script")
            yield Label("Status", classes="col-status")
            yield Label(counts_heading(), classes="col-counts")
            yield Label("Progress", classes="col-progress")
        yield ListView(id="runs")
        yield Static(
            "No runs yet. A launch, a test or a retry shows up here as it starts.",
            id="runs-empty",
        )

    def on_mount(self) -> None:
        self.query_one("#runs", ListView).focus()

    def load(self, database: Database) -> list[RunSummary]:
        return runs_overview(database, limit=RUNS_SHOWN, previous=self._summaries)

    def show(self, data: list[RunSummary]) -> None:
        runs = self.query_one("#runs", ListView)
        fresh = {summary.run_id: summary for summary in data}
        chosen = self.current_run()

        gone = [
            i
            for i, item in enumerate(self._items())
            if item.summary.run_id not in fresh
        ]
        if gone:
            runs.remove_items(gone)
        new = [s for s in data if s.run_id not in self._summaries]
        if new:
            # Newer runs have higher ids and go on top, above the ones listed.
            runs.insert(0, [RunItem(summary) for summary in new])
        for item in self._items():
            summary = fresh.get(item.summary.run_id)
            if summary is not None:
                item.update_summary(summary)
        self._summaries = fresh

        self._keep_highlight(runs, chosen, len(data))
        self.query_one("#runs-empty").display = not data
        runs.display = bool(data)
        self._show_state()
        self.refresh_run_keys()

    def _items(self) -> list[RunItem]:
        return list(self.query_one("#runs", ListView).query_children(RunItem))

    def _keep_highlight(
        self, runs: ListView, chosen: RunSummary | None, count: int
    ) -> None:
        if not count:
            return
        if chosen is None or chosen.run_id not in self._summaries:
            runs.index = 0 if runs.index is None else min(runs.index, count - 1)
            return
        # Items are ordered newest first, and run ids only grow.
        runs.index = sorted(self._summaries, reverse=True).index(chosen.run_id)

    def _show_state(self) -> None:
        now = self.desk.now().astimezone(self._zone()).strftime("%H:%M:%S")
        state = "paused" if self.paused else "live"
        text = Text.assemble(
            ("● " if not self.paused else "‖ ", "bold"),
            f"{state} · read at {now} · {len(self._summaries)} run(s)",
        )
        self.query_one("#runs-state", Static).update(text)

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.desk.settings.time_zone)

    def watch_paused(self) -> None:
        super().watch_paused()
        if self.is_mounted:
            self._show_state()

    def current_run(self) -> RunSummary | None:
        item = self.query_one("#runs", ListView).highlighted_child
        return item.summary if isinstance(item, RunItem) else None

    def on_list_view_highlighted(self, _: ListView.Highlighted) -> None:
        self.refresh_run_keys()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, RunItem):
            self._open(event.item.summary)

    def action_open_run(self) -> None:
        run = self.current_run()
        if run is not None:
            self._open(run)

    def _open(self, run: RunSummary) -> None:
        self.app.push_screen(RunDetailScreen(run.run_id))

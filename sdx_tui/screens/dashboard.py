"""The Runs section: every recent run with its outcome counts, updating live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ListItem, ListView, Static

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.monitoring import RunSummary, runs_overview
from sdx_tui.screens.run_actions import LiveState, RunActionsScreen
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


RUN_WIDTH, KIND_WIDTH, STATUS_WIDTH, BAR_WIDTH = 7, 7, 13, 16
FIXED_WIDTH = RUN_WIDTH + KIND_WIDTH + STATUS_WIDTH + len(counts_heading()) + 8
"""Every column but the script's, with the gaps and the percentage."""


def _cell(text: str | Text, width: int) -> Text:
    cell = Text(text) if isinstance(text, str) else text.copy()
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


def _colour(theme: Mapping[str, str], name: str) -> Style:
    raw = theme.get(name, "")
    return Style(color=Color.parse(raw).rich_color) if raw else Style()


def progress_text(done: int, total: int, width: int, theme: Mapping[str, str]) -> Text:
    """A bar of ``width`` cells and the percentage, in the theme's colours."""
    fraction = done / total if total else 1.0
    filled = fraction * width
    whole = int(filled)
    colour = "success" if fraction >= 1 else "primary"
    bar = Text("━" * whole, style=_colour(theme, colour))
    if whole < width:
        if filled - whole >= 0.5:
            bar.append("╸", style=_colour(theme, colour))
            whole += 1
        bar.append("━" * (width - whole), style=_colour(theme, "panel-lighten-2"))
    bar.append(f"{int(fraction * 100):>4}%")
    return bar


def run_line(summary: RunSummary, width: int, theme: Mapping[str, str]) -> Text:
    """One run as a single line of columns, fitted to ``width`` cells."""
    script = max(8, width - FIXED_WIDTH - BAR_WIDTH)
    return Text.assemble(
        _cell(f"#{summary.run_id}", RUN_WIDTH),
        _cell(summary.kind.value, KIND_WIDTH),
        _cell(summary.description, script),
        " ",
        _cell(status_text(summary.status, theme), STATUS_WIDTH),
        counts_text(summary),
        "  ",
        progress_text(summary.settled, summary.total, BAR_WIDTH, theme),
    )


def heading_line(width: int) -> Text:
    """The column headings, aligned with :func:`run_line`."""
    script = max(8, width - FIXED_WIDTH - BAR_WIDTH)
    return Text.assemble(
        _cell("Run", RUN_WIDTH),
        _cell("Kind", KIND_WIDTH),
        _cell("Script", script),
        " ",
        _cell("Status", STATUS_WIDTH),
        counts_heading(),
        "  ",
        "Progress",
    )


class RunLine(Widget):
    """The line of one run; a new summary repaints this line and nothing else."""

    summary: reactive[RunSummary | None] = reactive(None)
    """The run shown."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(classes="run-line")
        self.set_reactive(RunLine.summary, summary)

    def render(self) -> RenderResult:
        if self.summary is None:
            return ""
        return run_line(self.summary, self.size.width, self.app.theme_variables)


class RunHeading(Widget):
    """The headings above the run lines."""

    def render(self) -> RenderResult:
        return heading_line(self.size.width)


class RunItem(ListItem):
    """One run on the dashboard, as one line."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(id=f"run-{summary.run_id}", classes="run-item")
        self.summary = summary

    def compose(self) -> ComposeResult:
        yield RunLine(self.summary)

    def update_summary(self, summary: RunSummary) -> None:
        """Show ``summary``; nothing is repainted if it equals the one shown."""
        if summary != self.summary:
            self.summary = summary
            self.query_one(RunLine).summary = summary


class RunList(ListView):
    """The runs, newest first; ``enter`` or a click opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", tooltip="Show the run's sites"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class DashboardScreen(RunActionsScreen):
    """Recent runs, newest first, with counts per state and a progress bar each."""

    HELP_TITLE = "Runs"
    HELP = """\
## Runs

Every recent launch, test and retry, newest first, with how many of its sites
are pending, delivered, completed, failed and timed out. The list reads the
database twice a second; only the runs that changed are repainted.

- `enter` (or a click) opens the run's site table; `j` and `k` move too.
- `p` pauses live updates, `r` reads again now.
- `t` runs the script on its test site, `l` launches a scheduled script now,
  `x` cancels a running run, `R` retries its failed sites as a new run. Each
  asks first.
"""

    def __init__(self) -> None:
        super().__init__()
        self._summaries: dict[int, RunSummary] = {}

    def compose_body(self) -> ComposeResult:
        yield LiveState(id="runs-state")
        yield RunHeading(id="runs-heading")
        yield RunList(id="runs")
        yield Static(
            "No runs yet. A launch, a test or a retry shows up here as it starts.",
            id="runs-empty",
        )

    def on_mount(self) -> None:
        self.query_one("#runs-empty").display = False
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
        if runs.display != bool(data):
            runs.display = bool(data)
            self.query_one("#runs-empty").display = not data
            if data:
                runs.focus()
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

    def describe(self) -> str:
        return f"{len(self._summaries)} run(s)"

    def current_run(self) -> RunSummary | None:
        item = self.query_one("#runs", ListView).highlighted_child
        return item.summary if isinstance(item, RunItem) else None

    def on_list_view_highlighted(self, _: ListView.Highlighted) -> None:
        self.refresh_run_keys()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, RunItem):
            self._open(event.item.summary)

    def _open(self, run: RunSummary) -> None:
        self.app.push_screen(RunDetailScreen(run.run_id))

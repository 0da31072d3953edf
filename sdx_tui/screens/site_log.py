"""One site's orchestration log, and its output in a run, highlighted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.widgets import RichLog, Static

from sdx_tui.backend.db import Database
from sdx_tui.backend.monitoring import (
    LogRow,
    OutcomeDetail,
    SiteLogFeed,
    outcome_detail,
    site_name,
)
from sdx_tui.backend.routeros.lexer import RouterOSLexer
from sdx_tui.screens.run_actions import LiveScreen, LiveState
from sdx_tui.widgets.status_badge import StatusBadge

EVENT_WIDTH = 10


@dataclass(frozen=True)
class SiteLogUpdate:
    """What one read brings: the site's name, new entries, and its outcome."""

    site_name: str
    entries: list[LogRow]
    outcome: OutcomeDetail | None


def highlight(code: str, *, dark: bool = True) -> Text:
    """RouterOS text coloured by the desk's lexer."""
    if not code:
        return Text(code)
    syntax = Syntax(code, RouterOSLexer(), theme="ansi_dark" if dark else "ansi_light")
    text = syntax.highlight(code)
    # Syntax ends the text with a newline of its own, which a log shows as a blank.
    if text.plain.endswith("\n") and not code.endswith("\n"):
        text.right_crop(1)
    return text


def entry_text(entry: LogRow, zone: ZoneInfo) -> Text:
    """One log entry: time, event, and its detail (continued lines indented)."""
    at = entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    first, _, rest = entry.detail.partition("\n")
    text = Text.assemble(
        (at, "dim"), "  ", (entry.event.ljust(EVENT_WIDTH), "bold"), " ", first
    )
    if rest:
        indent = " " * (len(at) + 2 + EVENT_WIDTH + 1)
        for line in rest.rstrip("\n").split("\n"):
            text.append("\n" + indent + line)
    return text


def _clock(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%H:%M:%S") if value else "—"


class SiteLogScreen(LiveScreen):
    """Every orchestration event of a site, with the output of its run."""

    HELP_TITLE = "Site log"
    HELP = """\
## A site's log

Every step of the orchestration for this site, oldest first: created, polled,
delivered, backup, result, output and errors, with the time of each. The
output the device sent back is shown below, highlighted as RouterOS text.

- `p` pauses live updates, `r` reads again now, `escape` goes back.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
    ]

    def __init__(self, site_id: int, *, run_id: int | None = None) -> None:
        super().__init__()
        self.site_id = site_id
        self.run_id = run_id
        self._feed: SiteLogFeed | None = None
        self._outcome: OutcomeDetail | None = None
        self._name = ""
        self._entries = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="log-head"):
            yield Static(f"Site {self.site_id}", id="log-title", markup=False)
            yield StatusBadge(id="log-status")
        yield Static(id="log-facts")
        yield LiveState(id="log-state")
        with Vertical(id="log-panes"):
            yield RichLog(id="log-events", wrap=False, auto_scroll=True)
            yield RichLog(id="log-output", wrap=False, auto_scroll=False)

    def on_mount(self) -> None:
        self._feed = SiteLogFeed(self.desk.database, self.site_id, run_id=self.run_id)
        self.query_one("#log-events").border_title = "Log"
        output = self.query_one("#log-output")
        output.border_title = "Output"
        output.display = self.run_id is not None
        self.query_one("#log-events").focus()

    def load(self, database: Database) -> SiteLogUpdate:
        assert self._feed is not None
        outcome = None
        if self.run_id is not None:
            outcome = outcome_detail(database, self.run_id, self.site_id)
        name = self._name or site_name(database, self.site_id)
        return SiteLogUpdate(name, self._feed.poll(), outcome)

    def describe(self) -> str:
        return f"{self._entries} event(s)"

    def show(self, data: SiteLogUpdate) -> None:
        zone = self.zone
        if data.site_name != self._name:
            self._name = data.site_name
            run = f" · run {self.run_id}" if self.run_id is not None else ""
            self.query_one("#log-title", Static).update(f"Site {self._name}{run}")
        events = self.query_one("#log-events", RichLog)
        for entry in data.entries:
            events.write(entry_text(entry, zone))
        self._entries += len(data.entries)
        if data.outcome is not None and data.outcome != self._outcome:
            self._show_outcome(data.outcome, zone)
        self._outcome = data.outcome

    def _show_outcome(self, outcome: OutcomeDetail, zone: ZoneInfo) -> None:
        self.query_one("#log-status", StatusBadge).status = outcome.status.value
        backup = {None: "not asked", True: "saved", False: "failed"}[outcome.backup_ok]
        self.query_one("#log-facts", Static).update(
            f"delivery {outcome.delivery_id} · attempts {outcome.attempts} · "
            f"delivered {_clock(outcome.delivered_at, zone)} · finished "
            f"{_clock(outcome.finished_at, zone)} · backup {backup}"
        )
        previous = self._outcome
        if previous is None or (previous.output, previous.error) != (
            outcome.output,
            outcome.error,
        ):
            output = self.query_one("#log-output", RichLog)
            output.clear()
            dark = self.app.current_theme.dark
            if outcome.output:
                output.write(highlight(outcome.output.rstrip("\n"), dark=dark))
            if outcome.error:
                colour = Color.parse(self.app.theme_variables["error"]).rich_color
                output.write(Text(outcome.error, style=Style(bold=True, color=colour)))
            if not outcome.output and not outcome.error:
                output.write(Text("No output yet.", style="dim italic"))

    def action_back(self) -> None:
        self.dismiss()

"""Coloured badges for the states of scripts, runs, outcomes and approvals."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.reactive import reactive
from textual.widgets import Static

STATUS_COLOURS: dict[str, str] = {
    "unauthorized": "warning",
    "scheduled": "primary",
    "launched": "accent",
    "running": "accent",
    "completed": "success",
    "failed": "error",
    "cancelled": "foreground-muted",
    "pending": "secondary",
    "delivered": "accent",
    "timed_out": "error",
    "expired": "warning",
    "skipped": "foreground-muted",
    "missed": "warning",
    "open": "warning",
    "approved": "success",
    "rejected": "error",
    "voided": "foreground-muted",
}
"""The theme colour each state is drawn in; unknown states use the foreground."""


def status_label(status: str) -> str:
    """The words a person reads for a state (``timed_out`` is "timed out")."""
    return str(status).replace("_", " ")


def status_text(status: str, theme_variables: Mapping[str, str]) -> Text:
    """A badge as Rich text, for cells of a DataTable, in the current theme."""
    colour_name = STATUS_COLOURS.get(str(status), "foreground")
    raw = theme_variables.get(colour_name) or theme_variables.get("foreground", "")
    style = Style(bold=True)
    if raw:
        # Rich cannot read the alpha channel of theme colours such as "#E0E0E099".
        style += Style(color=Color.parse(raw).rich_color)
    return Text(f"● {status_label(status)}", style=style, end="")


class StatusBadge(Static):
    """A state drawn as a small coloured pill, for detail panes and headers."""

    DEFAULT_CSS = """
    StatusBadge {
        width: auto;
        height: 1;
        padding: 0 1;
        text-style: bold;
        color: $foreground;
        background: $panel;
    }
    StatusBadge.-warning { color: $text-warning; background: $warning-muted; }
    StatusBadge.-primary { color: $text-primary; background: $primary-muted; }
    StatusBadge.-accent { color: $text-accent; background: $accent-muted; }
    StatusBadge.-secondary { color: $text-secondary; background: $secondary-muted; }
    StatusBadge.-success { color: $text-success; background: $success-muted; }
    StatusBadge.-error { color: $text-error; background: $error-muted; }
    StatusBadge.-foreground-muted { color: $foreground-muted; background: $panel; }
    """

    status: reactive[str] = reactive("", layout=True)
    """The state shown; an empty string shows nothing."""

    def __init__(
        self, status: str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(StatusBadge.status, str(status))

    def on_mount(self) -> None:
        self._paint(self.status)

    def watch_status(self, status: str) -> None:
        self._paint(status)

    def _paint(self, status: str) -> None:
        for name in set(STATUS_COLOURS.values()):
            self.remove_class(f"-{name}")
        colour = STATUS_COLOURS.get(status)
        if colour:
            self.add_class(f"-{colour}")
        self.display = bool(status)
        self.update(status_label(status))

"""A row of clickable section tabs (Scripts, Sites, ...) under the header."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Static


@dataclass(frozen=True)
class NavItem:
    """One tab: the section it opens, the key that opens it, and its title."""

    section: str
    key: str
    title: str


class NavTab(Static):
    """One clickable tab of a :class:`NavBar`."""

    def __init__(self, item: NavItem, *, active: bool) -> None:
        super().__init__(
            Content.assemble((item.key, "bold"), " ", item.title),
            id=f"nav-{item.section}",
            classes="-active" if active else None,
        )
        self.item = item
        self.tooltip = f"{item.title} ({item.key})"

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(NavBar.SectionChosen(self.item.section))


class NavBar(Horizontal):
    """The sections of the desk; clicking one asks the app to switch to it."""

    DEFAULT_CSS = """
    NavBar {
        height: 1;
        width: 1fr;
        background: $panel;
    }
    NavBar NavTab {
        width: auto;
        padding: 0 2;
        color: $foreground-muted;
    }
    NavBar NavTab:hover {
        background: $boost;
        color: $foreground;
    }
    NavBar NavTab.-active {
        background: $primary;
        color: $text;
        text-style: bold;
    }
    """

    class SectionChosen(Message):
        """A tab was clicked."""

        def __init__(self, section: str) -> None:
            super().__init__()
            self.section = section

    def __init__(
        self, items: Sequence[NavItem], *, active: str = "", id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._items = list(items)
        self._active = active

    def compose(self) -> ComposeResult:
        for item in self._items:
            yield NavTab(item, active=item.section == self._active)

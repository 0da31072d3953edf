"""What every desk screen shares: the desk context, the frame, worker failures."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from sdx_tui.backend.errors import DeskError, PermissionDenied
from sdx_tui.backend.identity import Actor
from sdx_tui.backend.timezones import known_time_zones
from sdx_tui.widgets.nav_bar import NavBar

if TYPE_CHECKING:
    from sdx_tui.app import DeskApp, DeskContext

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")


def desk_of(node: DOMNode) -> DeskContext:
    """The desk context of the running app."""
    return cast("DeskApp", node.app).desk


def actor_of(node: DOMNode) -> Actor:
    """The person at the desk; screens that act are only reachable once known."""
    actor = desk_of(node).actor
    if actor is None:
        raise PermissionDenied("nobody is signed in to the desk yet")
    return actor


def time_zone_choices(preferred: str) -> tuple[list[tuple[str, str]], str]:
    """Options for a time-zone Select, and ``preferred`` if it is one, else UTC."""
    zones = known_time_zones()
    return [(zone, zone) for zone in zones], preferred if preferred in zones else "UTC"


def report_worker_failure(node: Widget, event: Worker.StateChanged) -> None:
    """Turn a failed worker into a toast; refusals read as they are."""
    if event.state is not WorkerState.ERROR:
        return
    error = event.worker.error
    if isinstance(error, DeskError):
        node.notify(str(error), title="Refused", severity="error")
        return
    log.error("%s failed", event.worker.name, exc_info=error)
    node.notify(
        f"{type(error).__name__}: {error}", title="Unexpected error", severity="error"
    )


class DeskScreen(Screen[ResultT]):
    """A full screen: header, section tabs, the body, and the footer."""

    SECTION: ClassVar[str] = ""
    """The section tab to highlight in the nav bar."""
    HELP_TITLE: ClassVar[str] = ""
    """The title of the F1 help; :attr:`HELP` is its text."""
    QUIET_REPEATS: ClassVar[frozenset[str]] = frozenset()
    """Worker groups whose failures toast once, until one of them succeeds."""

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._failing_groups: set[str] = set()

    @property
    def section(self) -> str:
        """The section this screen belongs to."""
        return self.SECTION

    @property
    def desk(self) -> DeskContext:
        """Settings, database, the person at the desk, and the clock."""
        return desk_of(self)

    @property
    def actor(self) -> Actor:
        """The person at the desk (set once the first run is over)."""
        return actor_of(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar(cast("DeskApp", self.app).nav_items(), active=self.section)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The widgets between the nav bar and the footer."""
        yield from ()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if group in self.QUIET_REPEATS:
            # A list that re-reads every few seconds would toast on every tick.
            if event.state is WorkerState.SUCCESS:
                self._failing_groups.discard(group)
            elif event.state is WorkerState.ERROR:
                if group in self._failing_groups:
                    return
                self._failing_groups.add(group)
        report_worker_failure(self, event)


class UnavailableScreen(DeskScreen[None]):
    """Stands in for a section whose screen this build does not have yet."""

    def __init__(self, section: str, title: str) -> None:
        super().__init__()
        self._section = section
        self._title = title

    @property
    def section(self) -> str:
        return self._section

    def compose_body(self) -> ComposeResult:
        yield Static(
            f"The {self._title} section is not available in this build yet.",
            id="unavailable",
            classes="empty-state",
        )


class DeskModal(ModalScreen[ResultT]):
    """A dialog over the current screen; ``escape`` closes it."""

    HELP_TITLE: ClassVar[str] = ""
    """The title of the F1 help; :attr:`HELP` is its text."""

    @property
    def desk(self) -> DeskContext:
        """Settings, database, the person at the desk, and the clock."""
        return desk_of(self)

    @property
    def actor(self) -> Actor:
        """The person at the desk."""
        return actor_of(self)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)

"""The Textual application: sections, command palette, help, and start-up.

Nothing happens at import: :func:`create_app` builds the app for the CLI and the
tests, :func:`run_desk` opens the database and runs it in the terminal.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.identity import (
    Actor,
    current_actor,
    current_os_user,
    is_initialised,
    organisation_name,
)
from sdx_tui.backend.models import Role
from sdx_tui.config import Settings
from sdx_tui.widgets.nav_bar import NavBar, NavItem


@dataclass(frozen=True)
class Section:
    """A top-level part of the desk, opened by a function key or its nav tab."""

    key: str
    """The key that opens it, such as ``f2``."""
    mode: str
    """The Textual mode (one screen stack per section)."""
    title: str
    """The name on the tab."""
    screen: str
    """``module:Class`` of its screen, imported when the section is first opened."""


SECTIONS: list[Section] = [
    Section("f2", "scripts", "Scripts", "sdx_tui.screens.scripts:ScriptsScreen"),
    Section("f3", "sites", "Sites", "sdx_tui.screens.sites:SitesScreen"),
    Section(
        "f4", "approvals", "Approvals", "sdx_tui.screens.approvals:ApprovalsScreen"
    ),
    Section("f5", "runs", "Runs", "sdx_tui.screens.dashboard:DashboardScreen"),
]
"""Every section, in tab order; the first one opens at start."""

LOG_FILE = "desk.log"
"""Where log records go while the desk is on screen, in the data directory."""


def load_section_screen(section: Section) -> Screen[None]:
    """A new screen for ``section``; a placeholder while its module is not written."""
    module_name, _, class_name = section.screen.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        from sdx_tui.screens.base import UnavailableScreen

        return UnavailableScreen(section.mode, section.title)
    screen_class: type[Screen[None]] = getattr(module, class_name)
    return screen_class()


class Runtime(Protocol):
    """The embedded backend (endpoint, scheduler) that lives as long as the UI."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class DeskContext:
    """What every screen needs: ``app.desk``."""

    settings: Settings
    database: Database
    actor: Actor | None
    """The person at the desk; ``None`` until the first run has created them."""
    os_user: str
    """The operating-system user running the desk."""
    organisation: str = ""
    """The name of the actor's organisation, for the header."""
    clock: Callable[[], datetime] = utcnow
    """The time source for displayed times ("5 min ago")."""

    def now(self) -> datetime:
        """The current time, from :attr:`clock`."""
        return self.clock()


@dataclass(frozen=True)
class DeskCommand:
    """One entry of the command palette."""

    title: str
    help: str
    run: Callable[[], object]


class DeskCommands(Provider):
    """The desk's own commands in the ``ctrl+p`` palette."""

    def _commands(self) -> list[DeskCommand]:
        app = self.app
        return app.desk_commands() if isinstance(app, DeskApp) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.title), command.run, command.help
                )


class DeskApp(App[int]):
    """SDX desk in the terminal."""

    TITLE = "SDX desk"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {DeskCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="Help and keys for this screen"),
        *(
            Binding(
                section.key,
                f"switch_section('{section.mode}')",
                section.title,
                show=False,
                id=f"section-{section.mode}",
            )
            for section in SECTIONS
        ),
    ]

    def __init__(self, desk: DeskContext, *, runtime: Runtime | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.runtime = runtime
        self._runtime_started = False
        for section in SECTIONS:
            self.add_mode(section.mode, partial(load_section_screen, section))

    def nav_items(self) -> list[NavItem]:
        """The tabs of the nav bar."""
        return [
            NavItem(section.mode, section.key.upper(), section.title)
            for section in SECTIONS
        ]

    async def on_mount(self) -> None:
        self._show_identity()
        if self.runtime is not None:
            await self._start_runtime()
        if self.desk.actor is None:
            from sdx_tui.screens.first_run import FirstRunScreen

            await self.push_screen(FirstRunScreen(), callback=self._first_run_done)
        else:
            await self.switch_mode(SECTIONS[0].mode)

    async def on_unmount(self) -> None:
        if self.runtime is not None and self._runtime_started:
            await self.runtime.stop()

    async def _start_runtime(self) -> None:
        assert self.runtime is not None
        try:
            await self.runtime.start()
        except Exception as error:
            # The desk stays useful without its endpoint: say so and carry on.
            self.notify(
                f"{type(error).__name__}: {error}",
                title="The embedded endpoint and scheduler did not start",
                severity="error",
                timeout=30,
            )
        else:
            self._runtime_started = True

    def _show_identity(self) -> None:
        actor = self.desk.actor
        if actor is None:
            self.sub_title = "first run"
            return
        roles = ", ".join(sorted(role.value for role in actor.roles))
        self.sub_title = f"{self.desk.organisation} · {actor.name} ({roles})"

    def _first_run_done(self, actor: Actor | None) -> None:
        if actor is None:
            self.exit()
            return
        self.desk.actor = actor
        self.desk.organisation = organisation_name(
            self.desk.database, actor.organisation_id
        )
        self._show_identity()
        self.switch_section(SECTIONS[0].mode)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        actor = self.desk.actor
        if action in ("switch_section", "new_script", "add_site") and actor is None:
            return False
        if action == "add_site":
            return actor is not None and actor.has(Role.ADMIN)
        return True

    def switch_section(self, mode: str) -> None:
        """Show the section ``mode`` (its screen keeps its state between visits)."""
        self.switch_mode(mode)

    def action_switch_section(self, mode: str) -> None:
        self.switch_section(mode)

    def on_nav_bar_section_chosen(self, event: NavBar.SectionChosen) -> None:
        if self.check_action("switch_section", (event.section,)):
            self.switch_section(event.section)

    def action_help(self) -> None:
        from sdx_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_new_script(self) -> None:
        from sdx_tui.screens.script_editor import ScriptEditorScreen

        self.switch_section("scripts")
        self.push_screen(ScriptEditorScreen())

    def action_add_site(self) -> None:
        from sdx_tui.screens.sites import AddSiteScreen

        self.switch_section("sites")
        self.push_screen(AddSiteScreen())

    def desk_commands(self) -> list[DeskCommand]:
        """The palette entries that make sense now."""
        actor = self.desk.actor
        if actor is None:
            return []
        commands = [
            DeskCommand("New script", "Write a new script", self.action_new_script)
        ]
        commands.extend(
            DeskCommand(
                f"Open {section.title}",
                f"Go to the {section.title} section ({section.key.upper()})",
                partial(self.switch_section, section.mode),
            )
            for section in SECTIONS
        )
        if actor.has(Role.ADMIN):
            commands.append(
                DeskCommand(
                    "Add site", "Add a site and show its token", self.action_add_site
                )
            )
        commands.append(
            DeskCommand(
                "Help", "What this screen does and its keys (F1)", self.action_help
            )
        )
        return commands


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    actor: Actor | None = None,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] = utcnow,
    os_user: str | None = None,
) -> DeskApp:
    """Build the desk app.

    Without ``database`` the configured one is opened and migrated. Without
    ``actor`` the OS user's record is used; on an empty database the app starts
    with the first-run screen instead.
    """
    if database is None:
        database = Database.open(settings.effective_database_url)
        database.upgrade()
    os_user = os_user or current_os_user()
    if actor is None and is_initialised(database):
        actor = current_actor(database, "tui", os_user)
    organisation = (
        organisation_name(database, actor.organisation_id) if actor is not None else ""
    )
    desk = DeskContext(
        settings=settings,
        database=database,
        actor=actor,
        os_user=os_user,
        organisation=organisation,
        clock=clock,
    )
    return DeskApp(desk, runtime=runtime)


@contextmanager
def logging_to_file(path: Path) -> Iterator[None]:
    """While the terminal belongs to the desk, log records go to ``path``.

    A record written to the terminal in the middle of a screen would tear it;
    the root logger's stream handlers are set aside until the block ends.
    """
    root = logging.getLogger()
    streams = [
        handler for handler in root.handlers if type(handler) is logging.StreamHandler
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for handler in streams:
        root.removeHandler(handler)
    root.addHandler(file_handler)
    try:
        yield
    finally:
        root.removeHandler(file_handler)
        file_handler.close()
        for handler in streams:
            root.addHandler(handler)


def run_desk(settings: Settings, *, demo: bool = False) -> int:
    """Run the desk in the terminal until the person quits; the exit code.

    ``demo`` opens a throwaway data directory filled with a demo organisation,
    removed again on exit. The embedded endpoint runs with the desk unless the
    settings say devices poll a separate ``sdx serve``. Log records go to
    ``desk.log`` in the data directory while the desk is on screen.
    """
    from sdx_tui.backend.runtime import DeskRuntime, default_services

    demo_dir: Path | None = None
    if demo:
        demo_dir = Path(tempfile.mkdtemp(prefix="sdx-demo-"))
        settings = dataclasses.replace(settings, data_dir=demo_dir, database_url="")
    database = Database.open(settings.effective_database_url)
    try:
        database.upgrade()
        if demo:
            from sdx_tui.backend.demo import populate_demo

            populate_demo(database)
        runtime = DeskRuntime(
            settings,
            database,
            default_services(settings, database, send_notifications=not demo),
            serve_endpoint=settings.endpoint.embedded,
        )
        app = create_app(settings, database=database, runtime=runtime)
        with logging_to_file(settings.data_dir / LOG_FILE):
            result = app.run()
        return result if isinstance(result, int) else (app.return_code or 0)
    except DeskError as error:
        print(f"sdx: error: {error}", file=sys.stderr)
        return error.exit_code
    finally:
        database.dispose()
        if demo_dir is not None:
            shutil.rmtree(demo_dir, ignore_errors=True)

"""The desk shell: first run, sections, palette, help, runtime and start-up."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Markdown, Static

from sdx_tui.app import (
    SECTIONS,
    DeskApp,
    Section,
    create_app,
    load_section_screen,
    logging_to_file,
    run_desk,
)
from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import initialise, is_initialised, list_users
from sdx_tui.backend.models import Role
from sdx_tui.backend.runtime import DeskRuntime
from sdx_tui.backend.sites import list_sites
from sdx_tui.config import Settings
from sdx_tui.screens.base import UnavailableScreen
from sdx_tui.screens.first_run import FirstRunScreen
from sdx_tui.screens.help import HelpScreen
from sdx_tui.screens.script_editor import ScriptEditorScreen
from sdx_tui.screens.scripts import ScriptsScreen
from sdx_tui.screens.sites import AddSiteScreen, SitesScreen
from tests.tui.conftest import FIXED_NOW, SIZE, AppFactory, Fleet, settle, wait_until


async def test_first_run_creates_the_organisation_and_its_admin(
    sqlite_db: Database, settings: Settings
) -> None:
    app = create_app(settings, database=sqlite_db, os_user="olivia")
    assert app.desk.actor is None
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, FirstRunScreen)
        assert app.check_action("switch_section", ("sites",)) is False
        await pilot.press("f3")
        assert isinstance(app.screen, FirstRunScreen)

        await pilot.press(*"Acme NOC", "enter", *"Olivia Stone", "enter")
        await pilot.press(*"olivia@acme.test", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptsScreen))
        assert "Acme NOC · olivia" in app.sub_title

    assert is_initialised(sqlite_db)
    [admin] = list_users(sqlite_db)
    assert (admin.os_user, admin.display_name, admin.email) == (
        "olivia",
        "Olivia Stone",
        "olivia@acme.test",
    )
    assert app.desk.actor is not None and app.desk.actor.user_id == admin.id


async def test_first_run_explains_a_refusal(
    sqlite_db: Database, settings: Settings
) -> None:
    app = create_app(settings, database=sqlite_db, os_user="olivia")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#first-run-create")
        error = app.screen.query_one("#form-error", Static)
        await wait_until(pilot, lambda: "needs a name" in str(error.render()))
        assert isinstance(app.screen, FirstRunScreen)
        assert app.screen.query_one("#first-run-organisation", Input).has_focus

    assert not is_initialised(sqlite_db)


async def test_function_keys_switch_sections(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ScriptsScreen)
        scripts = app.screen

        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, SitesScreen))
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen is scripts, what="the same screen")

        await pilot.press("f4")
        await wait_until(pilot, lambda: app.current_mode == "approvals")
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.current_mode == "runs")


async def test_nav_tabs_switch_sections_by_mouse(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#nav-sites")
        await wait_until(pilot, lambda: isinstance(app.screen, SitesScreen))
        assert app.screen.query_one("#nav-sites").has_class("-active")

        await pilot.click("#nav-scripts")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptsScreen))


async def test_an_open_editor_waits_in_its_section(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptEditorScreen))
        await settle(pilot)
        editor = app.screen
        editor.query_one("#script-description", Input).value = "Half written"

        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, SitesScreen))
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen is editor)
        assert editor.query_one("#script-description", Input).value == "Half written"


async def pick_from_palette(pilot: Pilot[Any], query: str, title: str) -> None:
    """Open the palette, type ``query`` and run the highlighted ``title``."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)

    def highlighted_is_title() -> bool:
        commands = pilot.app.screen.query_one(CommandList)
        if commands.highlighted is None:
            return False
        option = commands.get_option_at_index(commands.highlighted)
        return title in str(option.prompt)

    await wait_until(pilot, highlighted_is_title, what=f"{title!r} in the palette")
    await pilot.press("enter")


async def test_palette_adds_a_site(make_app: AppFactory, fleet: Fleet) -> None:
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pick_from_palette(pilot, "add site", "Add site")
        await wait_until(pilot, lambda: isinstance(app.screen, AddSiteScreen))
        assert app.current_mode == "sites"


async def test_palette_opens_sections_and_new_scripts(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pick_from_palette(pilot, "open sites", "Open Sites")
        await wait_until(pilot, lambda: isinstance(app.screen, SitesScreen))

        await pick_from_palette(pilot, "new script", "New script")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptEditorScreen))
        assert app.current_mode == "scripts"


def test_palette_offers_what_the_person_may_do(
    make_app: AppFactory, fleet: Fleet
) -> None:
    operator = [command.title for command in make_app().desk_commands()]
    admin = [command.title for command in make_app(fleet.desk.admin).desk_commands()]
    sections = [f"Open {section.title}" for section in SECTIONS]
    assert operator == ["New script", *sections, "Help"]
    assert admin == ["New script", *sections, "Add site", "Help"]


async def test_f1_explains_the_current_screen(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "New" in keys and "State filter" in keys and "Quit" in keys
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptsScreen))

        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptEditorScreen))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "cron" in app.screen.query_one("#help-text", Markdown).source
        assert "Save" in str(app.screen.query_one("#help-keys", Static).render())


async def test_ctrl_q_quits(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None)


class RecordingRuntime:
    """Stands in for the embedded endpoint and scheduler."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")
        if self.fail:
            raise OSError("address already in use")

    async def stop(self) -> None:
        self.events.append("stop")


async def test_the_runtime_lives_as_long_as_the_app(make_app: AppFactory) -> None:
    runtime = RecordingRuntime()
    app = make_app(runtime=runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert runtime.events == ["start"]
    assert runtime.events == ["start", "stop"]


async def test_a_runtime_that_fails_to_start_is_reported(make_app: AppFactory) -> None:
    runtime = RecordingRuntime(fail=True)
    app = make_app(runtime=runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ScriptsScreen)
        assert any("address already in use" in n.message for n in app._notifications)
    assert runtime.events == ["start"]


def test_sections_resolve_to_screens() -> None:
    for section in SECTIONS:
        assert isinstance(load_section_screen(section), Screen), section.title


def test_a_section_not_written_yet_shows_a_placeholder() -> None:
    missing = Section("f9", "later", "Later", "sdx_tui.screens.not_written:Later")
    assert isinstance(load_section_screen(missing), UnavailableScreen)

    misnamed = Section("f9", "later", "Later", "sdx_tui.screens.scripts:Nothing")
    with pytest.raises(AttributeError):
        load_section_screen(misnamed)


def test_create_app_opens_and_migrates_the_configured_database(
    settings: Settings,
) -> None:
    app = create_app(settings, os_user="olivia")
    try:
        assert app.desk.actor is None
        assert not is_initialised(app.desk.database)
        assert (settings.data_dir / "sdx.db").exists()
    finally:
        app.desk.database.dispose()


def test_run_desk_refuses_an_unknown_os_user(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = Database.open(settings.effective_database_url)
    database.upgrade()
    initialise(database, organisation="Elsewhere", admin="nobody-at-this-desk")
    database.dispose()

    assert run_desk(settings) == 1
    assert "is not a desk user" in capsys.readouterr().err


def test_the_app_factory_takes_a_clock(make_app: AppFactory) -> None:
    assert make_app().desk.now() == FIXED_NOW


def test_the_stylesheet_ships_with_the_package() -> None:
    import sdx_tui.app as module

    assert (Path(module.__file__).parent / DeskApp.CSS_PATH).is_file()


def test_log_records_go_to_a_file_while_the_desk_is_on_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    terminal = logging.StreamHandler()
    root.addHandler(terminal)
    log_file = tmp_path / "data" / "desk.log"
    try:
        with logging_to_file(log_file):
            assert terminal not in root.handlers
            logging.getLogger("sdx_tui.example").warning("a token was refused")
        assert terminal in root.handlers
    finally:
        root.removeHandler(terminal)

    assert "WARNING sdx_tui.example: a token was refused" in log_file.read_text()
    assert "refused" not in capsys.readouterr().err


def test_run_desk_demo_opens_a_throwaway_desk(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def look_instead_of_running(app: DeskApp, **options: Any) -> int:
        seen["sites"] = len(list_sites(app.desk.database))
        seen["data_dir"] = app.desk.settings.data_dir
        seen["runtime"] = app.runtime
        seen["actor"] = app.desk.actor
        return 0

    # The terminal is not ours in a test: look at what run_desk built instead.
    monkeypatch.setattr(DeskApp, "run", look_instead_of_running)
    assert run_desk(settings, demo=True) == 0

    assert seen["sites"] >= 12
    assert seen["data_dir"] != settings.data_dir
    assert not seen["data_dir"].exists()
    assert isinstance(seen["runtime"], DeskRuntime)
    assert seen["runtime"].serve_endpoint
    assert seen["actor"] is not None and seen["actor"].has(Role.ADMIN)
    assert not (settings.data_dir / "sdx.db").exists()

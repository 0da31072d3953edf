"""Writing, changing and cancelling scripts through the desk, as an operator would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select, SelectionList, Static, Switch, TextArea
from textual.widgets.select import InvalidSelectValueError

from sdx_tui.app import DeskApp
from sdx_tui.backend.db import Database
from sdx_tui.backend.models import ScriptStatus
from sdx_tui.backend.scripts import get_script, list_scripts
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.script_editor import ScriptEditorScreen
from sdx_tui.screens.scripts import ScriptsScreen
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.filtered_selection import FilteredSelectionList
from tests.tui.conftest import SIZE, AppFactory, Fleet, settle, wait_until


def table(app: DeskApp) -> DeskTable:
    return app.screen.query_one("#scripts-table", DeskTable)


async def open_editor(pilot: Pilot[Any], script_id: int | None = None) -> Any:
    """Open the editor from the list, on a new script or on ``script_id``."""
    await settle(pilot)
    if script_id is None:
        await pilot.press("n")
    else:
        assert table(pilot.app).move_to_key(str(script_id))
        await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ScriptEditorScreen))
    await settle(pilot)
    return pilot.app.screen


async def back_on_the_list(pilot: Pilot[Any]) -> None:
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, ScriptsScreen),
        what="the editor to close",
    )
    await settle(pilot)


async def test_create_a_script(make_app: AppFactory, fleet: Fleet) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)

        await pilot.press(*"Set DNS servers")
        editor.query_one(TextArea).load_text("/ip dns set servers=9.9.9.9\n")

        # Narrow the sites to Paris, tick it, then tick a Berlin site too.
        picker = editor.query_one(FilteredSelectionList)
        picker.query_one(Input).focus()
        await pilot.press(*"paris", "enter", "space")
        picker.set_filter("berlin-2")
        await pilot.pause()
        await pilot.press("space")
        await wait_until(pilot, lambda: len(picker.selected) == 2, what="two targets")

        editor.query_one("#script-test-site", Select).value = "edge-paris-1"
        editor.query_one("#script-launch-at", Input).value = "2026-03-10 04:30"
        editor.query_one("#script-time-zone", Select).value = "Europe/Paris"
        editor.query_one("#script-make-backup", Switch).value = True
        await pilot.press("ctrl+s")
        await back_on_the_list(pilot)

        newest = list_scripts(fleet.desk.db)[0]
        assert newest.description == "Set DNS servers"
        assert newest.content == "/ip dns set servers=9.9.9.9\n"
        assert [site.name for site in newest.targets] == [
            "core-berlin-2",
            "edge-paris-1",
        ]
        assert newest.launch_at == datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
        assert newest.time_zone == "Europe/Paris"
        assert newest.make_backup
        assert newest.status == ScriptStatus.UNAUTHORIZED
        assert get_script(fleet.desk.db, newest.id).test_site is not None
        assert table(app).row_keys()[0] == str(newest.id)


async def test_edit_sends_a_script_back_for_approval(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["snmp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, script_id)
        description = editor.query_one("#script-description", Input)
        assert description.value == "Rotate the SNMP community"

        description.value = "Rotate the SNMP community to v3"
        options = editor.query_one(SelectionList)
        for name in ("core-berlin-1", "core-berlin-2", "edge-paris-1"):
            options.deselect(name)
        await pilot.press("ctrl+s")
        await back_on_the_list(pilot)

    script = get_script(fleet.desk.db, script_id)
    assert script.description == "Rotate the SNMP community to v3"
    assert [site.name for site in script.targets] == ["lab-1"]
    assert script.status == ScriptStatus.UNAUTHORIZED
    assert script.revision == 2
    assert script.launch_at == datetime(2026, 2, 21, 2, 0, tzinfo=UTC)


async def test_saving_an_unchanged_script_changes_nothing(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["snmp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(pilot, script_id)
        await pilot.press("ctrl+s")
        await back_on_the_list(pilot)

    script = get_script(fleet.desk.db, script_id)
    assert script.revision == 1
    assert script.status == ScriptStatus.SCHEDULED


async def test_a_refusal_keeps_what_was_typed(
    make_app: AppFactory, fleet: Fleet
) -> None:
    before = len(list_scripts(fleet.desk.db))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        editor.query_one(TextArea).load_text("/system reboot\n")
        editor.query_one("#script-recurrence", Input).value = "every day"
        editor.query_one("#script-description", Input).value = "Nightly reboot"
        await pilot.press("ctrl+s")

        error = editor.query_one("#form-error", Static)
        await wait_until(pilot, lambda: "cron" in str(error.render()), what="error")
        assert app.screen is editor
        assert editor.query_one(TextArea).text == "/system reboot\n"
        assert editor.query_one("#script-description", Input).value == "Nightly reboot"

        editor.query_one("#script-recurrence", Input).value = "0 4 * * *"
        await pilot.press("ctrl+s")
        await back_on_the_list(pilot)

    assert len(list_scripts(fleet.desk.db)) == before + 1
    assert list_scripts(fleet.desk.db)[0].recurrence == "0 4 * * *"


async def test_test_site_choices_follow_the_targets(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, 1)
        test_site = editor.query_one("#script-test-site", Select)
        assert test_site.value == "core-berlin-1"

        def choose(name: str) -> bool:
            try:
                test_site.value = name
            except InvalidSelectValueError:
                return False
            return True

        options = editor.query_one(SelectionList)
        options.deselect("core-berlin-1")
        await wait_until(pilot, lambda: test_site.value is Select.NULL)
        assert not choose("core-berlin-1")

        options.select("lab-1")
        await wait_until(pilot, lambda: choose("lab-1"), what="lab-1 to be offered")
        assert editor.read_form().test_site == "lab-1"


async def test_escape_asks_before_dropping_changes(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        editor.query_one("#script-description", Input).value = "Something else"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is editor, what="keep editing")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")
        await back_on_the_list(pilot)

    assert get_script(fleet.desk.db, fleet.scripts["ntp"]).revision == 1


async def test_a_launched_script_cannot_be_saved(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["export"])
        assert editor.check_action("save", ()) is False
        assert editor.query_one(TextArea).read_only
        await pilot.press("ctrl+s")
        await pilot.press("escape")
        await back_on_the_list(pilot)

    assert get_script(fleet.desk.db, fleet.scripts["export"]).revision == 1


async def test_cancel_after_confirming(make_app: AppFactory, fleet: Fleet) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).move_to_key(str(script_id))
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")

        await wait_until(
            pilot,
            lambda: "cancelled" in str(table(app).get_row(str(script_id))[1]),
            what="the row to show the cancellation",
        )
        assert app.screen.check_action("cancel_script", ()) is False

    assert get_script(fleet.desk.db, script_id).status == ScriptStatus.CANCELLED


async def test_cancel_can_be_declined(make_app: AppFactory, fleet: Fleet) -> None:
    script_id = fleet.scripts["snmp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).move_to_key(str(script_id))
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptsScreen))
        await settle(pilot)

    assert get_script(fleet.desk.db, script_id).status == ScriptStatus.SCHEDULED


async def test_filter_by_text_and_by_state(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).row_count == 6

        await pilot.press("slash", *"snmp")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter")
        assert app.focused is table(app)

        app.screen.query_one("#script-filter", Input).value = ""
        await wait_until(pilot, lambda: table(app).row_count == 6)
        await pilot.press("s")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        assert "unauthorized" in str(table(app).get_row_at(0)[1])


async def test_j_and_k_move_and_a_click_opens(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "k")
        assert table(app).current_key == "5"

        # Row 3 of the table (under its header) is script 4. A click highlights
        # it; a second click on it opens the script.
        await pilot.click(DeskTable, offset=(5, 3))
        await pilot.pause()
        assert table(app).current_key == "4"
        await pilot.click(DeskTable, offset=(5, 3))
        await wait_until(pilot, lambda: isinstance(app.screen, ScriptEditorScreen))
        assert app.screen.script_id == 4


async def test_a_failing_list_says_so_once(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        working = app.desk.database
        # A database without the desk's tables fails every read.
        app.desk.database = Database.open(f"sqlite:///{tmp_path / 'bare.db'}")
        try:
            for _ in range(3):
                await pilot.press("ctrl+r")
                await settle(pilot)
        finally:
            app.desk.database.dispose()
            app.desk.database = working

        toasts = [n.message for n in app._notifications if "no such table" in n.message]
        assert len(toasts) == 1
        assert table(app).row_count == 6
        assert not table(app).loading

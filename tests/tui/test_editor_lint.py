"""Live findings in the script editor, and sending a script on from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import OptionList, SelectionList, TextArea

from sdx_tui.app import DeskApp
from sdx_tui.backend.models import ApprovalRequest, ApprovalStatus, Run, RunKind
from sdx_tui.backend.routeros.schema import import_schema
from sdx_tui.backend.scripts import create_script
from sdx_tui.config import Settings
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.script_editor import ScriptEditorScreen, lowest_version
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.findings import FindingsPanel
from tests.tui.conftest import SIZE, AppFactory, Fleet, settle, wait_until
from tests.tui.test_scripts_screen import open_editor


def panel(app: DeskApp) -> FindingsPanel:
    return app.screen.query_one(FindingsPanel)


def codes(app: DeskApp) -> list[str]:
    return [finding.code for finding in panel(app).findings]


def summary(app: DeskApp) -> str:
    return str(panel(app).query_one("#findings-summary").render())


def toasts(app: DeskApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def type_at_end(pilot: Pilot[Any], editor: TextArea, *keys: str) -> None:
    editor.focus()
    editor.move_cursor(editor.document.end)
    await pilot.press(*keys)


def requests_of(fleet: Fleet, script_id: int) -> list[ApprovalRequest]:
    with fleet.desk.db.reading() as session:
        return list(
            session.scalars(
                select(ApprovalRequest).where(ApprovalRequest.script_id == script_id)
            )
        )


def runs_of(fleet: Fleet, script_id: int) -> list[Run]:
    with fleet.desk.db.reading() as session:
        return list(
            session.scalars(
                select(Run).where(Run.script_id == script_id, Run.kind == RunKind.TEST)
            )
        )


async def confirm(pilot: Pilot[Any]) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.click("#confirm-yes")


async def test_a_stored_script_shows_its_findings_at_once(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(pilot, fleet.scripts["ntp"])
        assert panel(app).findings == ()
        # Targets core-berlin-1 (7.16) and core-berlin-2 (7.15): the older counts.
        assert summary(app).startswith("No findings · RouterOS 7.15")


async def test_findings_follow_what_is_typed(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        content = editor.query_one(TextArea)

        await type_at_end(pilot, content, *'/ip dns set servers="9.9.9.9', "enter")
        await wait_until(pilot, lambda: "RSC003" in codes(app), what="the finding")
        (finding,) = panel(app).findings
        assert (finding.line, finding.severity) == (2, "error")
        assert summary(app).startswith("1 error · ")

        await type_at_end(pilot, content, "up", "end", '"')
        await wait_until(pilot, lambda: codes(app) == [], what="no findings")
        assert summary(app).startswith("No findings")


async def test_findings_wait_for_a_pause_in_typing(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        screen = app.screen
        assert isinstance(screen, ScriptEditorScreen)
        checks: list[str] = []
        original = screen.lint_script

        def counting(request: Any) -> Any:
            checks.append(request.text)
            return original(request)

        screen.lint_script = counting  # type: ignore[method-assign]
        content = editor.query_one(TextArea)

        # While the operator keeps typing (a pause longer than the test), no
        # keystroke starts a check of its own.
        screen.LINT_DELAY = 3600
        await type_at_end(pilot, content, *"/system reboo")
        await settle(pilot)
        assert checks == []
        assert codes(app) == []

        # Then the pause comes: one check, of the text as it is at the end.
        screen.LINT_DELAY = 0.01
        await pilot.press("t")
        await wait_until(pilot, lambda: "RSC102" in codes(app), what="the finding")
        assert checks == [content.text]


async def test_choosing_a_finding_moves_the_cursor_there(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        content = editor.query_one(TextArea)
        content.load_text(
            "/system ntp client set enabled=yes\n"
            "/ip dns set servers=9.9.9.9\n"
            ":put (1 + 2\n"
        )
        await wait_until(pilot, lambda: "RSC001" in codes(app), what="the finding")
        (finding,) = [f for f in panel(app).findings if f.code == "RSC001"]
        index = panel(app).findings.index(finding)

        # A click on the finding's row (under the list's top border).
        await pilot.click(OptionList, offset=(4, 1 + index))
        await wait_until(pilot, lambda: content.has_focus, what="the editor focus")
        assert content.cursor_location == (finding.line - 1, finding.column - 1)

        # The keyboard does the same.
        content.move_cursor((0, 0))
        app.screen.query_one(OptionList).focus()
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: content.has_focus, what="the editor focus")
        first = panel(app).findings[0]
        assert content.cursor_location == (first.line - 1, first.column - 1)


async def test_the_oldest_target_version_decides(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        editor.query_one(TextArea).load_text("/ip/dns/set servers=9.9.9.9\n")
        await wait_until(pilot, lambda: "RouterOS 7.15" in summary(app))
        assert "RSC302" not in codes(app)

        editor.query_one(SelectionList).select("lab-1")
        await wait_until(pilot, lambda: "RSC302" in codes(app), what="the v6 rule")
        assert "RouterOS 6.49.10" in summary(app)


async def test_a_cached_command_tree_checks_menus(
    make_app: AppFactory, fleet: Fleet, settings: Settings, shared_dir: Any
) -> None:
    import_schema(
        shared_dir / "schema" / "routeros-7.22.3-inspect.json",
        settings.schema_cache_dir,
        version="7.15",
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        editor.query_one(TextArea).load_text("/ip frobnicate print\n")
        await wait_until(pilot, lambda: "RSC401" in codes(app), what="the tree rule")
        assert "command tree 7.15" in summary(app)


def test_lowest_version_ignores_what_is_not_a_version() -> None:
    assert lowest_version(["7.16", "7.9", "6.49.10", "7.13"]) == "6.49.10"
    assert lowest_version(["7.14beta3", "7.14"]) == "7.14beta3"
    assert lowest_version(["", "latest"]) is None
    assert lowest_version([]) is None


# -- request authorization and run test from the editor ---------------------------


async def test_request_authorization_from_the_editor(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, script_id)
        assert editor.check_action("request_authorization", ()) is True
        await pilot.press("ctrl+r")
        await confirm(pilot)
        await wait_until(pilot, lambda: bool(requests_of(fleet, script_id)))
        await wait_until(pilot, lambda: any("arthur" in toast for toast in toasts(app)))

    (request,) = requests_of(fleet, script_id)
    assert request.status == ApprovalStatus.OPEN
    assert request.requested_by_id == fleet.desk.operator.user_id


async def test_declining_the_confirmation_sends_nothing(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, script_id)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is editor)
        await settle(pilot)

    assert requests_of(fleet, script_id) == []


async def test_a_script_with_lint_errors_is_not_sent(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, script_id)
        content = editor.query_one(TextArea)
        await type_at_end(pilot, content, *':put "open', "enter")
        await wait_until(pilot, lambda: "RSC003" in codes(app))
        # Unsaved, the key is neither offered nor obeyed.
        assert editor.check_action("request_authorization", ()) is False
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ScriptEditorScreen))

        editor = await open_editor(pilot, script_id)
        await wait_until(pilot, lambda: "RSC003" in codes(app))
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: any("lint error" in toast for toast in toasts(app))
        )
        refusal = next(toast for toast in toasts(app) if "lint error" in toast)
        assert "2:6 RSC003" in refusal
        assert not isinstance(app.screen, ConfirmScreen)

    assert requests_of(fleet, script_id) == []


async def test_the_keys_are_offered_only_when_they_can_run(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        assert editor.check_action("request_authorization", ()) is False
        assert editor.check_action("run_test", ()) is False
        await pilot.press("escape")

        await wait_until(pilot, lambda: not isinstance(app.screen, ScriptEditorScreen))
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        assert editor.check_action("run_test", ()) is True
        await type_at_end(pilot, editor.query_one(TextArea), "x")
        await wait_until(pilot, lambda: editor.check_action("run_test", ()) is False)
        await pilot.press("backspace")
        await wait_until(pilot, lambda: editor.check_action("run_test", ()) is True)
        # In the script, escape leaves the editor; from the form it closes.
        await pilot.press("escape", "escape")

        # Scheduled already: a test is fine, a new request is not.
        await wait_until(pilot, lambda: not isinstance(app.screen, ScriptEditorScreen))
        editor = await open_editor(pilot, fleet.scripts["snmp"])
        assert editor.check_action("request_authorization", ()) is False
        assert editor.check_action("run_test", ()) is False  # no test site


async def test_run_test_from_the_editor(make_app: AppFactory, fleet: Fleet) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(pilot, script_id)
        await pilot.press("ctrl+t")
        await confirm(pilot)
        await wait_until(pilot, lambda: bool(runs_of(fleet, script_id)))
        await wait_until(
            pilot, lambda: any("core-berlin-1" in toast for toast in toasts(app))
        )

    (run,) = runs_of(fleet, script_id)
    assert run.started_by_id == fleet.desk.operator.user_id


# -- the same from the list --------------------------------------------------------


@pytest.mark.parametrize("key", ["r", "t"])
async def test_the_list_offers_keys_by_the_highlighted_script(
    make_app: AppFactory, fleet: Fleet, key: str
) -> None:
    app = make_app()
    action = {"r": "request_authorization", "t": "run_test"}[key]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#scripts-table", DeskTable)
        offered = {}
        for name, script_id in fleet.scripts.items():
            assert table.move_to_key(str(script_id))
            offered[name] = app.screen.check_action(action, ())
        assert [name for name, shown in offered.items() if shown] == ["ntp"]


async def test_request_and_test_from_the_list(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = fleet.scripts["ntp"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#scripts-table", DeskTable).move_to_key(
            str(script_id)
        )
        await pilot.press("r")
        await confirm(pilot)
        await wait_until(pilot, lambda: bool(requests_of(fleet, script_id)))

        await settle(pilot)
        await pilot.press("t")
        await confirm(pilot)
        await wait_until(pilot, lambda: bool(runs_of(fleet, script_id)))


async def test_lint_errors_refuse_a_request_from_the_list(
    make_app: AppFactory, fleet: Fleet
) -> None:
    script_id = create_script(
        fleet.desk.db,
        fleet.desk.operator,
        description="Broken quote",
        content=':put "unfinished\n',
        targets=["core-berlin-1"],
        launch_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
    ).id
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#scripts-table", DeskTable).move_to_key(
            str(script_id)
        )
        await pilot.press("r")
        await confirm(pilot)
        await wait_until(pilot, lambda: bool(toasts(app)), what="the refusal")
        (refusal,) = toasts(app)
        assert "lint error" in refusal and "RSC003" in refusal
    assert requests_of(fleet, script_id) == []


async def test_only_operators_are_offered_the_keys(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app(fleet.desk.approver)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#scripts-table", DeskTable).move_to_key(
            str(fleet.scripts["ntp"])
        )
        assert app.screen.check_action("request_authorization", ()) is False
        assert app.screen.check_action("run_test", ()) is False
        editor = await open_editor(pilot, fleet.scripts["ntp"])
        assert editor.check_action("request_authorization", ()) is False
        assert editor.check_action("run_test", ()) is False

"""Driving the Runs screens with keys: live updates, run keys, filter and sort."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from textual.widgets import RichLog

from sdx_tui.app import DeskApp
from sdx_tui.backend.models import (
    Outcome,
    OutcomeStatus,
    RunKind,
    RunStatus,
    ScriptStatus,
)
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.dashboard import DashboardScreen, RunItem, RunLine
from sdx_tui.screens.site_log import SiteLogScreen
from sdx_tui.widgets.outcome_table import OutcomeTable, SortKey
from tests.conftest import Desk
from tests.tui_dashboard.conftest import (
    offered,
    open_dashboard,
    open_run,
    pause_live_updates,
    wait_for,
)
from tests.tui_dashboard.fleet import (
    add_sites,
    log,
    move,
    outcome_ids,
    runs_of,
    schedule,
    start_run,
    statuses,
)

O = OutcomeStatus  # noqa: E741
SIZE = (120, 32)
AppFactory = Callable[[], DeskApp]
RUN_KEYS = {"run_test", "launch_now", "cancel_run", "retry_failed"}


def items(screen: DashboardScreen) -> dict[int, RunItem]:
    return {item.summary.run_id: item for item in screen.query(RunItem)}


async def test_dashboard_follows_changes_and_repaints_only_changed_runs(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 4, "edge")
    _, first = start_run(db, sqlite_desk.operator, sites)
    _, second = start_run(db, sqlite_desk.operator, sites[:2])
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=2)
        shown = items(screen)
        untouched = shown[second].summary

        move(db, outcome_ids(db, first)[:3], O.COMPLETED)
        await wait_for(
            pilot,
            lambda: shown[first].summary.count(O.COMPLETED) == 3,
            "the first run shows three completed sites",
        )
        line = shown[first].query_one(RunLine)
        assert str(line.render()).endswith(" 75%")
        assert shown[second].summary is untouched

        # A new run goes on top; the highlight stays on the run it was on.
        await pilot.press("down")
        assert screen.current_run() is shown[first].summary
        _, third = start_run(db, sqlite_desk.operator, sites[:1])
        await wait_for(
            pilot, lambda: len(screen.query(RunItem)) == 3, "the new run is listed"
        )
        assert [item.summary.run_id for item in screen.query(RunItem)] == [
            third,
            second,
            first,
        ]
        current = screen.current_run()
        assert current is not None and current.run_id == first


async def test_an_empty_desk_says_so_until_a_run_starts(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 1, "edge")
    async with make_app().run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, DashboardScreen)
                and pilot.app.screen.query_one("#runs-empty").display
            ),
            "the dashboard says there are no runs",
        )
        screen = pilot.app.screen
        assert not screen.query_one("#runs").display
        assert offered(screen) & RUN_KEYS == set()

        start_run(db, sqlite_desk.operator, sites)
        await wait_for(pilot, lambda: len(screen.query(RunItem)) == 1, "a run")
        assert not screen.query_one("#runs-empty").display
        runs = screen.query_one("#runs")
        await wait_for(pilot, lambda: runs.has_focus, "the list has the focus")
        assert offered(screen) & RUN_KEYS == {"cancel_run"}


async def test_pause_stops_live_updates_and_refresh_reads_anyway(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 2, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=1)
        await pause_live_updates(pilot)
        assert screen.paused

        move(db, outcome_ids(db, run_id), O.FAILED)
        await pilot.press("r")
        item = items(screen)[run_id]
        await wait_for(
            pilot,
            lambda: item.summary.status is RunStatus.FAILED,
            "a refresh shows the failed run while paused",
        )
        await pilot.press("p")
        assert not screen.paused


async def test_test_key_asks_first_then_starts_a_test_run(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 2, "edge")
    script_id, first = start_run(
        db,
        sqlite_desk.operator,
        sites[:1],
        kind=RunKind.TEST,
        targets=["edge-00001", "edge-00002"],
        test_site="edge-00002",
    )
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=1)
        assert "run_test" in offered(screen)

        await pilot.press("t")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.screen is screen, "the dialog closed")
        assert len(runs_of(db)) == 1

        await pilot.press("t")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("y")
        await wait_for(
            pilot, lambda: len(screen.query(RunItem)) == 2, "the test run is listed"
        )
        (_, _, _), (new, kind, _) = runs_of(db)
        assert kind is RunKind.TEST
        assert items(screen)[new].summary.script_id == script_id
        assert statuses(db, new) == [O.PENDING]
        assert new != first


async def test_launch_key_launches_a_scheduled_script(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 3, "edge")
    script_id, _ = start_run(
        db,
        sqlite_desk.operator,
        sites[:1],
        kind=RunKind.TEST,
        targets=["edge-00001", "edge-00002", "edge-00003"],
    )
    schedule(db, script_id)
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=1)
        await pilot.press("l")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("y")
        await wait_for(
            pilot, lambda: len(screen.query(RunItem)) == 2, "the launch is listed"
        )
        launched = runs_of(db)[-1]
        assert launched[1] is RunKind.LAUNCH
        assert statuses(db, launched[0]) == [O.PENDING] * 3
        await wait_for(
            pilot,
            lambda: (
                items(screen)[launched[0]].summary.script_status
                is ScriptStatus.LAUNCHED
            ),
            "the script shows as launched",
        )
        # Launched now, it cannot be launched again.
        assert "launch_now" not in offered(screen)


async def test_cancel_key_on_a_run_cancels_its_undelivered_sites(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 4, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    move(db, outcome_ids(db, run_id)[:1], O.DELIVERED)
    async with make_app().run_test(size=SIZE) as pilot:
        await open_dashboard(pilot, runs=1)
        detail = await open_run(pilot, sites=4)
        assert "cancel_run" in offered(detail)

        await pilot.press("x")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("y")
        table = detail.query_one(OutcomeTable)
        await wait_for(
            pilot,
            lambda: (
                [row.status for row in table.shown]
                == [O.DELIVERED, O.CANCELLED, O.CANCELLED, O.CANCELLED]
            ),
            "the undelivered sites show as cancelled",
        )
        assert statuses(db, run_id) == [O.DELIVERED] + [O.CANCELLED] * 3


async def test_retry_key_dispatches_failed_sites_as_a_new_run(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 4, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    ids = outcome_ids(db, run_id)
    move(db, ids[:2], O.COMPLETED)
    move(db, ids[2:3], O.FAILED)
    move(db, ids[3:], O.TIMED_OUT)
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=1)
        assert "retry_failed" in offered(screen)
        assert "cancel_run" not in offered(screen)

        await pilot.press("R")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("y")
        await wait_for(
            pilot, lambda: len(screen.query(RunItem)) == 2, "the retry is listed"
        )
        retry_id, kind, _ = runs_of(db)[-1]
        assert kind is RunKind.RETRY
        assert statuses(db, retry_id) == [O.PENDING, O.PENDING]
        assert items(screen)[retry_id].summary.total == 2


async def test_footer_offers_only_the_keys_that_can_run(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 2, "edge")
    _, done = start_run(db, sqlite_desk.operator, sites)
    move(db, outcome_ids(db, done), O.COMPLETED)
    _, test = start_run(db, sqlite_desk.operator, sites[:1], kind=RunKind.TEST)
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=2)
        # The running test without a test site: only cancel.
        assert offered(screen) & RUN_KEYS == {"cancel_run"}
        await pilot.press("j")
        # A completed launch with nothing failed: nothing to do.
        assert offered(screen) & RUN_KEYS == set()
        assert {"toggle_pause", "refresh", "select_cursor"} <= offered(screen)
        current = screen.current_run()
        assert current is not None and current.run_id == done
        await pilot.press("k")
        current = screen.current_run()
        assert current is not None and current.run_id == test


async def test_a_refused_act_shows_a_toast(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 2, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, runs=1)
        await pause_live_updates(pilot)
        # Another desk settles the run while this one is paused and still
        # shows it running.
        move(db, outcome_ids(db, run_id), O.COMPLETED)
        await pilot.press("x")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "a question"
        )
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: any("nothing to cancel" in n.message for n in app._notifications),
            "a toast says why",
        )
        assert pilot.app.screen is screen


async def test_run_detail_updates_live_and_filters_and_sorts_by_keys(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 30, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    ids = outcome_ids(db, run_id)
    async with make_app().run_test(size=SIZE) as pilot:
        await open_dashboard(pilot, runs=1)
        detail = await open_run(pilot, sites=30)
        table = detail.query_one(OutcomeTable)

        move(db, ids[20:23], O.FAILED, error="failure: interface not found")
        await wait_for(
            pilot,
            lambda: sum(row.status is O.FAILED for row in table.shown) == 3,
            "three failed sites are shown",
        )

        await pilot.press("s")
        assert table.sort_key is SortKey.STATUS
        assert [row.site_name for row in table.shown[:3]] == [
            "edge-00021",
            "edge-00022",
            "edge-00023",
        ]
        await pilot.press("S")
        assert table.shown[-1].status is O.FAILED

        # Letters typed into the filter are text, not the run keys.
        await pilot.press("slash", "x", "R", "backspace", "backspace", *"edge-0001")
        assert not isinstance(pilot.app.screen, ConfirmScreen)
        assert len(table.shown) == 10
        await pilot.press("enter")
        assert table.has_focus
        assert len(table.shown) == 10
        await pilot.press("escape")
        assert table.filter_text == ""
        assert len(table.shown) == 30

        await pilot.press("escape")
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, DashboardScreen),
            "back on the dashboard",
        )


async def test_site_log_appends_new_entries_and_shows_output(
    sqlite_desk: Desk, make_app: AppFactory
) -> None:
    db = sqlite_desk.db
    sites = add_sites(db, sqlite_desk.admin, 1, "edge")
    _, run_id = start_run(db, sqlite_desk.operator, sites)
    outcome = outcome_ids(db, run_id)[0]
    async with make_app().run_test(size=SIZE) as pilot:
        await open_dashboard(pilot, runs=1)
        await open_run(pilot, sites=1)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, SiteLogScreen),
            "the site log is open",
        )
        screen = pilot.app.screen
        events = screen.query_one("#log-events", RichLog)
        output = screen.query_one("#log-output", RichLog)
        await wait_for(pilot, lambda: len(events.lines) == 1, "the created entry")

        log(db, sites[0], outcome, "delivered", "attempt 1")
        with db.session() as session:
            session.execute(
                update(Outcome)
                .where(Outcome.id == outcome)
                .values(output="/system identity print\nname: edge-00001\n")
            )
        move(db, [outcome], O.COMPLETED)
        await wait_for(
            pilot,
            lambda: len(events.lines) == 2 and len(output.lines) == 2,
            "the new entry and the output are shown",
        )
        assert "delivered" in events.lines[1].text
        assert output.lines[1].text.startswith("name: edge-00001")

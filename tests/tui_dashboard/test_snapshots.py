"""Pictures of the Runs screens with fixed data, a stopped clock and a fixed size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import RichLog

from sdx_tui.app import DeskApp
from sdx_tui.screens.run_detail import RunDetailScreen
from sdx_tui.screens.site_log import SiteLogScreen
from sdx_tui.widgets.outcome_table import OutcomeTable
from tests.conftest import Desk
from tests.tui_dashboard.conftest import open_dashboard, open_run, wait_for
from tests.tui_dashboard.fleet import Scenario, build_scenario

SIZE = (120, 32)
SnapCompare = Callable[..., bool]


async def open_rollout(pilot: Pilot[Any]) -> RunDetailScreen:
    await open_dashboard(pilot, runs=3)
    await pilot.press("down", "down")
    return await open_run(pilot, sites=12)


def test_dashboard(
    snap_compare: SnapCompare, sqlite_desk: Desk, make_app: Callable[[], DeskApp]
) -> None:
    """Three runs, newest first: a pending test, a completed backup, and a rollout
    with completed, failed, timed-out, delivered and pending sites; each row has
    its counts and a progress bar. The footer offers cancel for the running test
    (the highlighted row), and the state line says live, read at 09:30:00."""
    build_scenario(sqlite_desk.db, sqlite_desk.admin, sqlite_desk.operator)

    async def dashboard(pilot: Pilot[Any]) -> None:
        await open_dashboard(pilot, runs=3)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=dashboard)


def test_run_detail(
    snap_compare: SnapCompare, sqlite_desk: Desk, make_app: Callable[[], DeskApp]
) -> None:
    """The rollout's twelve sites sorted by state: failed and timed-out first with
    their errors, then delivered, pending and completed; the header shows the
    counts, a progress bar at 75% and the running badge."""
    build_scenario(sqlite_desk.db, sqlite_desk.admin, sqlite_desk.operator)

    async def sorted_by_state(pilot: Pilot[Any]) -> None:
        await open_rollout(pilot)
        await pilot.press("s")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=sorted_by_state)


def test_run_detail_filtered(
    snap_compare: SnapCompare, sqlite_desk: Desk, make_app: Callable[[], DeskApp]
) -> None:
    """The filter "fail" was typed and confirmed: the box at the bottom keeps it,
    only the two failed sites are left, the state line says 2 of 12 shown, and
    the table has the focus again."""
    build_scenario(sqlite_desk.db, sqlite_desk.admin, sqlite_desk.operator)

    async def filtered(pilot: Pilot[Any]) -> None:
        screen = await open_rollout(pilot)
        await pilot.press("slash", *"fail", "enter")
        table = screen.query_one(OutcomeTable)
        await wait_for(
            pilot, lambda: len(table.shown) == 2 and table.has_focus, "two sites match"
        )

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=filtered)


def test_site_log(
    snap_compare: SnapCompare, sqlite_desk: Desk, make_app: Callable[[], DeskApp]
) -> None:
    """The failed site edge-00007 in the rollout: its four log events (created,
    polled, delivered, result) with their times, the delivery facts, and the
    device's output highlighted as RouterOS, then the error in the error colour."""
    scenario: Scenario = build_scenario(
        sqlite_desk.db, sqlite_desk.admin, sqlite_desk.operator
    )

    async def open_log(pilot: Pilot[Any]) -> None:
        screen = await open_rollout(pilot)
        table = screen.query_one(OutcomeTable)
        table.filter_text = "edge-00007"
        await wait_for(pilot, lambda: len(table.shown) == 1, "one site matches")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, SiteLogScreen)
                and len(pilot.app.screen.query_one("#log-events", RichLog).lines) == 4
                and len(pilot.app.screen.query_one("#log-output", RichLog).lines) > 1
            ),
            "the site's log and output are shown",
        )
        assert isinstance(pilot.app.screen, SiteLogScreen)
        assert pilot.app.screen.site_id == scenario.failed_site

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=open_log)

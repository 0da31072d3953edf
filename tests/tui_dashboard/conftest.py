"""Fixtures for the Runs screens: the desk app on a test database, a fixed clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from sdx_tui.app import DeskApp, create_app
from sdx_tui.config import load_settings
from sdx_tui.screens.dashboard import DashboardScreen, RunItem
from sdx_tui.screens.run_actions import REFRESH_WORKER
from sdx_tui.screens.run_detail import RunDetailScreen
from sdx_tui.widgets.outcome_table import OutcomeTable
from tests.conftest import Desk
from tests.tui_dashboard.fleet import FIXED_NOW

WAIT_SECONDS = 30.0
"""How long a pilot test waits for a condition before it fails; generous on
purpose, since the machine running the suite may be busy."""


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()`` holds; fail after a long while."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await pilot.pause(0.02)


@pytest.fixture
def make_app(sqlite_desk: Desk) -> Callable[[], DeskApp]:
    """A factory of desk apps for olivia (operator), with the clock stopped."""

    def build() -> DeskApp:
        return create_app(
            load_settings(),
            database=sqlite_desk.db,
            actor=sqlite_desk.operator,
            clock=lambda: FIXED_NOW,
            os_user="olivia",
        )

    return build


async def open_dashboard(pilot: Pilot[Any], runs: int) -> DashboardScreen:
    """Open the Runs section (F5) and wait until it lists ``runs`` runs."""
    await pilot.press("f5")
    await wait_for(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, DashboardScreen)
            and len(pilot.app.screen.query(RunItem)) == runs
        ),
        f"the dashboard lists {runs} run(s)",
    )
    screen = pilot.app.screen
    assert isinstance(screen, DashboardScreen)
    return screen


async def open_run(pilot: Pilot[Any], sites: int) -> RunDetailScreen:
    """From the dashboard, open the highlighted run and wait for its sites."""
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, RunDetailScreen)
            and pilot.app.screen.query_one(OutcomeTable).row_count == sites
        ),
        f"the run's {sites} site(s) are shown",
    )
    screen = pilot.app.screen
    assert isinstance(screen, RunDetailScreen)
    return screen


async def pause_live_updates(pilot: Pilot[Any]) -> None:
    """Press ``p`` and wait until no read is under way, so none lands later."""
    await pilot.press("p")
    await wait_for(
        pilot,
        lambda: (
            not any(
                worker.name == REFRESH_WORKER and not worker.is_finished
                for worker in pilot.app.workers
            )
        ),
        "the last read finished",
    )


def offered(screen: Screen[Any]) -> set[str]:
    """The actions the footer offers now."""
    return {active.binding.action for active in screen.active_bindings.values()}

"""A small, fixed fleet for the desk's screens, and helpers to wait for the UI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from textual.pilot import Pilot

from sdx_tui.app import DeskApp, create_app
from sdx_tui.backend.identity import Actor
from sdx_tui.backend.lifecycle import transition_script
from sdx_tui.backend.models import ScriptStatus, Site
from sdx_tui.backend.scripts import cancel_script, create_script
from sdx_tui.backend.sites import add_site
from sdx_tui.config import Settings, load_settings
from tests.conftest import Desk

FIXED_NOW = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
"""The desk's clock in every UI test."""

SIZE = (120, 36)
"""The terminal size of every UI test."""

S = ScriptStatus


@dataclass(frozen=True)
class Fleet:
    """The desk with four sites and six scripts, one per state."""

    desk: Desk
    scripts: dict[str, int]
    """Script ids by a short name."""


def _move(desk: Desk, script_id: int, *states: ScriptStatus) -> None:
    for state in states:
        with desk.db.session() as session:
            transition_script(session, script_id, state)


def _populate(desk: Desk) -> Fleet:
    sites = [
        ("core-berlin-1", "7.16", "Europe/Berlin", "core,berlin", 3),
        ("core-berlin-2", "7.15", "Europe/Berlin", "core,berlin", 125),
        ("edge-paris-1", "7.13", "Europe/Paris", "edge,paris", 60 * 24 * 3),
        ("lab-1", "6.49.10", "UTC", "lab", None),
    ]
    for name, version, zone, tags, minutes_ago in sites:
        add_site(
            desk.db,
            desk.admin,
            name,
            routeros_version=version,
            time_zone=zone,
            tags=tags,
            address=f"10.0.{len(name)}.1",
        )
        seen = (
            None if minutes_ago is None else FIXED_NOW - timedelta(minutes=minutes_ago)
        )
        with desk.db.session() as session:
            session.execute(
                update(Site)
                .where(Site.name == name)
                .values(last_seen_at=seen, created_at=FIXED_NOW - timedelta(days=30))
            )

    berlin = ["core-berlin-1", "core-berlin-2"]
    everywhere = [name for name, *_ in sites]

    def script(description: str, **options: Any) -> int:
        options.setdefault("content", "/system ntp client set enabled=yes\n")
        return create_script(
            desk.db, desk.operator, description=description, **options
        ).id

    ids = {
        "ntp": script(
            "Enable the NTP client",
            targets=berlin,
            launch_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
            time_zone="Europe/Berlin",
            make_backup=True,
            test_site="core-berlin-1",
        ),
        "snmp": script(
            "Rotate the SNMP community",
            targets=everywhere,
            launch_at=datetime(2026, 2, 21, 2, 0, tzinfo=UTC),
        ),
        "export": script(
            "Weekly configuration export",
            targets=["edge-paris-1"],
            launch_at=datetime(2026, 2, 16, 2, 0, tzinfo=UTC),
            time_zone="Europe/Paris",
            recurrence="0 3 * * 1",
        ),
        "telnet": script("Disable telnet", targets=everywhere),
        "upgrade": script("Upgrade packages to 7.16", targets=["lab-1"]),
        "firewall": script("Firewall clean-up", targets=berlin),
    }
    _move(desk, ids["snmp"], S.SCHEDULED)
    _move(desk, ids["export"], S.SCHEDULED, S.LAUNCHED)
    cancel_script(desk.db, desk.operator, ids["telnet"])
    _move(desk, ids["upgrade"], S.SCHEDULED, S.LAUNCHED, S.COMPLETED)
    _move(desk, ids["firewall"], S.SCHEDULED, S.LAUNCHED, S.FAILED)
    return Fleet(desk=desk, scripts=ids)


@pytest.fixture
def fleet(sqlite_desk: Desk) -> Fleet:
    """Four sites and six scripts in every state, on SQLite."""
    return _populate(sqlite_desk)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings, with the data directory in the test's own folder."""
    return load_settings(data_dir=tmp_path / "data")


AppFactory = Callable[..., DeskApp]


@pytest.fixture
def make_app(fleet: Fleet, settings: Settings) -> AppFactory:
    """Build the desk on the fleet, as olivia (operator) unless told otherwise."""

    def make(actor: Actor | None = None, **options: Any) -> DeskApp:
        chosen = actor or fleet.desk.operator
        return create_app(
            settings,
            database=fleet.desk.db,
            actor=chosen,
            clock=lambda: FIXED_NOW,
            os_user=chosen.name,
            **options,
        )

    return make


async def wait_until(
    pilot: Pilot[Any],
    condition: Callable[[], bool],
    *,
    what: str = "the condition",
    timeout: float = 30.0,
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the current screen has loaded its data and the app is idle.

    Cursors stop blinking on that screen, so that pictures are the same every
    time.
    """
    app = pilot.app
    await pilot.pause()
    await wait_until(
        pilot,
        lambda: not any(widget.loading for widget in app.screen.query("*")),
        what="the screen to load",
    )
    await app.workers.wait_for_complete()
    # A blinking cursor would make pictures depend on timing: hold it steady.
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()

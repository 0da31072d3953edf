"""The scheduler service: rebuilt from the database, in step with other desks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import ScriptStatus
from sdx_tui.backend.scheduling import SchedulerService
from sdx_tui.backend.scripts import ScriptChanges, cancel_script, edit_script
from sdx_tui.config import Settings
from tests.conftest import Desk
from tests.scheduling.support import (
    add_sites,
    launch_runs,
    scheduled_script,
    script_status,
)

# A year ahead of the real clock, so that no date job's real time comes while a
# test drives the service with its fake clock.
START = (utcnow() + timedelta(days=365)).replace(microsecond=0)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _settings(tmp_path: Path, sync_seconds: float = 3600.0) -> Settings:
    settings = Settings(data_dir=tmp_path, config_path=tmp_path / "settings.toml")
    return settings.with_section("scheduler", sync_seconds=sync_seconds)


async def _eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while not await asyncio.to_thread(condition):
        if loop.time() > give_up:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


async def test_start_launches_what_is_due_and_plans_the_rest(
    desk: Desk, tmp_path: Path
) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    overdue = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=START - timedelta(minutes=1)
    )
    later = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=START + timedelta(hours=1)
    )
    service = SchedulerService(_settings(tmp_path), desk.db, clock=FakeClock(START))
    await service.start()
    try:
        assert len(launch_runs(desk.db, overdue)) == 1
        assert launch_runs(desk.db, later) == []
        assert service.launch_times() == [START + timedelta(hours=1)]
    finally:
        await service.stop()
    assert not service.running


async def test_sync_follows_changes_made_by_another_desk(
    sqlite_desk: Desk, tmp_path: Path
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    clock = FakeClock(START)
    first = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=START + timedelta(hours=1)
    )
    service = SchedulerService(_settings(tmp_path), desk.db, clock=clock)
    await service.start()
    try:
        assert service.launch_times() == [START + timedelta(hours=1)]

        # Approved elsewhere: a new launch time appears.
        second = scheduled_script(
            desk.db, desk.operator, targets=sites, launch_at=START + timedelta(hours=2)
        )
        await service.sync()
        assert service.launch_times() == [
            START + timedelta(hours=1),
            START + timedelta(hours=2),
        ]

        # Cancelled elsewhere: its time goes.
        cancel_script(desk.db, desk.operator, first)
        await service.sync()
        assert service.launch_times() == [START + timedelta(hours=2)]

        # Edited elsewhere: back to unauthorized, so nothing is planned for it.
        edit_script(
            desk.db,
            desk.operator,
            second,
            ScriptChanges(launch_at=START + timedelta(hours=3)),
        )
        await service.sync()
        assert service.launch_times() == []
        assert script_status(desk.db, second) is ScriptStatus.UNAUTHORIZED

        # Its time comes while it waits for approval: it must not launch.
        clock.now = START + timedelta(hours=3)
        await service.sync()
        assert launch_runs(desk.db, second) == []
    finally:
        await service.stop()


async def test_a_sync_after_the_due_time_launches_the_script(
    sqlite_desk: Desk, tmp_path: Path
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    clock = FakeClock(START)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=START + timedelta(minutes=5)
    )
    service = SchedulerService(_settings(tmp_path), desk.db, clock=clock)
    await service.start()
    try:
        await service.sync()
        assert launch_runs(desk.db, script_id) == []

        clock.now = START + timedelta(minutes=5, seconds=1)
        await service.sync()
        assert len(launch_runs(desk.db, script_id)) == 1
        assert service.launch_times() == []
    finally:
        await service.stop()


async def test_the_timer_launches_a_script_at_its_time(
    desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow() + timedelta(seconds=1)
    )
    # The periodic sync is an hour away, so only the date job can launch it.
    service = SchedulerService(_settings(tmp_path), desk.db)
    caplog.set_level(logging.INFO)
    await service.start()
    try:
        await _eventually(lambda: len(launch_runs(desk.db, script_id)) == 1)
    finally:
        await service.stop()
    assert script_status(desk.db, script_id) is ScriptStatus.LAUNCHED
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_the_periodic_sync_picks_up_a_script_scheduled_after_start(
    sqlite_desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    service = SchedulerService(_settings(tmp_path, sync_seconds=0.2), desk.db)
    caplog.set_level(logging.INFO)
    await service.start()
    try:
        script_id = scheduled_script(
            desk.db, desk.operator, targets=sites, launch_at=utcnow()
        )
        await _eventually(lambda: len(launch_runs(desk.db, script_id)) == 1)
    finally:
        await service.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_stop_is_clean_and_repeatable(sqlite_desk: Desk, tmp_path: Path) -> None:
    service = SchedulerService(_settings(tmp_path, sync_seconds=0.05), sqlite_desk.db)
    await service.stop()
    await service.start()
    await service.start()
    await service.stop()
    await service.stop()
    assert not service.running
    assert service.launch_times() == []

"""The desk backend runs the scheduler and the outbox sender with the endpoint."""

from __future__ import annotations

from sdx_tui.backend.db import Database
from sdx_tui.backend.notify.service import OutboxSender
from sdx_tui.backend.runtime import DeskRuntime, default_services
from sdx_tui.backend.scheduling import SchedulerService
from sdx_tui.config import load_settings


async def test_the_runtime_starts_and_stops_the_default_services(
    sqlite_db: Database,
) -> None:
    settings = load_settings()
    services = default_services(settings, sqlite_db)
    assert [type(s) for s in services] == [SchedulerService, OutboxSender]

    runtime = DeskRuntime(settings, sqlite_db, services, serve_endpoint=False)
    await runtime.start()
    try:
        assert services[0].running
    finally:
        await runtime.stop()
    assert not services[0].running


def test_a_demo_desk_sends_no_notifications(sqlite_db: Database) -> None:
    services = default_services(load_settings(), sqlite_db, send_notifications=False)
    assert [type(s) for s in services] == [SchedulerService]

"""The runtime: uvicorn inside the running loop, with the desk's services."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from sdx_tui.backend.runtime import DeskRuntime, EndpointError
from sdx_tui.config import Settings, load_settings
from tests.conftest import Desk
from tests.delivery.conftest import add_devices


class RecordingService:
    """A service that notes when it starts and stops, and can refuse to start."""

    def __init__(self, name: str, events: list[str], *, fail: bool = False) -> None:
        self.name = name
        self.events = events
        self.fail = fail

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


def settings() -> Settings:
    return load_settings()


async def test_the_endpoint_serves_real_http_and_stops_cleanly(
    sqlite_desk: Desk,
) -> None:
    (device,) = add_devices(sqlite_desk, 1)
    events: list[str] = []
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    runtime = DeskRuntime(
        settings(),
        sqlite_desk.db,
        [RecordingService("scheduler", events), RecordingService("outbox", events)],
        host="127.0.0.1",
        port=0,
    )

    await runtime.start()
    try:
        assert runtime.running and runtime.port
        assert runtime.base_url == f"http://127.0.0.1:{runtime.port}"
        async with httpx.AsyncClient(base_url=runtime.base_url) as client:
            health = await client.get("/healthz")
            poll = await client.get(
                "/agent/v1/poll", headers={"Authorization": f"Bearer {device.token}"}
            )
        assert health.status_code == 200 and health.json()["sites"] == 1
        assert poll.status_code == 204
        assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    finally:
        await runtime.stop()

    assert events == [
        "start scheduler",
        "start outbox",
        "stop outbox",
        "stop scheduler",
    ]
    assert not runtime.running


async def test_a_service_that_fails_to_start_undoes_the_start(
    sqlite_desk: Desk,
) -> None:
    events: list[str] = []
    runtime = DeskRuntime(
        settings(),
        sqlite_desk.db,
        [
            RecordingService("first", events),
            RecordingService("second", events, fail=True),
        ],
        host="127.0.0.1",
        port=0,
    )
    with pytest.raises(RuntimeError, match="second cannot start"):
        await runtime.start()
    assert events == ["start first", "stop first"]
    assert not runtime.running


async def test_a_busy_port_is_reported_clearly(sqlite_desk: Desk) -> None:
    first = DeskRuntime(settings(), sqlite_desk.db, host="127.0.0.1", port=0)
    await first.start()
    try:
        second = DeskRuntime(
            settings(), sqlite_desk.db, host="127.0.0.1", port=first.port
        )
        with pytest.raises(EndpointError, match="cannot listen"):
            await second.start()
    finally:
        await first.stop()


async def test_a_missing_certificate_is_reported_clearly(
    sqlite_desk: Desk, tmp_path: Path
) -> None:
    tls = settings().with_section(
        "endpoint",
        tls_cert=str(tmp_path / "missing.pem"),
        tls_key=str(tmp_path / "missing.key"),
    )
    runtime = DeskRuntime(tls, sqlite_desk.db, host="127.0.0.1", port=0)
    with pytest.raises(EndpointError, match="did not start"):
        await runtime.start()
    assert not runtime.running


async def test_services_run_without_the_endpoint(sqlite_desk: Desk) -> None:
    events: list[str] = []
    runtime = DeskRuntime(
        settings(),
        sqlite_desk.db,
        [RecordingService("scheduler", events)],
        serve_endpoint=False,
    )
    await runtime.start()
    await runtime.stop()
    assert events == ["start scheduler", "stop scheduler"]
    assert runtime.port is None

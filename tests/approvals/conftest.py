"""Fixtures for the approval tests: a desk with sites, a script ready to request,
settings that point at the test peers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from agent_endpoint.approval_pages import approval_routes
from sdx_tui.backend.db import Database
from sdx_tui.backend.models import Script
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import add_site
from sdx_tui.config import Settings
from tests.conftest import Desk

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LAUNCH = datetime(2026, 12, 24, 1, 0, tzinfo=UTC)
CLEAN = '/ip dns set servers=9.9.9.9\n:log info "dns changed"\n'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with public links; no channel set up (tests add the ones they use)."""
    base = Settings(data_dir=tmp_path / "data", config_path=tmp_path / "settings.toml")
    return base.with_section("endpoint", public_url="https://desk.example.test")


def make_script(
    desk: Desk,
    *,
    content: str = CLEAN,
    targets: tuple[str, ...] = ("berlin-core", "paris-edge"),
    launch_at: datetime | None = LAUNCH,
) -> Script:
    """A script by olivia, on sites created when missing."""
    from sdx_tui.backend.sites import list_sites

    known = {site.name for site in list_sites(desk.db)}
    for name in targets:
        if name not in known:
            add_site(desk.db, desk.admin, name, time_zone="Europe/Berlin")
    return create_script(
        desk.db,
        desk.operator,
        description="Switch DNS to Quad9",
        content=content,
        targets=list(targets),
        launch_at=launch_at,
        time_zone="Europe/Berlin",
        test_site=targets[0] if targets else None,
    )


@pytest.fixture
def script(desk: Desk) -> Script:
    """A clean script with two targets and a launch time, on both databases."""
    return make_script(desk)


@pytest.fixture
def sqlite_script(sqlite_desk: Desk) -> Script:
    """The same script on SQLite only."""
    return make_script(sqlite_desk)


@dataclass
class Clock:
    """A settable clock for the pages."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def page_client(
    settings: Settings, database: Database, clock: Clock
) -> httpx.AsyncClient:
    """The approval pages served by Starlette, as a browser would reach them."""
    app = Starlette(routes=approval_routes(settings, database, clock=clock))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://desk.example.test"
    )

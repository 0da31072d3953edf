"""Fixtures for poll delivery: sites with their tokens, and runs to deliver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import RunKind, ScriptStatus
from sdx_tui.backend.runs import create_run
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import add_site
from tests.conftest import Desk


@dataclass(frozen=True)
class Device:
    """A site as its device knows it: id, name and bearer token."""

    site_id: int
    name: str
    token: str


def add_devices(desk: Desk, count: int, prefix: str = "dev") -> list[Device]:
    """``count`` new sites and their tokens."""
    devices = []
    for number in range(count):
        site, token = add_site(desk.db, desk.admin, f"{prefix}-{number:03d}")
        devices.append(Device(site.id, site.name, token))
    return devices


def new_script(desk: Desk, content: str = ":put hello", recurrence: str = "") -> int:
    """A script by olivia, in its first state."""
    script = create_script(
        desk.db,
        desk.operator,
        description="deliver me",
        content=content,
        recurrence=recurrence,
    )
    return script.id


def launch(
    desk: Desk,
    script_id: int,
    devices: Sequence[Device],
    *,
    kind: RunKind = RunKind.LAUNCH,
    deadline: timedelta = timedelta(hours=1),
    occurrence_at: datetime | None = None,
) -> int:
    """A run of the script to the devices; a launch moves the script to launched."""
    with desk.db.session() as session:
        if kind is RunKind.LAUNCH:
            lifecycle.transition_script(session, script_id, ScriptStatus.SCHEDULED)
            lifecycle.transition_script(session, script_id, ScriptStatus.LAUNCHED)
        return create_run(
            session,
            script_id=script_id,
            kind=kind,
            site_ids=[device.site_id for device in devices],
            occurrence_at=occurrence_at or utcnow(),
            deadline=deadline,
        )

"""Building scheduled scripts for the scheduling tests, as approval would."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import Actor
from sdx_tui.backend.models import Outcome, Run, RunKind, Script, ScriptStatus
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import add_site


def add_sites(
    database: Database, admin: Actor, count: int, prefix: str = "site"
) -> list[str]:
    """``count`` new sites; returns their names."""
    return [add_site(database, admin, f"{prefix}-{n}")[0].name for n in range(count)]


def scheduled_script(
    database: Database,
    operator: Actor,
    *,
    targets: list[str],
    launch_at: datetime | None,
    recurrence: str = "",
    time_zone: str = "UTC",
    test_site: str | None = None,
    description: str = "Rotate SNMP community",
) -> int:
    """A script moved to ``scheduled`` the way an approval does it."""
    script = create_script(
        database,
        operator,
        description=description,
        content="/snmp community set [find default=yes] name=n0c",
        targets=targets,
        launch_at=launch_at,
        time_zone=time_zone,
        recurrence=recurrence,
        test_site=test_site,
    )
    with database.session() as session:
        lifecycle.transition_script(
            session,
            script.id,
            ScriptStatus.SCHEDULED,
            values={
                "approved_hash": "a" * 64,
                "approved_revision": script.revision,
                "next_launch_at": launch_at,
            },
        )
    return script.id


def script_status(database: Database, script_id: int) -> ScriptStatus:
    """The script's state, read from the database."""
    with database.reading() as session:
        status = session.scalar(select(Script.status).where(Script.id == script_id))
    assert status is not None
    return status


def launch_runs(database: Database, script_id: int) -> list[Run]:
    """The script's launch runs, oldest first."""
    with database.reading() as session:
        return list(
            session.scalars(
                select(Run)
                .where(Run.script_id == script_id, Run.kind == RunKind.LAUNCH)
                .order_by(Run.id)
            )
        )


def outcomes_per_run(database: Database, run_id: int) -> dict[int, int]:
    """How many outcomes each site has in the run."""
    with database.reading() as session:
        rows = session.execute(
            select(Outcome.site_id, func.count(Outcome.id))
            .where(Outcome.run_id == run_id)
            .group_by(Outcome.site_id)
        ).all()
    return {site_id: count for site_id, count in rows}

"""Test data for the monitoring screens: sites, scripts, runs and their changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import Actor, default_workspace_id
from sdx_tui.backend.lifecycle import transition_outcomes, transition_script
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    ScriptStatus,
    Site,
)
from sdx_tui.backend.runs import add_log, create_run, rollup_run
from sdx_tui.backend.scripts import create_script

FIXED_NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
"""The instant the screens' clock shows in snapshot tests."""


def add_sites(database: Database, actor: Actor, count: int, prefix: str) -> list[int]:
    """Add ``count`` sites named ``prefix-00001`` ... in one statement."""
    with database.session() as session:
        workspace = default_workspace_id(session, actor.organisation_id)
        session.execute(
            insert(Site),
            [
                {
                    "workspace_id": workspace,
                    "name": f"{prefix}-{n:05d}",
                    "token_hash": f"{prefix}-hash-{n}",
                    "tags": [],
                    "time_zone": "UTC",
                    "routeros_version": "7.16",
                    "address": "",
                    "created_at": FIXED_NOW,
                }
                for n in range(1, count + 1)
            ],
        )
        ids = session.scalars(
            select(Site.id).where(Site.name.like(f"{prefix}-%")).order_by(Site.id)
        ).all()
    return list(ids)


def start_run(
    database: Database,
    actor: Actor,
    site_ids: Sequence[int],
    *,
    description: str = "Rotate SNMP community",
    kind: RunKind = RunKind.LAUNCH,
    test_site: str | None = None,
    targets: Sequence[str] = (),
) -> tuple[int, int]:
    """A script and a run of it over ``site_ids``; returns (script id, run id)."""
    script = create_script(
        database,
        actor,
        description=description,
        content="/snmp community set [find default=yes] name=noc\n",
        targets=targets,
        test_site=test_site,
    )
    with database.session() as session:
        run_id = create_run(
            session,
            script_id=script.id,
            kind=kind,
            site_ids=site_ids,
            occurrence_at=FIXED_NOW,
            deadline=timedelta(hours=1),
        )
    return script.id, run_id


def outcome_ids(database: Database, run_id: int) -> list[int]:
    """The outcomes of a run, by site id."""
    with database.reading() as session:
        ids = session.scalars(
            select(Outcome.id).where(Outcome.run_id == run_id).order_by(Outcome.site_id)
        ).all()
    return list(ids)


def move(
    database: Database,
    ids: Iterable[int],
    wanted: OutcomeStatus,
    *,
    at: datetime | None = None,
    error: str = "",
) -> list[int]:
    """Move outcomes along the lifecycle (through ``delivered`` when needed)."""
    ids = list(ids)
    values: dict[str, object] = {}
    if wanted is not OutcomeStatus.DELIVERED:
        values["finished_at"] = at or FIXED_NOW
    if error:
        values["error"] = error
    with database.session() as session:
        if wanted is not OutcomeStatus.CANCELLED:
            transition_outcomes(
                session,
                ids,
                OutcomeStatus.DELIVERED,
                expected={OutcomeStatus.PENDING},
                now=at,
                values={"attempts": 1, "delivered_at": at or FIXED_NOW},
            )
        if wanted is OutcomeStatus.DELIVERED:
            return ids
        moved = transition_outcomes(
            session,
            ids,
            wanted,
            expected={OutcomeStatus.PENDING, OutcomeStatus.DELIVERED},
            now=at,
            values=values,
        )
        run_ids = session.scalars(
            select(Outcome.run_id).where(Outcome.id.in_(ids[:1]))
        ).all()
        for run_id in run_ids:
            rollup_run(session, run_id)
    return moved


def pin_times(database: Database, at: datetime = FIXED_NOW) -> None:
    """Stamp every run, outcome and log entry with ``at`` (for snapshots)."""
    with database.session() as session:
        session.execute(update(Run).values(created_at=at))
        session.execute(update(Outcome).values(updated_at=at, deadline=at))
        session.execute(update(LogEntry).values(at=at))


def log(
    database: Database, site_id: int, outcome_id: int, event: str, detail: str
) -> None:
    """Write one log entry a second after the site's newest one."""
    with database.session() as session:
        newest = session.scalar(
            select(func.max(LogEntry.at)).where(LogEntry.site_id == site_id)
        )
        add_log(
            session,
            site_id=site_id,
            outcome_id=outcome_id,
            event=event,
            detail=detail,
            at=(newest or FIXED_NOW) + timedelta(seconds=1),
        )


OUTPUT = """\
/snmp community print
Flags: * - default
 #   NAME     ADDRESSES  SECURITY  READ-ACCESS
 0 * public   0.0.0.0/0  none      yes
failure: no such item (4)
"""


@dataclass(frozen=True)
class Scenario:
    """The fixed data of the snapshot tests."""

    sites: list[int]
    rollout: int
    """A launch over 12 sites, part done, part failed, part waiting."""
    backup: int
    """A finished launch over 4 sites."""
    test: int
    """A test run on one site, pending."""
    failed_site: int


def build_scenario(database: Database, admin: Actor, operator: Actor) -> Scenario:
    """Three runs in every state the dashboard shows, with pinned times and ids."""
    sites = add_sites(database, admin, 12, "edge")
    _, rollout = start_run(
        database, operator, sites, description="Rotate SNMP community"
    )
    _, backup = start_run(
        database, operator, sites[:4], description="Nightly backup to SFTP"
    )
    _, test = start_run(
        database, operator, sites[:1], description="NTP servers", kind=RunKind.TEST
    )
    ids = outcome_ids(database, rollout)
    move(database, ids[:6], OutcomeStatus.COMPLETED)
    move(database, ids[6:8], OutcomeStatus.FAILED, error="failure: no such item (4)")
    move(database, ids[8:9], OutcomeStatus.TIMED_OUT)
    move(database, ids[9:10], OutcomeStatus.DELIVERED)
    move(database, outcome_ids(database, backup), OutcomeStatus.COMPLETED)

    failed_site = sites[6]
    log(database, failed_site, ids[6], "polled", "")
    log(database, failed_site, ids[6], "delivered", "attempt 1, delivery to 7.16")
    log(database, failed_site, ids[6], "result", "failed after 0.4 s")
    with database.session() as session:
        session.execute(
            update(Outcome).where(Outcome.id == ids[6]).values(output=OUTPUT)
        )
    pin_times(database)
    with database.session() as session:
        for outcome_id in session.scalars(select(Outcome.id)).all():
            session.execute(
                update(Outcome)
                .where(Outcome.id == outcome_id)
                .values(delivery_id=f"{outcome_id:032x}")
            )
        for n, entry_id in enumerate(
            session.scalars(select(LogEntry.id).order_by(LogEntry.id)).all()
        ):
            session.execute(
                update(LogEntry)
                .where(LogEntry.id == entry_id)
                .values(at=FIXED_NOW + timedelta(seconds=n))
            )
    return Scenario(sites, rollout, backup, test, failed_site)


def schedule(database: Database, script_id: int) -> None:
    """Mark a script approved and scheduled, as an approval would."""
    with database.session() as session:
        transition_script(
            session,
            script_id,
            ScriptStatus.SCHEDULED,
            values={"approved_revision": 1, "approved_hash": "a" * 64},
        )


def runs_of(database: Database) -> list[tuple[int, RunKind, RunStatus]]:
    """Every run: id, kind and state, oldest first."""
    with database.reading() as session:
        rows = session.execute(select(Run.id, Run.kind, Run.status).order_by(Run.id))
        return [(run_id, kind, status) for run_id, kind, status in rows]


def statuses(database: Database, run_id: int) -> list[OutcomeStatus]:
    """The states of a run's outcomes, by site."""
    with database.reading() as session:
        return list(
            session.scalars(
                select(Outcome.status)
                .where(Outcome.run_id == run_id)
                .order_by(Outcome.site_id)
            )
        )

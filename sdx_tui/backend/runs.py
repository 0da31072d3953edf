"""Runs and their outcomes: creating them in bulk, and rolling them up."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import NotFound
from sdx_tui.backend.lifecycle import FINAL_OUTCOMES, OPEN_OUTCOMES
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    Script,
)

log = logging.getLogger(__name__)

_SUCCESS = frozenset({OutcomeStatus.COMPLETED, OutcomeStatus.SKIPPED})


def new_delivery_id() -> str:
    """A delivery id: 128 random bits as 32 hex digits."""
    return uuid.uuid4().hex


def create_run(
    session: Session,
    *,
    script_id: int,
    kind: RunKind,
    site_ids: Sequence[int],
    occurrence_at: datetime,
    deadline: timedelta,
    content_hash: str = "",
    revision: int | None = None,
    started_by_id: int | None = None,
    retry_of_id: int | None = None,
) -> int:
    """Create a run and one pending outcome per site in the session's transaction.

    Outcomes and their "created" log entries go in as two executemany statements,
    so a launch to 10,000 sites costs a few round trips, not 20,000. ``revision``
    is the script revision whose content the devices get; by default the current.
    """
    now = utcnow()
    if revision is None:
        revision = session.scalar(select(Script.revision).where(Script.id == script_id))
        if revision is None:
            raise NotFound(f"script {script_id} does not exist")
    run = Run(
        script_id=script_id,
        kind=kind,
        status=RunStatus.RUNNING,
        occurrence_at=occurrence_at,
        content_hash=content_hash,
        revision=revision,
        started_by_id=started_by_id,
        retry_of_id=retry_of_id,
        created_at=now,
    )
    session.add(run)
    session.flush()

    rows = [
        {
            "run_id": run.id,
            "site_id": site_id,
            "status": OutcomeStatus.PENDING,
            "delivery_id": new_delivery_id(),
            "deadline": now + deadline,
            "attempts": 0,
            "output": "",
            "error": "",
            "updated_at": now,
        }
        for site_id in dict.fromkeys(site_ids)
    ]
    if rows:
        session.execute(insert(Outcome), rows)
        created = session.execute(
            select(Outcome.id, Outcome.site_id).where(Outcome.run_id == run.id)
        ).all()
        session.execute(
            insert(LogEntry),
            [
                {
                    "site_id": site_id,
                    "outcome_id": outcome_id,
                    "at": now,
                    "event": "created",
                    "detail": f"{kind.value} run {run.id}",
                }
                for outcome_id, site_id in created
            ],
        )
    log.info("run %s (%s) created for %d site(s)", run.id, kind.value, len(rows))
    return run.id


def outcome_counts(session: Session, run_id: int) -> Counter[OutcomeStatus]:
    """How many outcomes of a run are in each state."""
    rows = session.execute(
        select(Outcome.status, func.count(Outcome.id))
        .where(Outcome.run_id == run_id)
        .group_by(Outcome.status)
    ).all()
    return Counter({status: count for status, count in rows})


def rollup_status(counts: Counter[OutcomeStatus]) -> RunStatus:
    """The state a run's outcomes add up to."""
    total = sum(counts.values())
    if total and all(status in FINAL_OUTCOMES for status in counts.elements()):
        if counts[OutcomeStatus.CANCELLED] == total:
            return RunStatus.CANCELLED
        if all(status in _SUCCESS for status in counts.elements()):
            return RunStatus.COMPLETED
        return RunStatus.FAILED
    return RunStatus.RUNNING


def rollup_run(session: Session, run_id: int) -> RunStatus:
    """Settle a run from its outcomes once every one is final; returns its state."""
    # While a result arrives per site, counting a large run's outcomes each time
    # would cost a scan per result; one open outcome is enough to stop here.
    still_open = session.scalar(
        select(Outcome.id)
        .where(Outcome.run_id == run_id, Outcome.status.in_(OPEN_OUTCOMES))
        .limit(1)
    )
    if still_open is not None:
        return RunStatus.RUNNING
    status = rollup_status(outcome_counts(session, run_id))
    if status is not RunStatus.RUNNING:
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.RUNNING)
            .values(status=status, finished_at=utcnow())
        )
    return status


def add_log(
    session: Session,
    *,
    site_id: int,
    outcome_id: int | None,
    event: str,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Write one orchestration-log entry for a site."""
    session.add(
        LogEntry(
            site_id=site_id,
            outcome_id=outcome_id,
            event=event,
            detail=detail,
            at=at or utcnow(),
        )
    )


@dataclass(frozen=True)
class RunSpec:
    """One run for :func:`create_runs`."""

    script_id: int
    kind: RunKind
    site_ids: Sequence[int]
    occurrence_at: datetime
    revision: int
    content_hash: str = ""
    started_by_id: int | None = None
    retry_of_id: int | None = None


def _driver_insert(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """``executemany`` straight through the driver.

    The rows must already hold database values (see :func:`_db_value`); skipping
    SQLAlchemy's per-row processing is what keeps 10,000 rows near the driver's
    own speed.
    """
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    for start in range(0, len(rows), 5_000):
        connection.exec_driver_sql(statement, rows[start : start + 5_000])


def _db_value(session: Session, column: ColumnElement[Any], value: Any) -> Any:
    """``value`` as the driver takes it for ``column``, processed once."""
    dialect = session.connection().dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor else value


def create_runs(
    session: Session, specs: Sequence[RunSpec], *, deadline: timedelta
) -> list[int]:
    """Create many runs, each with one pending outcome per site, in few statements.

    Returns the run ids in the order of ``specs``. Every outcome and every
    "created" log entry of all the runs goes in through one ``executemany`` each,
    so launching a thousand scripts or one script to 10,000 sites costs a handful
    of round trips.
    """
    if not specs:
        return []
    now = utcnow()
    result = session.execute(
        insert(Run).returning(Run.id, sort_by_parameter_order=True),
        [
            {
                "script_id": spec.script_id,
                "kind": spec.kind,
                "status": RunStatus.RUNNING,
                "occurrence_at": spec.occurrence_at,
                "content_hash": spec.content_hash,
                "revision": spec.revision,
                "started_by_id": spec.started_by_id,
                "retry_of_id": spec.retry_of_id,
                "created_at": now,
            }
            for spec in specs
        ],
    )
    run_ids = list(result.scalars())

    outcomes = Outcome.__table__
    stamp = _db_value(session, outcomes.c.updated_at, now)
    due = _db_value(session, outcomes.c.deadline, now + deadline)
    pending = _db_value(session, outcomes.c.status, OutcomeStatus.PENDING)
    _driver_insert(
        session,
        Outcome.__tablename__,
        (
            "run_id",
            "site_id",
            "status",
            "delivery_id",
            "deadline",
            "attempts",
            "output",
            "error",
            "updated_at",
        ),
        [
            (run_id, site_id, pending, new_delivery_id(), due, 0, "", "", stamp)
            for run_id, spec in zip(run_ids, specs, strict=True)
            for site_id in dict.fromkeys(spec.site_ids)
        ],
    )

    details = {
        run_id: f"{spec.kind.value} run {run_id}"
        for run_id, spec in zip(run_ids, specs, strict=True)
    }
    created: list[tuple[int, int, int]] = []
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        created.extend(
            (outcome_id, site_id, run_id)
            for outcome_id, site_id, run_id in session.execute(
                select(Outcome.id, Outcome.site_id, Outcome.run_id).where(
                    Outcome.run_id.in_(chunk)
                )
            )
        )
    _driver_insert(
        session,
        LogEntry.__tablename__,
        ("site_id", "outcome_id", "at", "event", "detail"),
        [
            (site_id, outcome_id, stamp, "created", details[run_id])
            for outcome_id, site_id, run_id in created
        ],
    )
    log.info("%d run(s) created for %d site(s) in all", len(run_ids), len(created))
    return run_ids

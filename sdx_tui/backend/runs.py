"""Runs and their outcomes: creating them in bulk, and rolling them up."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import NotFound
from sdx_tui.backend.lifecycle import FINAL_OUTCOMES
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

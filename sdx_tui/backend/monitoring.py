"""Read models for watching runs: the dashboard, a run's sites, a site's log.

Everything here only reads. The queries are shaped for a screen that refreshes
every second: run counts come from one grouped query, and a run's outcomes are
read once in full and afterwards only where ``Outcome.updated_at`` moved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sdx_tui.backend.db import Database
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
    ScriptStatus,
    Site,
)

log = logging.getLogger(__name__)

_UNSUCCESSFUL = (OutcomeStatus.FAILED, OutcomeStatus.TIMED_OUT, OutcomeStatus.EXPIRED)

ERROR_PREVIEW = 200
"""How many characters of an outcome's error a table row carries."""

DEFAULT_OVERLAP = timedelta(seconds=3)
"""How far back an incremental read looks past the newest change it has seen.

A writer stamps ``updated_at`` before it commits, so a change can become visible
a little after a newer one; re-reading this window catches it. It also covers
clock differences between backends that share a PostgreSQL database.
"""


@dataclass(frozen=True)
class RunSummary:
    """One run as the dashboard lists it, with its outcomes counted by state."""

    run_id: int
    script_id: int
    description: str
    kind: RunKind
    status: RunStatus
    script_status: ScriptStatus
    has_test_site: bool
    created_at: datetime
    counts: Mapping[OutcomeStatus, int] = field(default_factory=dict)

    def count(self, status: OutcomeStatus) -> int:
        """How many outcomes are in ``status``."""
        return self.counts.get(status, 0)

    @property
    def total(self) -> int:
        """How many sites the run has."""
        return sum(self.counts.values())

    @property
    def settled(self) -> int:
        """How many outcomes reached a final state."""
        return sum(n for status, n in self.counts.items() if status in FINAL_OUTCOMES)

    @property
    def unsuccessful(self) -> int:
        """Failed, timed-out and expired outcomes: what a retry dispatches again."""
        return sum(self.count(status) for status in _UNSUCCESSFUL)


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One site's part of a run, as the site table shows it."""

    outcome_id: int
    site_id: int
    site_name: str
    status: OutcomeStatus
    attempts: int
    delivered_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    error: str
    """The start of the error text, at most :data:`ERROR_PREVIEW` characters."""


@dataclass(frozen=True)
class OutcomeDetail:
    """Everything about one site's part of a run, output included."""

    outcome_id: int
    run_id: int
    site_id: int
    site_name: str
    status: OutcomeStatus
    delivery_id: str
    attempts: int
    deadline: datetime
    delivered_at: datetime | None
    finished_at: datetime | None
    backup_ok: bool | None
    output: str
    error: str


@dataclass(frozen=True, slots=True)
class LogRow:
    """One orchestration-log entry of a site."""

    entry_id: int
    at: datetime
    event: str
    detail: str
    run_id: int | None


_SummaryRow = tuple[
    int, int, str, RunKind, RunStatus, ScriptStatus, int | None, datetime
]


def _summary_query() -> Select[*_SummaryRow]:
    return select(
        Run.id,
        Run.script_id,
        Script.description,
        Run.kind,
        Run.status,
        Script.status,
        Script.test_site_id,
        Run.created_at,
    ).join(Script, Script.id == Run.script_id)


def _counts(
    session: Session, run_ids: Sequence[int]
) -> dict[int, dict[OutcomeStatus, int]]:
    counts: dict[int, dict[OutcomeStatus, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return counts
    rows = session.execute(
        select(Outcome.run_id, Outcome.status, func.count(Outcome.id))
        .where(Outcome.run_id.in_(run_ids))
        .group_by(Outcome.run_id, Outcome.status)
    ).all()
    for run_id, status, number in rows:
        counts[run_id][status] = number
    return counts


def runs_overview(
    database: Database,
    *,
    limit: int = 50,
    previous: Mapping[int, RunSummary] | None = None,
) -> list[RunSummary]:
    """The newest ``limit`` runs, newest first, with their outcome counts.

    ``previous`` is what the caller read last time: a run that had already
    settled then keeps its counts, since final outcomes never change again, so
    only running runs are counted afresh.
    """
    previous = previous or {}
    with database.reading() as session:
        runs = session.execute(
            _summary_query().order_by(Run.id.desc()).limit(max(limit, 0))
        ).all()
        stale = [
            row[0]
            for row in runs
            if row[0] not in previous or previous[row[0]].status is RunStatus.RUNNING
        ]
        counts = _counts(session, stale)

    summaries = []
    for run_id, script_id, description, kind, status, script_status, test, at in runs:
        summaries.append(
            RunSummary(
                run_id=run_id,
                script_id=script_id,
                description=description,
                kind=kind,
                status=status,
                script_status=script_status,
                has_test_site=test is not None,
                created_at=at,
                counts=counts[run_id] if run_id in counts else previous[run_id].counts,
            )
        )
    return summaries


def run_summary(database: Database, run_id: int) -> RunSummary:
    """One run with its outcome counts; :class:`NotFound` if there is none."""
    with database.reading() as session:
        row = session.execute(_summary_query().where(Run.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id} does not exist")
        counts = _counts(session, [run_id])[run_id]
    run_id, script_id, description, kind, status, script_status, test, at = row
    return RunSummary(
        run_id=run_id,
        script_id=script_id,
        description=description,
        kind=kind,
        status=status,
        script_status=script_status,
        has_test_site=test is not None,
        created_at=at,
        counts=counts,
    )


def run_outcomes(
    database: Database, run_id: int, *, since: datetime | None = None
) -> list[OutcomeRow]:
    """A run's outcomes, or only those changed at or after ``since``.

    Rows come ordered by ``updated_at``, so the last one carries the newest
    change the caller has now seen.
    """
    query = (
        select(
            Outcome.id,
            Outcome.site_id,
            Site.name,
            Outcome.status,
            Outcome.attempts,
            Outcome.delivered_at,
            Outcome.finished_at,
            Outcome.updated_at,
            func.substr(Outcome.error, 1, ERROR_PREVIEW),
        )
        .join(Site, Site.id == Outcome.site_id)
        .where(Outcome.run_id == run_id)
        .order_by(Outcome.updated_at, Outcome.id)
    )
    if since is not None:
        query = query.where(Outcome.updated_at >= since)
    with database.reading() as session:
        rows = session.execute(query).all()
    return [
        OutcomeRow(
            outcome_id=outcome_id,
            site_id=site_id,
            site_name=name,
            status=status,
            attempts=attempts,
            delivered_at=delivered_at,
            finished_at=finished_at,
            updated_at=updated_at,
            error=error or "",
        )
        for (
            outcome_id,
            site_id,
            name,
            status,
            attempts,
            delivered_at,
            finished_at,
            updated_at,
            error,
        ) in rows
    ]


class OutcomeFeed:
    """A run's outcomes as a stream of changes, for a table that polls.

    The first :meth:`poll` returns every outcome; each later one returns only
    the rows that differ from what it returned before. Not thread safe: poll
    from one worker at a time.
    """

    def __init__(
        self, database: Database, run_id: int, *, overlap: timedelta = DEFAULT_OVERLAP
    ) -> None:
        self.database = database
        self.run_id = run_id
        self.overlap = overlap
        self._seen: dict[int, OutcomeRow] = {}
        self._newest: datetime | None = None

    def poll(self) -> list[OutcomeRow]:
        """The outcomes that changed since the last poll (all of them at first)."""
        since = None if self._newest is None else self._newest - self.overlap
        rows = run_outcomes(self.database, self.run_id, since=since)
        changed = [row for row in rows if self._seen.get(row.outcome_id) != row]
        for row in changed:
            self._seen[row.outcome_id] = row
        if rows and (self._newest is None or rows[-1].updated_at > self._newest):
            self._newest = rows[-1].updated_at
        return changed

    def forget(self) -> None:
        """Start again: the next poll returns every outcome."""
        self._seen.clear()
        self._newest = None


def outcome_detail(
    database: Database, run_id: int, site_id: int
) -> OutcomeDetail | None:
    """One site's outcome in a run, with its output, or ``None``."""
    with database.reading() as session:
        row = session.execute(
            select(Outcome, Site.name)
            .join(Site, Site.id == Outcome.site_id)
            .where(Outcome.run_id == run_id, Outcome.site_id == site_id)
        ).first()
    if row is None:
        return None
    outcome, site_name = row
    return OutcomeDetail(
        outcome_id=outcome.id,
        run_id=outcome.run_id,
        site_id=outcome.site_id,
        site_name=site_name,
        status=outcome.status,
        delivery_id=outcome.delivery_id,
        attempts=outcome.attempts,
        deadline=outcome.deadline,
        delivered_at=outcome.delivered_at,
        finished_at=outcome.finished_at,
        backup_ok=outcome.backup_ok,
        output=outcome.output,
        error=outcome.error,
    )


def site_log(
    database: Database,
    site_id: int,
    *,
    run_id: int | None = None,
    since: datetime | None = None,
) -> list[LogRow]:
    """A site's orchestration log, oldest first.

    ``run_id`` keeps the entries of that run's outcome only; ``since`` keeps
    the entries stamped at or after it, for a view that appends (it should look
    back by :data:`DEFAULT_OVERLAP` and skip the entries it already shows).
    """
    query = (
        select(
            LogEntry.id, LogEntry.at, LogEntry.event, LogEntry.detail, Outcome.run_id
        )
        .outerjoin(Outcome, Outcome.id == LogEntry.outcome_id)
        .where(LogEntry.site_id == site_id)
        .order_by(LogEntry.at, LogEntry.id)
    )
    if run_id is not None:
        query = query.where(Outcome.run_id == run_id)
    if since is not None:
        query = query.where(LogEntry.at >= since)
    with database.reading() as session:
        rows = session.execute(query).all()
    return [
        LogRow(entry_id=entry_id, at=at, event=event, detail=detail, run_id=run)
        for entry_id, at, event, detail, run in rows
    ]


def site_name(database: Database, site_id: int) -> str:
    """The name of a site; :class:`NotFound` if there is none."""
    with database.reading() as session:
        name = session.scalar(select(Site.name).where(Site.id == site_id))
    if name is None:
        raise NotFound(f"site {site_id} does not exist")
    return name


class SiteLogFeed:
    """A site's log as a stream of new entries, for a view that appends.

    The first :meth:`poll` returns the whole log (of one run, if given); later
    ones return only entries not returned before. Not thread safe.
    """

    def __init__(
        self,
        database: Database,
        site_id: int,
        *,
        run_id: int | None = None,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        self.database = database
        self.site_id = site_id
        self.run_id = run_id
        self.overlap = overlap
        self._seen: set[int] = set()
        self._newest: datetime | None = None

    def poll(self) -> list[LogRow]:
        """The entries written since the last poll (all of them at first)."""
        since = None if self._newest is None else self._newest - self.overlap
        rows = site_log(self.database, self.site_id, run_id=self.run_id, since=since)
        fresh = [row for row in rows if row.entry_id not in self._seen]
        self._seen.update(row.entry_id for row in fresh)
        if rows and (self._newest is None or rows[-1].at > self._newest):
            self._newest = rows[-1].at
        return fresh

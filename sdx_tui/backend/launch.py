"""Launching scripts: on schedule, by hand, as a test, as a retry; and cancelling.

A launch is one transaction: the script moves ``scheduled -> launched`` through a
compare-and-set and its run and outcomes are created beside it. Two guards keep
a launch to exactly once, whatever number of backends race: the status
compare-and-set, and the unique ``(script_id, kind, occurrence_at)`` of runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sdx_tui.backend import audit, lifecycle
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import DeskError, IllegalTransition, InvalidInput, NotFound
from sdx_tui.backend.identity import Actor, require_role
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Role,
    Run,
    RunKind,
    RunStatus,
    Script,
    ScriptStatus,
    ScriptTarget,
    User,
)
from sdx_tui.backend.notify import outbox
from sdx_tui.backend.runs import RunSpec, create_run, create_runs, rollup_run
from sdx_tui.backend.timezones import check_time_zone
from sdx_tui.config import EndpointSettings, SchedulerSettings, Settings

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(seconds=SchedulerSettings().grace_seconds)
DEFAULT_DEADLINE = timedelta(minutes=EndpointSettings().delivery_deadline_minutes)
RETRYABLE = frozenset(
    {OutcomeStatus.FAILED, OutcomeStatus.TIMED_OUT, OutcomeStatus.EXPIRED}
)
"""Outcome states whose sites a retry dispatches to again."""

# Wider than any daylight-saving fold in use, so that scanning this far back and
# ahead of a wall-clock time finds every instant that a repeated hour produces.
_TRANSITION_SPAN = timedelta(hours=3)
_MAX_CANDIDATES = 100_000
# One launch transaction holds at most this many scripts and outcomes, so that
# a thousand scripts due at once cost a few commits, not a thousand, while no
# transaction grows without bound.
_BATCH_SCRIPTS = 250
_BATCH_OUTCOMES = 50_000


def _due() -> ColumnElement[datetime]:
    """When a scheduled script is due.

    A one-off script: its next launch time, else its launch time. A recurring
    one: its next occurrence only, since its launch time is long past after the
    first launch and an expression with no occurrence left must not fall back
    to it.
    """
    return case(
        (Script.recurrence != "", Script.next_launch_at),
        else_=func.coalesce(Script.next_launch_at, Script.launch_at),
    )


# Recurrence ------------------------------------------------------------------


def _hour_field_is_wildcard(recurrence: str) -> bool:
    return recurrence.split()[1].startswith("*")


def _instants(local: datetime, zone: ZoneInfo, every_hour: bool) -> list[datetime]:
    """The UTC instants a naive wall-clock time stands for in ``zone``.

    A time skipped by a spring-forward gap runs as late as the gap is long (02:30
    becomes 03:30), which is what ``fold=0`` gives. A time repeated by an autumn
    fold runs once, at its first instant, unless the job runs every hour: then
    each real hour counts.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    exists = first.astimezone(zone).replace(tzinfo=None) == local
    if exists and second != first and every_hour:
        return [first, second]
    return [first]


def next_occurrences(
    recurrence: str, time_zone: str, after: datetime, count: int
) -> list[datetime]:
    """The next ``count`` launch instants (UTC) of a cron expression, after ``after``.

    The expression is read in ``time_zone``'s wall clock, so "0 2 * * *" in
    Europe/Berlin stays at 02:00 local across daylight-saving changes. An
    expression that never matches again yields fewer (or no) instants.
    """
    if after.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; give a time zone")
    if count <= 0 or not recurrence.strip():
        return []
    zone = check_time_zone(time_zone)
    every_hour = _hour_field_is_wildcard(recurrence)

    # Start early enough that no wall-clock time whose instant lies after `after`
    # is skipped, then keep only the instants that do.
    start = after.astimezone(zone).replace(tzinfo=None) - _TRANSITION_SPAN
    candidates = croniter(recurrence, start)
    found: set[datetime] = set()
    for _ in range(_MAX_CANDIDATES):
        try:
            local = candidates.get_next(datetime)
        except CroniterBadDateError:
            break
        found.update(t for t in _instants(local, zone, every_hour) if t > after)
        if len(found) >= count:
            horizon = sorted(found)[count - 1] + _TRANSITION_SPAN
            if local.replace(tzinfo=zone).astimezone(UTC) > horizon:
                break
    return sorted(found)[:count]


def next_occurrence(
    recurrence: str, time_zone: str, after: datetime
) -> datetime | None:
    """The first launch instant of a cron expression after ``after``, if any."""
    occurrences = next_occurrences(recurrence, time_zone, after, 1)
    return occurrences[0] if occurrences else None


def first_launch(
    launch_at: datetime | None, recurrence: str, time_zone: str, *, now: datetime
) -> datetime | None:
    """When a script just scheduled should launch first.

    ``launch_at`` when given; a recurring script whose ``launch_at`` is over
    starts at its next occurrence instead, so that approving it late does not
    count as a missed launch.
    """
    if not recurrence:
        return launch_at
    if launch_at is not None and launch_at > now:
        return launch_at
    return next_occurrence(recurrence, time_zone, now)


# Launching -------------------------------------------------------------------


def _deadline(settings: Settings | None) -> timedelta:
    if settings is None:
        return DEFAULT_DEADLINE
    return timedelta(minutes=settings.endpoint.delivery_deadline_minutes)


@dataclass(frozen=True)
class _ScriptFacts:
    """The columns of a script that launching reads."""

    id: int
    status: ScriptStatus
    description: str
    author_id: int
    recurrence: str
    time_zone: str
    revision: int
    approved_hash: str
    approved_revision: int | None
    test_site_id: int | None
    due: datetime | None


_FACTS = select(
    Script.id,
    Script.status,
    Script.description,
    Script.author_id,
    Script.recurrence,
    Script.time_zone,
    Script.revision,
    Script.approved_hash,
    Script.approved_revision,
    Script.test_site_id,
    _due().label("due"),
)


def _script_row(session: Session, script_id: int) -> _ScriptFacts:
    row = session.execute(_FACTS.where(Script.id == script_id)).one_or_none()
    if row is None:
        raise NotFound(f"script {script_id} does not exist")
    return _ScriptFacts(**row._mapping)


def _targets(session: Session, script_ids: Sequence[int]) -> dict[int, list[int]]:
    targets: dict[int, list[int]] = {script_id: [] for script_id in script_ids}
    for start in range(0, len(script_ids), 500):
        chunk = script_ids[start : start + 500]
        for script_id, site_id in session.execute(
            select(ScriptTarget.script_id, ScriptTarget.site_id)
            .where(ScriptTarget.script_id.in_(chunk))
            .order_by(ScriptTarget.script_id, ScriptTarget.site_id)
        ):
            targets[script_id].append(site_id)
    return targets


class _NextOccurrences:
    """Next occurrences, computed once per expression, zone and time."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._known: dict[tuple[str, str, datetime], datetime | None] = {}

    def after_launch(
        self, script: _ScriptFacts, occurrence_at: datetime
    ) -> datetime | None:
        """The next launch of a script launched for ``occurrence_at``; late
        launches skip the occurrences they overran."""
        if not script.recurrence:
            return None
        key = (script.recurrence, script.time_zone, max(occurrence_at, self.now))
        if key not in self._known:
            self._known[key] = next_occurrence(*key)
        return self._known[key]


def settle_script(session: Session, script_id: int, run_status: RunStatus) -> None:
    """Move a launched script on once its launch run is final.

    A recurring script goes back to ``scheduled`` for its next occurrence; any
    other (or a recurring one with no occurrence left) takes the run's end
    state. Losing the race to another settler is fine.
    """
    recurrence, next_at = session.execute(
        select(Script.recurrence, Script.next_launch_at).where(Script.id == script_id)
    ).one()
    if recurrence and next_at is not None:
        wanted = ScriptStatus.SCHEDULED
    else:
        wanted = {
            RunStatus.COMPLETED: ScriptStatus.COMPLETED,
            RunStatus.CANCELLED: ScriptStatus.CANCELLED,
        }.get(run_status, ScriptStatus.FAILED)
    try:
        lifecycle.transition_script(
            session, script_id, wanted, expected=ScriptStatus.LAUNCHED
        )
    except IllegalTransition:
        log.debug("script %s was settled by someone else", script_id)


def _create_launch_runs(
    session: Session,
    launches: Sequence[tuple[_ScriptFacts, datetime]],
    *,
    deadline: timedelta,
    actor: Actor | None,
    now: datetime,
) -> list[int]:
    """The runs of scripts this transaction has just moved to ``launched``."""
    targets = _targets(session, [script.id for script, _ in launches])
    specs = [
        RunSpec(
            script_id=script.id,
            kind=RunKind.LAUNCH,
            site_ids=targets[script.id],
            occurrence_at=occurrence_at,
            revision=script.approved_revision or script.revision,
            content_hash=script.approved_hash,
            started_by_id=actor.user_id if actor else None,
        )
        for script, occurrence_at in launches
    ]
    run_ids = create_runs(session, specs, deadline=deadline)

    for run_id, spec in zip(run_ids, specs, strict=True):
        sites = len(spec.site_ids)
        if not sites:
            # A run without outcomes would never roll up; it fails at once.
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(status=RunStatus.FAILED, finished_at=now)
            )
            settle_script(session, spec.script_id, RunStatus.FAILED)
        audit.record(
            session,
            actor,
            "script.launched",
            subject_type="script",
            subject_id=spec.script_id,
            detail=f"run {run_id} to {sites} site(s), due "
            f"{spec.occurrence_at:%Y-%m-%d %H:%M:%S} UTC",
            origin=None if actor else "scheduler",
        )
        log.info(
            "script %s launched as run %s to %d site(s)", spec.script_id, run_id, sites
        )
    return run_ids


def launch_script(
    session: Session,
    script_id: int,
    occurrence_at: datetime,
    *,
    deadline: timedelta = DEFAULT_DEADLINE,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> int:
    """Launch one scheduled script in the session's transaction; returns the run id.

    Raises :class:`IllegalTransition` when the script is not ``scheduled`` (for
    instance because another backend launched it first); a second launch of the
    same occurrence fails on the runs' unique constraint. A recurring script's
    ``next_launch_at`` moves to its next occurrence.
    """
    now = now or utcnow()
    script = _script_row(session, script_id)
    lifecycle.transition_script(
        session,
        script_id,
        ScriptStatus.LAUNCHED,
        expected=ScriptStatus.SCHEDULED,
        values={
            "next_launch_at": _NextOccurrences(now).after_launch(script, occurrence_at)
        },
    )
    (run_id,) = _create_launch_runs(
        session, [(script, occurrence_at)], deadline=deadline, actor=actor, now=now
    )
    return run_id


def _launch_batch(
    session: Session,
    batch: Sequence[tuple[int, datetime]],
    *,
    now: datetime,
    deadline: timedelta,
) -> list[int]:
    """Launch due scripts together in the session's transaction.

    Rows another backend is launching right now are skipped, not waited for
    (``SKIP LOCKED``; SQLite's write lock serialises backends instead), and each
    script still moves through a compare-and-set, so each launches once.
    """
    wanted = dict(batch)
    rows = session.execute(
        _FACTS.where(
            Script.id.in_(list(wanted)), Script.status == ScriptStatus.SCHEDULED
        )
        .order_by(Script.id)
        .with_for_update(skip_locked=True)
    ).all()
    order = {script_id: n for n, script_id in enumerate(wanted)}
    claimed = sorted(
        (
            script
            for script in (_ScriptFacts(**row._mapping) for row in rows)
            if script.due == wanted[script.id]
        ),
        key=lambda script: order[script.id],
    )

    occurrences = _NextOccurrences(now)
    by_next: dict[datetime | None, list[int]] = {}
    for script in claimed:
        after = occurrences.after_launch(script, wanted[script.id])
        by_next.setdefault(after, []).append(script.id)
    moved: set[int] = set()
    for next_at, ids in by_next.items():
        moved.update(
            lifecycle.transition_scripts(
                session,
                ids,
                ScriptStatus.LAUNCHED,
                expected=[ScriptStatus.SCHEDULED],
                values={"next_launch_at": next_at},
            )
        )
    launches = [(s, wanted[s.id]) for s in claimed if s.id in moved]
    return _create_launch_runs(
        session, launches, deadline=deadline, actor=None, now=now
    )


def _record_missed(
    session: Session,
    script_id: int,
    occurrence_at: datetime,
    *,
    now: datetime,
    grace: timedelta,
) -> int:
    """Record an occurrence missed past the grace window and tell the author."""
    script = _script_row(session, script_id)
    next_at = None
    if script.recurrence:
        after = max(occurrence_at, now - grace)
        next_at = next_occurrence(script.recurrence, script.time_zone, after)
    # Through launched, so the same compare-and-set that guards a launch guards
    # this record too; a one-off script that missed its only launch has failed.
    lifecycle.transition_script(
        session,
        script_id,
        ScriptStatus.LAUNCHED,
        expected=ScriptStatus.SCHEDULED,
        values={"next_launch_at": next_at},
    )
    run = Run(
        script_id=script_id,
        kind=RunKind.LAUNCH,
        status=RunStatus.MISSED,
        occurrence_at=occurrence_at,
        content_hash=script.approved_hash,
        revision=script.approved_revision or script.revision,
        created_at=now,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    settle_script(session, script_id, RunStatus.FAILED)

    late = now - occurrence_at
    detail = (
        f"run {run.id}: due {occurrence_at:%Y-%m-%d %H:%M} UTC, "
        f"{int(late.total_seconds())} s late, over the {int(grace.total_seconds())} s "
        "grace window"
    )
    audit.record(
        session,
        None,
        "script.missed",
        subject_type="script",
        subject_id=script_id,
        detail=detail,
        origin="scheduler",
    )
    email = session.scalar(select(User.email).where(User.id == script.author_id))
    if email:
        outbox.enqueue(
            session,
            channel="email",
            recipient=email,
            subject=f"Missed launch: {script.description}",
            body=(
                f"Script {script_id} ({script.description}) was not launched: "
                f"{detail}.\n"
                + (
                    f"Its next launch is {next_at:%Y-%m-%d %H:%M} UTC.\n"
                    if next_at
                    else "It will not launch; schedule it again if it must run.\n"
                )
            ),
        )
    log.warning("script %s missed its launch (%s)", script_id, detail)
    return run.id


def _prime_recurring(database: Database, now: datetime) -> None:
    """Give recurring scripts scheduled without a next occurrence their first one."""
    unprimed = (
        Script.status == ScriptStatus.SCHEDULED,
        Script.recurrence != "",
        Script.next_launch_at.is_(None),
    )
    with database.reading() as session:
        rows = session.execute(
            select(
                Script.id, Script.launch_at, Script.recurrence, Script.time_zone
            ).where(*unprimed)
        ).all()
    firsts = {
        script_id: first_launch(launch_at, recurrence, time_zone, now=now)
        for script_id, launch_at, recurrence, time_zone in rows
    }
    firsts = {script_id: at for script_id, at in firsts.items() if at is not None}
    if not firsts:
        return
    with database.session() as session:
        for script_id, first in firsts.items():
            session.execute(
                update(Script)
                .where(Script.id == script_id, *unprimed)
                .values(next_launch_at=first)
                .execution_options(synchronize_session=False)
            )


def upcoming_launches(database: Database, *, now: datetime) -> dict[int, datetime]:
    """When each scheduled script launches next (past times are due now)."""
    _prime_recurring(database, now)
    with database.reading() as session:
        rows = session.execute(
            select(Script.id, _due()).where(
                Script.status == ScriptStatus.SCHEDULED, _due().is_not(None)
            )
        ).all()
    return {script_id: due for script_id, due in rows}


def _batches(
    due: Sequence[tuple[int, datetime]], sizes: dict[int, int]
) -> Iterator[list[tuple[int, datetime]]]:
    batch: list[tuple[int, datetime]] = []
    outcomes = 0
    for script_id, occurrence_at in due:
        if batch and (
            len(batch) >= _BATCH_SCRIPTS
            or outcomes + sizes.get(script_id, 0) > _BATCH_OUTCOMES
        ):
            yield batch
            batch, outcomes = [], 0
        batch.append((script_id, occurrence_at))
        outcomes += sizes.get(script_id, 0)
    if batch:
        yield batch


def _launch_each(
    database: Database,
    batch: Sequence[tuple[int, datetime]],
    *,
    now: datetime,
    grace: timedelta,
    deadline: timedelta,
) -> list[int]:
    """Launch (or record as missed) one script per transaction."""
    created: list[int] = []
    for script_id, occurrence_at in batch:
        try:
            with database.session() as session:
                # Re-read inside the transaction: another backend may have moved
                # the script, or its due time, since it was found due.
                current = _script_row(session, script_id)
                if (
                    current.status is not ScriptStatus.SCHEDULED
                    or current.due != occurrence_at
                ):
                    continue
                if now - occurrence_at > grace:
                    run_id = _record_missed(
                        session, script_id, occurrence_at, now=now, grace=grace
                    )
                else:
                    run_id = launch_script(
                        session, script_id, occurrence_at, deadline=deadline, now=now
                    )
        except (DeskError, IntegrityError) as error:
            log.debug("script %s not launched here: %s", script_id, error)
            continue
        created.append(run_id)
    return created


def launch_due(
    database: Database,
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    deadline: timedelta = DEFAULT_DEADLINE,
) -> list[int]:
    """Launch every scheduled script that is due at ``now``; returns the new runs.

    An occurrence due for longer than ``grace`` is recorded as a ``missed`` run
    instead, and its author notified. Scripts due together launch in batches of
    one transaction each; a script another backend launched first is skipped.
    """
    _prime_recurring(database, now)
    with database.reading() as session:
        due = [
            (script_id, occurrence_at)
            for script_id, occurrence_at in session.execute(
                select(Script.id, _due())
                .where(Script.status == ScriptStatus.SCHEDULED, _due() <= now)
                .order_by(_due(), Script.id)
            )
        ]
        sizes = _target_counts(session, [script_id for script_id, _ in due])

    missed = [(i, at) for i, at in due if now - at > grace]
    on_time = [(i, at) for i, at in due if now - at <= grace]
    created = _launch_each(database, missed, now=now, grace=grace, deadline=deadline)
    for batch in _batches(on_time, sizes):
        try:
            with database.session() as session:
                created.extend(
                    _launch_batch(session, batch, now=now, deadline=deadline)
                )
        except IntegrityError:
            # One of the occurrences has a run already (a launch by hand in the
            # same instant, say); launch the others one by one.
            created.extend(
                _launch_each(database, batch, now=now, grace=grace, deadline=deadline)
            )
    return created


def _target_counts(session: Session, script_ids: Sequence[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for start in range(0, len(script_ids), 500):
        chunk = script_ids[start : start + 500]
        sizes.update(
            (script_id, count)
            for script_id, count in session.execute(
                select(ScriptTarget.script_id, func.count())
                .where(ScriptTarget.script_id.in_(chunk))
                .group_by(ScriptTarget.script_id)
            )
        )
    return sizes


def launch_now(
    database: Database,
    actor: Actor,
    script_id: int,
    *,
    settings: Settings | None = None,
) -> int:
    """Launch a scheduled (approved) script at once, by hand; returns the run id."""
    require_role(actor, Role.OPERATOR)
    with database.session() as session:
        status = _script_row(session, script_id).status
        if status is not ScriptStatus.SCHEDULED:
            raise InvalidInput(
                f"script {script_id} is {status}; only a scheduled (approved) "
                "script can be launched"
            )
        now = utcnow()
        return launch_script(
            session,
            script_id,
            now,
            deadline=_deadline(settings),
            actor=actor,
            now=now,
        )


def run_test(
    database: Database,
    actor: Actor,
    script_id: int,
    *,
    settings: Settings | None = None,
) -> int:
    """Dispatch a script at once to its test site alone; returns the run id.

    Allowed in any state before launch and without approval: a test is how the
    author and the approver see the script work on one device.
    """
    require_role(actor, Role.OPERATOR)
    with database.session() as session:
        script = _script_row(session, script_id)
        if script.status not in lifecycle.EDITABLE_SCRIPTS:
            raise InvalidInput(
                f"script {script_id} is {script.status}; Run Test is for scripts "
                "not launched yet"
            )
        if script.test_site_id is None:
            raise InvalidInput(
                f"script {script_id} has no test site; choose one before a test"
            )
        approved = script.approved_revision == script.revision
        run_id = create_run(
            session,
            script_id=script_id,
            kind=RunKind.TEST,
            site_ids=[script.test_site_id],
            occurrence_at=utcnow(),
            deadline=_deadline(settings),
            content_hash=script.approved_hash if approved else "",
            revision=script.revision,
            started_by_id=actor.user_id,
        )
        audit.record(
            session,
            actor,
            "script.tested",
            subject_type="script",
            subject_id=script_id,
            detail=f"test run {run_id} on site {script.test_site_id}",
        )
    log.info("script %s test run %s started by %s", script_id, run_id, actor.name)
    return run_id


def _run_row(session: Session, run_id: int, *, lock: bool = False) -> Run:
    # The lock orders a cancel after (or before) delivery settling the same run.
    run = session.get(Run, run_id, with_for_update=lock)
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


def retry_failed(
    database: Database,
    actor: Actor,
    run_id: int,
    *,
    settings: Settings | None = None,
) -> int:
    """Dispatch a finished run again to its failed, timed-out and expired sites.

    The new run (kind ``retry``) carries the same approved content (hash and
    revision) and points back at the run it retries; returns its id.
    """
    require_role(actor, Role.OPERATOR)
    with database.session() as session:
        run = _run_row(session, run_id)
        if run.kind is RunKind.TEST:
            raise InvalidInput(
                f"run {run_id} is a test of unapproved content; run the test again"
            )
        if run.status is RunStatus.RUNNING:
            raise InvalidInput(f"run {run_id} is still running; retry it once done")
        status = session.scalar(select(Script.status).where(Script.id == run.script_id))
        if status is ScriptStatus.CANCELLED:
            raise InvalidInput(f"script {run.script_id} is cancelled")
        site_ids = list(
            session.scalars(
                select(Outcome.site_id)
                .where(Outcome.run_id == run_id, Outcome.status.in_(RETRYABLE))
                .order_by(Outcome.site_id)
            )
        )
        if not site_ids:
            raise InvalidInput(f"run {run_id} has no failed sites to retry")
        retry_id = create_run(
            session,
            script_id=run.script_id,
            kind=RunKind.RETRY,
            site_ids=site_ids,
            occurrence_at=utcnow(),
            deadline=_deadline(settings),
            content_hash=run.content_hash,
            revision=run.revision,
            started_by_id=actor.user_id,
            retry_of_id=run_id,
        )
        audit.record(
            session,
            actor,
            "run.retried",
            subject_type="run",
            subject_id=run_id,
            detail=f"retry run {retry_id} to {len(site_ids)} site(s)",
        )
    log.info("run %s retried as run %s by %s", run_id, retry_id, actor.name)
    return retry_id


def cancel_run(database: Database, actor: Actor, run_id: int) -> int:
    """Cancel a run's undelivered outcomes; returns how many were cancelled.

    Outcomes already handed to a device keep going: a RouterOS script cannot be
    recalled once fetched. A launch run that ends this way settles its script.
    """
    require_role(actor, Role.OPERATOR)
    now = utcnow()
    with database.session() as session:
        run = _run_row(session, run_id, lock=True)
        if run.status is not RunStatus.RUNNING:
            raise InvalidInput(f"run {run_id} is {run.status}; nothing to cancel")
        pending = dict(
            session.execute(
                select(Outcome.id, Outcome.site_id).where(
                    Outcome.run_id == run_id,
                    Outcome.status == OutcomeStatus.PENDING,
                )
            ).all()
        )
        moved = lifecycle.transition_outcomes(
            session,
            pending,
            OutcomeStatus.CANCELLED,
            expected=[OutcomeStatus.PENDING],
            values={"finished_at": now},
            now=now,
        )
        if moved:
            session.execute(
                insert(LogEntry),
                [
                    {
                        "site_id": pending[outcome_id],
                        "outcome_id": outcome_id,
                        "at": now,
                        "event": "cancelled",
                        "detail": f"cancelled by {actor.name}",
                    }
                    for outcome_id in moved
                ],
            )
        final = rollup_run(session, run_id)
        if run.kind is RunKind.LAUNCH and final is not RunStatus.RUNNING:
            settle_script(session, run.script_id, final)
        audit.record(
            session,
            actor,
            "run.cancelled",
            subject_type="run",
            subject_id=run_id,
            detail=f"{len(moved)} undelivered outcome(s) cancelled",
        )
    log.info("run %s cancelled by %s (%d outcomes)", run_id, actor.name, len(moved))
    return len(moved)


# Reading ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """A run as the CLI and lists show it, with its outcome counts."""

    id: int
    script_id: int
    description: str
    kind: RunKind
    status: RunStatus
    occurrence_at: datetime
    created_at: datetime
    finished_at: datetime | None
    retry_of_id: int | None
    started_by: str
    content_hash: str
    revision: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many sites the run went to."""
        return sum(self.counts.values())


def _run_infos(session: Session, runs: Sequence[Any]) -> list[RunInfo]:
    counts: dict[int, dict[str, int]] = {row.id: {} for row in runs}
    ids = list(counts)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for run_id, status, count in session.execute(
            select(Outcome.run_id, Outcome.status, func.count(Outcome.id))
            .where(Outcome.run_id.in_(chunk))
            .group_by(Outcome.run_id, Outcome.status)
        ):
            counts[run_id][OutcomeStatus(status).value] = count
    return [
        RunInfo(
            id=row.id,
            script_id=row.script_id,
            description=row.description,
            kind=row.kind,
            status=row.status,
            occurrence_at=row.occurrence_at,
            created_at=row.created_at,
            finished_at=row.finished_at,
            retry_of_id=row.retry_of_id,
            started_by=row.started_by or "scheduler",
            content_hash=row.content_hash,
            revision=row.revision,
            counts=counts[row.id],
        )
        for row in runs
    ]


_RUN_COLUMNS = (
    select(
        Run.id,
        Run.script_id,
        Script.description,
        Run.kind,
        Run.status,
        Run.occurrence_at,
        Run.created_at,
        Run.finished_at,
        Run.retry_of_id,
        User.os_user.label("started_by"),
        Run.content_hash,
        Run.revision,
    )
    .join(Script, Script.id == Run.script_id)
    .outerjoin(User, User.id == Run.started_by_id)
)


def list_runs(
    database: Database, *, script_id: int | None = None, limit: int = 100
) -> list[RunInfo]:
    """Runs, newest first, optionally of one script, with their outcome counts."""
    query = _RUN_COLUMNS.order_by(Run.id.desc()).limit(limit)
    if script_id is not None:
        query = query.where(Run.script_id == script_id)
    with database.reading() as session:
        return _run_infos(session, session.execute(query).all())


def get_run(database: Database, run_id: int) -> RunInfo:
    """One run with its outcome counts."""
    with database.reading() as session:
        rows = session.execute(_RUN_COLUMNS.where(Run.id == run_id)).all()
        if not rows:
            raise NotFound(f"run {run_id} does not exist")
        return _run_infos(session, rows)[0]

"""Poll delivery: handing outcomes to devices, recording results, sweeping deadlines.

DESIGN.md section 4. A device polls with its site's bearer token; when the site has
an open outcome the poll hands it out (``pending -> delivered``), and keeps handing
out the same delivery id until a result arrives or the deadline passes. Results
are idempotent by delivery id. Every function here works inside the caller's
session so the endpoint decides where a unit of work begins and ends; every state
change goes through :mod:`sdx_tui.backend.lifecycle`.

Locks (PostgreSQL): a hand-out locks the site's row, so one device's polls are
served one at a time by any number of backends; a result locks its outcome, then
its run; the deadline sweep claims outcomes with ``SKIP LOCKED`` and locks runs
in id order. Every lock is ``FOR NO KEY UPDATE``: the foreign-key checks of other
writers (``FOR KEY SHARE``, taken for log entries and for a row updated twice in
one transaction) pass it, so they cannot close a cycle. SQLite ignores these
clauses and serialises writers with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from sdx_tui.backend import lifecycle
from sdx_tui.backend.errors import DeskError, IllegalTransition, InvalidInput, NotFound
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    Script,
    ScriptStatus,
    ScriptVersion,
    Site,
)
from sdx_tui.backend.routeros.render import parse_result_body
from sdx_tui.backend.routeros.versions import RouterOSVersion, parse_version
from sdx_tui.backend.runs import add_log, rollup_run

log = logging.getLogger(__name__)

OUTPUT_LIMIT_BYTES = 65_536
"""Largest output stored for one outcome; more is cut with a visible marker."""

ERROR_LIMIT_BYTES = 4_096
"""Largest error text stored for one outcome."""

HANDED_OUT = (OutcomeStatus.PENDING, OutcomeStatus.DELIVERED)
"""Outcome states a poll can hand out: new work, and work not answered yet."""

_ONERROR_SINCE = RouterOSVersion(7, 13)
_OpenRow = Row[int, int, OutcomeStatus, str, int, int]
"""id, site_id, status, delivery_id, attempts, run_id of an open outcome."""
_ResultRow = Row[int, OutcomeStatus, int, int, str]
"""id, status, run_id, site_id, delivery_id of an answered outcome."""
_RESULT_STATES = {
    "completed": OutcomeStatus.COMPLETED,
    "failed": OutcomeStatus.FAILED,
}


class TokenRejected(DeskError):
    """The token no longer belongs to the site (rotated, or the site is gone)."""


@dataclass(frozen=True)
class Delivery:
    """One job handed to a device: what a poll answers with."""

    outcome_id: int
    delivery_id: str
    run_id: int
    script_id: int
    site_id: int
    site_name: str
    routeros_version: str
    body: str
    make_backup: bool
    attempt: int

    @property
    def wrapper_major(self) -> int:
        """The job wrapper the site can run: 7 from RouterOS 7.13 (``:onerror``),
        6 before it."""
        try:
            version = parse_version(self.routeros_version)
        except ValueError:
            return 7
        return 7 if version >= _ONERROR_SINCE else 6


@dataclass(frozen=True)
class DeviceResult:
    """What a device reported for one delivery."""

    status: OutcomeStatus
    output: str = ""
    error: str = ""
    backup_ok: bool | None = None


@dataclass(frozen=True)
class ResultReceipt:
    """How a result was taken: applied, a repeat of one already recorded, or late."""

    outcome_id: int
    status: OutcomeStatus
    applied: bool
    duplicate: bool = False
    truncated: bool = False


@dataclass
class SweepReport:
    """What one deadline sweep changed."""

    timed_out: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    settled_runs: dict[int, RunStatus] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        """How many outcomes the sweep made final."""
        return len(self.timed_out) + len(self.expired)


def truncate_text(text: str, limit_bytes: int) -> tuple[str, bool]:
    """``text`` cut to ``limit_bytes`` of UTF-8 with a marker saying how much went.

    The marker is part of the limit, so the stored text never exceeds it.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit_bytes:
        return text, False
    marker = (
        f"\n[truncated by the desk: {len(encoded):,} bytes received, "
        f"the first {{kept:,}} kept]"
    )
    keep = max(0, limit_bytes - len(marker.format(kept=limit_bytes).encode()))
    head = encoded[:keep].decode("utf-8", "ignore")
    return head + marker.format(kept=len(head.encode("utf-8"))), True


def parse_result(body: bytes) -> DeviceResult:
    """Read a result POST body, in the wire format the job wrapper documents.

    The backup's fate and the error message come from the output, where the
    wrapper and the backup prelude write them. Raises :class:`InvalidInput`
    saying what is wrong with a malformed body.
    """
    try:
        posted = parse_result_body(body)
    except ValueError as problem:
        raise InvalidInput(str(problem)) from None
    status = _RESULT_STATES[posted.status]
    backup = posted.backup
    error = ""
    if status is OutcomeStatus.FAILED:
        error = _error_line(posted.output)
    return DeviceResult(
        status=status,
        output=posted.output,
        error=error,
        backup_ok=None if backup is None else backup == "uploaded",
    )


def _error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return lines[-1] if lines else "the job failed without output"


def site_tokens(session: Session) -> dict[str, int]:
    """Every site's token hash, mapped to the site's id."""
    rows = session.execute(select(Site.token_hash, Site.id))
    return {token_hash: site_id for token_hash, site_id in rows}


def site_for_token_hash(session: Session, token_hash: str) -> int | None:
    """The id of the site holding this token hash, if any (an indexed lookup)."""
    return session.scalar(select(Site.id).where(Site.token_hash == token_hash))


def sites_with_open_work(session: Session) -> set[int]:
    """Sites that have an outcome a poll could hand out."""
    query = select(Outcome.site_id).where(Outcome.status.in_(HANDED_OUT)).distinct()
    return set(session.scalars(query))


def record_last_seen(session: Session, seen: Mapping[int, datetime]) -> None:
    """Store the sites' last poll times in one statement; never moves one back."""
    if not seen:
        return
    statement = (
        update(Site)
        .where(
            Site.id == bindparam("site_id"),
            or_(
                Site.last_seen_at.is_(None),
                Site.last_seen_at < bindparam("seen_at"),
            ),
        )
        .values(last_seen_at=bindparam("seen_at"))
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(
        statement,
        [{"site_id": site, "seen_at": at} for site, at in sorted(seen.items())],
    )


@dataclass(frozen=True)
class PollRequest:
    """A poll that reached the database: the site and the token it presented."""

    site_id: int
    token_hash: str


@dataclass(frozen=True)
class ResultRequest:
    """A result a device posted for one of its deliveries."""

    site_id: int
    token_hash: str
    delivery_id: str
    result: DeviceResult


def _sites_for(
    session: Session, requests: Sequence[PollRequest | ResultRequest], *, lock: bool
) -> dict[int, tuple[str, str]]:
    """Name and version of each requesting site whose token is still its own."""
    ids = sorted({request.site_id for request in requests})
    # Rows are locked in id order so that two backends cannot deadlock.
    query = (
        select(Site.id, Site.name, Site.routeros_version, Site.token_hash)
        .where(Site.id.in_(ids))
        .order_by(Site.id)
    )
    rows = {
        row.id: row
        for row in session.execute(
            query.with_for_update(key_share=True) if lock else query
        )
    }
    valid: dict[int, tuple[str, str]] = {}
    for request in requests:
        row = rows.get(request.site_id)
        if row is not None and hmac.compare_digest(row.token_hash, request.token_hash):
            valid[request.site_id] = (row.name, row.routeros_version)
    return valid


def hand_out(
    session: Session, *, site_id: int, token_hash: str, now: datetime
) -> Delivery | None:
    """The site's next job, marked delivered; ``None`` when nothing is open.

    The oldest open outcome comes first. One that was delivered but never
    answered is handed out again with the same delivery id (the wrapper skips an
    id it has already run) until its deadline. Raises :class:`TokenRejected`
    when ``token_hash`` is no longer the site's.
    """
    (answer,) = hand_out_many(session, [PollRequest(site_id, token_hash)], now=now)
    if isinstance(answer, DeskError):
        raise answer
    return answer


def hand_out_many(
    session: Session, polls: Sequence[PollRequest], *, now: datetime
) -> list[Delivery | TokenRejected | None]:
    """:func:`hand_out` for many polls in a constant number of statements.

    Answers come in the order of ``polls``: a delivery, ``None``, or the
    :class:`TokenRejected` to raise for that poll. Two polls of one site in the
    same call get the same delivery.
    """
    sites = _sites_for(session, polls, lock=True)
    rows = session.execute(
        select(
            Outcome.id,
            Outcome.site_id,
            Outcome.status,
            Outcome.delivery_id,
            Outcome.attempts,
            Outcome.run_id,
        )
        .where(
            Outcome.site_id.in_(sorted(sites)),
            Outcome.status.in_(HANDED_OUT),
            Outcome.deadline > now,
        )
        .order_by(Outcome.id)
    ).all()
    oldest: dict[int, _OpenRow] = {}
    for row in rows:
        oldest.setdefault(row.site_id, row)

    fresh = [row.id for row in oldest.values() if row.status is OutcomeStatus.PENDING]
    again = [row.id for row in oldest.values() if row.status is OutcomeStatus.DELIVERED]
    moved = set(
        lifecycle.transition_outcomes(
            session,
            fresh,
            OutcomeStatus.DELIVERED,
            expected=[OutcomeStatus.PENDING],
            values={"attempts": Outcome.attempts + 1, "delivered_at": now},
            now=now,
        )
    )
    moved.update(
        lifecycle.transition_outcomes(
            session,
            again,
            OutcomeStatus.DELIVERED,
            expected=[OutcomeStatus.DELIVERED],
            values={"attempts": Outcome.attempts + 1},
            now=now,
        )
    )

    jobs = {
        run_id: _job(session, run_id) for run_id in {r.run_id for r in oldest.values()}
    }
    deliveries: dict[int, Delivery] = {}
    entries: list[tuple[int, int, str, str]] = []
    for site_id, row in oldest.items():
        if row.id not in moved:
            continue
        script_id, make_backup, body = jobs[row.run_id]
        name, version = sites[site_id]
        deliveries[site_id] = Delivery(
            outcome_id=row.id,
            delivery_id=row.delivery_id,
            run_id=row.run_id,
            script_id=script_id,
            site_id=site_id,
            site_name=name,
            routeros_version=version,
            body=body,
            make_backup=make_backup,
            attempt=row.attempts + 1,
        )
        detail = f"delivery {row.delivery_id}, attempt {row.attempts + 1}"
        entries += [
            (site_id, row.id, "polled", ""),
            (site_id, row.id, "delivered", detail),
        ]
    _bulk_log(session, entries, now)
    if deliveries:
        log.info("%d delivery(ies) handed out", len(deliveries))

    rejected = TokenRejected("the token does not belong to a site")
    return [
        deliveries.get(poll.site_id) if poll.site_id in sites else rejected
        for poll in polls
    ]


def fail_undeliverable(
    session: Session, *, outcome_id: int, reason: str, now: datetime
) -> None:
    """Fail an outcome the desk cannot turn into a job a device can run.

    For a job too large for a device to fetch, or a backup with no SFTP server
    configured: polling again would never succeed, so the outcome fails at once
    with ``reason`` instead of waiting for its deadline.
    """
    row = session.execute(
        select(Outcome.status, Outcome.site_id, Outcome.run_id)
        .where(Outcome.id == outcome_id)
        .with_for_update(key_share=True)
    ).one()
    if row.status not in HANDED_OUT:
        return
    if row.status is OutcomeStatus.PENDING:
        lifecycle.transition_outcome(
            session,
            outcome_id,
            OutcomeStatus.DELIVERED,
            expected=OutcomeStatus.PENDING,
            values={"delivered_at": now},
        )
    lifecycle.transition_outcome(
        session,
        outcome_id,
        OutcomeStatus.FAILED,
        expected=OutcomeStatus.DELIVERED,
        values={"finished_at": now, "error": reason},
    )
    add_log(
        session,
        site_id=row.site_id,
        outcome_id=outcome_id,
        event="error",
        detail=f"not delivered: {reason}",
        at=now,
    )
    settle_run(session, row.run_id)
    log.warning("outcome %s failed: cannot be delivered: %s", outcome_id, reason)


def _job(session: Session, run_id: int) -> tuple[int, bool, str]:
    """The script id, backup flag and content a run delivers.

    A run carries the revision it was made from; the content of that revision is
    what devices get, even if the script was edited after a test run was made.
    """
    script_id, revision, make_backup, current, current_revision = session.execute(
        select(
            Run.script_id,
            Run.revision,
            Script.make_backup,
            Script.content,
            Script.revision,
        )
        .join(Script, Run.script_id == Script.id)
        .where(Run.id == run_id)
    ).one()
    if revision == current_revision:
        return script_id, make_backup, current
    versioned = session.scalar(
        select(ScriptVersion.content)
        .where(
            ScriptVersion.script_id == script_id,
            ScriptVersion.revision <= revision,
        )
        .order_by(ScriptVersion.revision.desc())
        .limit(1)
    )
    return script_id, make_backup, current if versioned is None else versioned


def record_result(
    session: Session,
    *,
    site_id: int,
    delivery_id: str,
    result: DeviceResult,
    now: datetime,
    token_hash: str | None = None,
) -> ResultReceipt:
    """Record a device's result for one of its own deliveries.

    Idempotent: a repeat of a delivery already answered changes nothing. A result
    for an outcome that already timed out is logged, not applied. Raises
    :class:`NotFound` for an unknown delivery or one of another site, with the
    same message, so a device learns nothing about other sites' work; and
    :class:`TokenRejected` when ``token_hash`` is given and no longer the site's.
    """
    request = ResultRequest(site_id, token_hash or "", delivery_id, result)
    (answer,) = record_results(
        session, [request], now=now, check_tokens=token_hash is not None
    )
    if isinstance(answer, DeskError):
        raise answer
    return answer


def record_results(
    session: Session,
    results: Sequence[ResultRequest],
    *,
    now: datetime,
    check_tokens: bool = True,
) -> list[ResultReceipt | NotFound | TokenRejected]:
    """:func:`record_result` for many results in a constant number of statements.

    Answers come in the order of ``results``: a receipt, or the error to raise
    for that result. Of two results for one delivery the first counts.
    """
    sites = _sites_for(session, results, lock=False) if check_tokens else None
    rows = {
        row.delivery_id: row
        for row in session.execute(
            select(
                Outcome.id,
                Outcome.status,
                Outcome.run_id,
                Outcome.site_id,
                Outcome.delivery_id,
            )
            .where(Outcome.delivery_id.in_({r.delivery_id for r in results}))
            .order_by(Outcome.id)
            .with_for_update(key_share=True)
        )
    }
    missing = NotFound("no such delivery")
    answers: list[ResultReceipt | NotFound | TokenRejected | None] = []
    applying: dict[str, tuple[int, ResultRequest]] = {}
    late: dict[str, int] = {}
    for index, request in enumerate(results):
        row = rows.get(request.delivery_id)
        if sites is not None and request.site_id not in sites:
            answers.append(TokenRejected("the token does not belong to a site"))
        elif row is None or row.site_id != request.site_id:
            answers.append(missing)
        elif row.status in (OutcomeStatus.COMPLETED, OutcomeStatus.FAILED) or (
            request.delivery_id in applying
        ):
            answers.append(None)
        elif row.status is OutcomeStatus.DELIVERED:
            applying[request.delivery_id] = (index, request)
            answers.append(None)
        else:
            late.setdefault(request.delivery_id, index)
            answers.append(None)

    applied = _apply_results(session, rows, list(applying.values()), now)
    logged = _log_late_results(session, rows, [results[i] for i in late.values()], now)
    for index, request in enumerate(results):
        if answers[index] is not None:
            continue
        row = rows[request.delivery_id]
        receipt = applied.get(request.delivery_id)
        if receipt is not None and applying[request.delivery_id][0] == index:
            answers[index] = receipt
        elif late.get(request.delivery_id) == index:
            answers[index] = ResultReceipt(
                row.id,
                row.status,
                applied=False,
                duplicate=request.delivery_id not in logged,
            )
        else:
            status = receipt.status if receipt is not None else row.status
            answers[index] = ResultReceipt(
                row.id, status, applied=False, duplicate=True
            )
    return [answer for answer in answers if answer is not None]


def _apply_results(
    session: Session,
    rows: Mapping[str, _ResultRow],
    applying: Sequence[tuple[int, ResultRequest]],
    now: datetime,
) -> dict[str, ResultReceipt]:
    receipts: dict[str, ResultReceipt] = {}
    for wanted in (OutcomeStatus.COMPLETED, OutcomeStatus.FAILED):
        group = [req for _, req in applying if req.result.status is wanted]
        moved = set(
            lifecycle.transition_outcomes(
                session,
                [rows[req.delivery_id].id for req in group],
                wanted,
                expected=[OutcomeStatus.DELIVERED],
                values={"finished_at": now},
                now=now,
            )
        )
        stored: list[dict[str, Any]] = []
        entries: list[tuple[int, int, str, str]] = []
        for request in group:
            row = rows[request.delivery_id]
            if row.id not in moved:
                continue
            output, truncated = truncate_text(request.result.output, OUTPUT_LIMIT_BYTES)
            error, _ = truncate_text(request.result.error, ERROR_LIMIT_BYTES)
            stored.append(
                {
                    "outcome_id": row.id,
                    "output": output,
                    "error": error,
                    "backup_ok": request.result.backup_ok,
                }
            )
            entries += _result_entries(row, request.result, output, error, late=None)
            receipts[request.delivery_id] = ResultReceipt(
                row.id, wanted, applied=True, truncated=truncated
            )
        if stored:
            # Only data columns: the state change itself went through lifecycle.
            session.connection().execute(
                update(Outcome)
                .where(Outcome.id == bindparam("outcome_id"))
                .values(
                    output=bindparam("output"),
                    error=bindparam("error"),
                    backup_ok=bindparam("backup_ok"),
                ),
                stored,
            )
        _bulk_log(session, entries, now)

    for run_id in sorted({rows[d].run_id for d in receipts}):
        settle_run(session, run_id)
    if receipts:
        log.info("%d result(s) recorded", len(receipts))
    return receipts


def _log_late_results(
    session: Session,
    rows: Mapping[str, _ResultRow],
    late: Sequence[ResultRequest],
    now: datetime,
) -> set[str]:
    """Log results that came after their outcome became final, once each;
    returns the delivery ids logged now."""
    if not late:
        return set()
    ids = [rows[request.delivery_id].id for request in late]
    logged = set(
        session.scalars(
            select(LogEntry.outcome_id).where(
                LogEntry.outcome_id.in_(ids), LogEntry.event == "result received"
            )
        )
    )
    entries: list[tuple[int, int, str, str]] = []
    fresh: set[str] = set()
    for request in late:
        row = rows[request.delivery_id]
        if row.id in logged:
            continue
        fresh.add(request.delivery_id)
        output, _ = truncate_text(request.result.output, OUTPUT_LIMIT_BYTES)
        error, _ = truncate_text(request.result.error, ERROR_LIMIT_BYTES)
        entries += _result_entries(row, request.result, output, error, late=row.status)
    _bulk_log(session, entries, now)
    return fresh


def _result_entries(
    row: _ResultRow,
    result: DeviceResult,
    output: str,
    error: str,
    *,
    late: OutcomeStatus | None,
) -> list[tuple[int, int, str, str]]:
    detail = result.status.value
    if late is not None:
        detail += f", after the outcome became {late.value}: not applied"
    entries = [(row.site_id, row.id, "result received", detail)]
    if output:
        entries.append((row.site_id, row.id, "output", output))
    if error or result.status is OutcomeStatus.FAILED:
        entries.append((row.site_id, row.id, "error", error or _error_line(output)))
    if result.backup_ok is not None:
        event = "backup uploaded" if result.backup_ok else "backup failed"
        entries.append((row.site_id, row.id, event, ""))
    return entries


def settle_run(session: Session, run_id: int) -> RunStatus:
    """Roll a run up from its outcomes and, once final, settle its script.

    The run's row is locked first so that two backends finishing its last two
    outcomes at once cannot both see the other's outcome still open. A launch run
    moves its script ``launched -> completed | failed``; a recurring script goes
    back to ``scheduled`` for its next occurrence instead.
    """
    kind, script_id = session.execute(
        select(Run.kind, Run.script_id)
        .where(Run.id == run_id)
        .with_for_update(key_share=True)
    ).one()
    status = rollup_run(session, run_id)
    if status is RunStatus.RUNNING or kind is not RunKind.LAUNCH:
        return status

    still_running = session.scalar(
        select(Run.id).where(
            Run.script_id == script_id,
            Run.kind == RunKind.LAUNCH,
            Run.status == RunStatus.RUNNING,
            Run.id != run_id,
        )
    )
    if still_running is not None:
        return status

    recurrence = session.scalar(select(Script.recurrence).where(Script.id == script_id))
    if recurrence and recurrence.strip():
        wanted = ScriptStatus.SCHEDULED
    elif status is RunStatus.COMPLETED:
        wanted = ScriptStatus.COMPLETED
    else:
        wanted = ScriptStatus.FAILED
    try:
        lifecycle.transition_script(
            session, script_id, wanted, expected=ScriptStatus.LAUNCHED
        )
    except IllegalTransition:
        # Cancelled meanwhile, or settled already by another backend.
        return status
    log.info("script %s %s after run %s", script_id, wanted.value, run_id)
    return status


def sweep_deadlines(
    session: Session, *, now: datetime, batch: int = 5_000
) -> SweepReport:
    """Make open outcomes past their deadline final: ``timed_out`` or ``expired``.

    A delivered outcome with no result times out; a pending one nobody polled
    for expires. Outcomes another backend is working on are skipped this time.
    """
    rows = session.execute(
        select(Outcome.id, Outcome.status, Outcome.site_id, Outcome.run_id)
        .where(Outcome.status.in_(HANDED_OUT), Outcome.deadline <= now)
        .order_by(Outcome.id)
        .limit(batch)
        .with_for_update(skip_locked=True, key_share=True)
    ).all()
    report = SweepReport()
    if not rows:
        return report

    by_id = {row.id: row for row in rows}
    report.timed_out = lifecycle.transition_outcomes(
        session,
        [row.id for row in rows if row.status is OutcomeStatus.DELIVERED],
        OutcomeStatus.TIMED_OUT,
        expected=[OutcomeStatus.DELIVERED],
        values={"finished_at": now, "error": "no result before the deadline"},
        now=now,
    )
    report.expired = lifecycle.transition_outcomes(
        session,
        [row.id for row in rows if row.status is OutcomeStatus.PENDING],
        OutcomeStatus.EXPIRED,
        expected=[OutcomeStatus.PENDING],
        values={
            "finished_at": now,
            "error": "the site did not poll before the deadline",
        },
        now=now,
    )
    _bulk_log(
        session,
        [(by_id[i].site_id, i, "timed out", "") for i in report.timed_out]
        + [(by_id[i].site_id, i, "expired", "") for i in report.expired],
        now,
    )

    runs = sorted({by_id[i].run_id for i in report.timed_out + report.expired})
    for run_id in runs:
        report.settled_runs[run_id] = settle_run(session, run_id)
    if report.changed:
        log.info(
            "deadline sweep: %d timed out, %d expired",
            len(report.timed_out),
            len(report.expired),
        )
    return report


def _bulk_log(
    session: Session, entries: Iterable[tuple[int, int, str, str]], now: datetime
) -> None:
    rows = [
        {
            "site_id": site_id,
            "outcome_id": outcome_id,
            "event": event,
            "detail": detail,
            "at": now,
        }
        for site_id, outcome_id, event, detail in entries
    ]
    if rows:
        session.connection().execute(insert(LogEntry), rows)

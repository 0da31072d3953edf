"""Scheduled scripts: create, edit, cancel, list (the service the UI and CLI share)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from sdx_tui.backend import approvals, audit, lifecycle
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import InvalidInput, NotFound, PermissionDenied
from sdx_tui.backend.identity import Actor, default_workspace_id, require_role
from sdx_tui.backend.models import (
    Outcome,
    OutcomeStatus,
    Role,
    Run,
    RunStatus,
    Script,
    ScriptStatus,
    ScriptVersion,
)
from sdx_tui.backend.sites import sites_by_names
from sdx_tui.backend.timezones import check_time_zone

log = logging.getLogger(__name__)

MAX_CONTENT_BYTES = 1_000_000
MAX_DESCRIPTION = 500
_UNSET: Any = object()


@dataclass(frozen=True)
class ScriptChanges:
    """Fields to change in an edit; ``None`` leaves a field as it is."""

    description: str | None = None
    content: str | None = None
    targets: Sequence[str] | None = None
    launch_at: datetime | None = _UNSET
    time_zone: str | None = None
    recurrence: str | None = None
    make_backup: bool | None = None
    test_site: str | None = _UNSET


def _check_description(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise InvalidInput("a script needs a description")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"the description is longer than {MAX_DESCRIPTION} chars")
    return text


def _check_content(text: str) -> str:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONTENT_BYTES:
        raise InvalidInput("the script is larger than 1 MB")
    if "\x00" in text:
        raise InvalidInput("the script contains a NUL character")
    return text


def _check_launch_at(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput("the launch time needs a time zone")
    return value


def check_recurrence(expression: str, time_zone: str) -> str:
    """A five-field cron expression, or :class:`InvalidInput` saying why not."""
    expression = " ".join(expression.split())
    if not expression:
        return ""
    from croniter import croniter

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise InvalidInput(
            f"{expression!r} is not a cron expression (minute hour day month weekday)"
        )
    check_time_zone(time_zone)
    return expression


def _apply_targets(
    session: Session, script: Script, targets: Sequence[str], test_site: str | None
) -> None:
    sites = sites_by_names(session, targets)
    script.targets = sites
    if test_site:
        chosen = sites_by_names(session, [test_site])[0]
        script.test_site_id = chosen.id
    else:
        script.test_site_id = None


def create_script(
    database: Database,
    actor: Actor,
    *,
    description: str,
    content: str,
    targets: Sequence[str] = (),
    launch_at: datetime | None = None,
    time_zone: str = "UTC",
    recurrence: str = "",
    make_backup: bool = False,
    test_site: str | None = None,
) -> Script:
    """Create a script; it starts ``unauthorized``."""
    require_role(actor, Role.OPERATOR)
    description = _check_description(description)
    content = _check_content(content)
    check_time_zone(time_zone)
    recurrence = check_recurrence(recurrence, time_zone)
    launch_at = _check_launch_at(launch_at)
    with database.session() as session:
        script = Script(
            workspace_id=default_workspace_id(session, actor.organisation_id),
            author_id=actor.user_id,
            description=description,
            content=content,
            launch_at=launch_at,
            time_zone=time_zone,
            recurrence=recurrence,
            make_backup=make_backup,
            status=ScriptStatus.UNAUTHORIZED,
        )
        session.add(script)
        _apply_targets(session, script, targets, test_site)
        session.flush()
        session.add(ScriptVersion(script_id=script.id, revision=1, content=content))
        audit.record(
            session,
            actor,
            "script.created",
            subject_type="script",
            subject_id=script.id,
            detail=description,
        )
        script_id = script.id
    log.info("script %s created by %s", script_id, actor.name)
    return get_script(database, script_id)


def edit_script(
    database: Database, actor: Actor, script_id: int, changes: ScriptChanges
) -> Script:
    """Change a script; it goes back to ``unauthorized`` and open approvals are void."""
    require_role(actor, Role.OPERATOR)
    with database.session() as session:
        script = _load(session, script_id)
        if script.status not in lifecycle.EDITABLE_SCRIPTS:
            raise InvalidInput(
                f"script {script_id} is {script.status}; only unauthorized or "
                "scheduled scripts can be edited"
            )
        changed: list[str] = []
        if changes.description is not None:
            script.description = _check_description(changes.description)
            changed.append("description")
        if changes.content is not None and changes.content != script.content:
            script.content = _check_content(changes.content)
            changed.append("content")
        if changes.time_zone is not None:
            check_time_zone(changes.time_zone)
            script.time_zone = changes.time_zone
            changed.append("time zone")
        if changes.recurrence is not None:
            script.recurrence = check_recurrence(changes.recurrence, script.time_zone)
            changed.append("recurrence")
        if changes.launch_at is not _UNSET:
            script.launch_at = _check_launch_at(changes.launch_at)
            changed.append("launch time")
        if changes.make_backup is not None:
            script.make_backup = changes.make_backup
            changed.append("backup")
        if changes.targets is not None or changes.test_site is not _UNSET:
            targets = (
                changes.targets
                if changes.targets is not None
                else [site.name for site in script.targets]
            )
            test_site = (
                changes.test_site
                if changes.test_site is not _UNSET
                else (script.test_site.name if script.test_site else None)
            )
            _apply_targets(session, script, targets, test_site)
            changed.append("targets")

        script.revision += 1
        script.approved_hash = ""
        if "content" in changed:
            session.add(
                ScriptVersion(
                    script_id=script.id,
                    revision=script.revision,
                    content=script.content,
                )
            )
        session.flush()
        lifecycle.transition_script(
            session,
            script_id,
            ScriptStatus.UNAUTHORIZED,
            expected=lifecycle.EDITABLE_SCRIPTS,
        )
        voided = approvals.void_open_requests(session, script_id)
        audit.record(
            session,
            actor,
            "script.edited",
            subject_type="script",
            subject_id=script_id,
            detail=", ".join(changed)
            + (f"; {voided} approval(s) voided" if voided else ""),
        )
    log.info("script %s edited by %s", script_id, actor.name)
    return get_script(database, script_id)


def cancel_script(database: Database, actor: Actor, script_id: int) -> Script:
    """Cancel a script; a launched run's undelivered outcomes are cancelled too."""
    require_role(actor, Role.OPERATOR)
    with database.session() as session:
        script = _load(session, script_id)
        if script.author_id != actor.user_id and not actor.has(Role.APPROVER):
            raise PermissionDenied("only the author or an approver can cancel a script")
        lifecycle.transition_script(session, script_id, ScriptStatus.CANCELLED)
        approvals.void_open_requests(session, script_id)
        cancel_open_outcomes(session, script_id)
        audit.record(
            session,
            actor,
            "script.cancelled",
            subject_type="script",
            subject_id=script_id,
        )
    log.info("script %s cancelled by %s", script_id, actor.name)
    return get_script(database, script_id)


def cancel_open_outcomes(
    session: Session, script_id: int, run_ids: Collection[int] | None = None
) -> int:
    """Mark every pending outcome of the script's running runs ``cancelled``."""
    query = (
        select(Outcome.id)
        .join(Run)
        .where(
            Run.script_id == script_id,
            Run.status == RunStatus.RUNNING,
            Outcome.status == OutcomeStatus.PENDING,
        )
    )
    if run_ids is not None:
        query = query.where(Run.id.in_(run_ids))
    ids = list(session.scalars(query))
    moved = lifecycle.transition_outcomes(
        session,
        ids,
        OutcomeStatus.CANCELLED,
        expected=[OutcomeStatus.PENDING],
        values={"finished_at": utcnow()},
    )
    return len(moved)


def _load(session: Session, script_id: int) -> Script:
    script = session.scalar(
        select(Script)
        .where(Script.id == script_id)
        .options(
            selectinload(Script.targets),
            selectinload(Script.author),
            selectinload(Script.test_site),
        )
    )
    if script is None:
        raise NotFound(f"script {script_id} does not exist")
    return script


def get_script(database: Database, script_id: int) -> Script:
    """One script with its targets, author and test site loaded."""
    with database.reading() as session:
        return _load(session, script_id)


def list_scripts(
    database: Database,
    *,
    statuses: Collection[ScriptStatus] | None = None,
    search: str = "",
    limit: int | None = None,
) -> Sequence[Script]:
    """Scripts, newest first, filtered by state and by text in the description.

    Targets, author and test site come loaded.
    """
    query = (
        select(Script)
        .options(
            selectinload(Script.targets),
            selectinload(Script.author),
            selectinload(Script.test_site),
        )
        .order_by(Script.id.desc())
    )
    if statuses:
        query = query.where(Script.status.in_(list(statuses)))
    if search.strip():
        needle = f"%{search.strip()}%"
        query = query.where(or_(Script.description.ilike(needle)))
    if limit:
        query = query.limit(limit)
    with database.reading() as session:
        return session.scalars(query).all()

"""Approval requests and their tokens (the four-eyes rule).

A request is bound to a content hash of what will run. Each eligible approver
gets a single-use token; only its SHA-256 is stored, and the token in clear lives
only in the outbox message that carries the link until that message is sent.

Nobody who wrote the script (its author, whoever edited it, whoever asked for
the approval) can decide on it, whatever path they take: the TUI, the CLI or a
link.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from sdx_tui.backend import audit, lifecycle
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import DeskError, InvalidInput, NotFound, PermissionDenied
from sdx_tui.backend.identity import (
    Actor,
    actor_for,
    organisation_and_ancestors,
    require_role,
)
from sdx_tui.backend.launch import first_launch
from sdx_tui.backend.models import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalToken,
    AuditEvent,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Role,
    Run,
    RunKind,
    Script,
    ScriptStatus,
    ScriptVersion,
    Site,
    User,
)
from sdx_tui.backend.notify import messages
from sdx_tui.backend.notify.outbox import enqueue
from sdx_tui.backend.routeros.lint import lint
from sdx_tui.backend.sites import hash_token
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.config import Settings

log = logging.getLogger(__name__)

MAX_REASON = 2000
WITHDRAWN_BODY = "Not sent: the approval link was withdrawn before it went out."


# -- what will run ---------------------------------------------------------------


def rendered_per_site(session: Session, script: Script) -> dict[int, str]:
    """The text each target site will run, by site id.

    Delivery hands out the script's content as it is, so that is what is
    hashed and reviewed; this is the one place to render per site once
    scripts can run templates.
    """
    return {site.id: script.content for site in script.targets}


def content_hash(script: Script, rendered: Mapping[int, str]) -> str:
    """SHA-256 over what will run: the rendered script per site, the targets,
    the launch time and recurrence, and the backup and test options."""
    document = {
        "rendered": {str(site_id): text for site_id, text in rendered.items()},
        "targets": sorted(site.id for site in script.targets),
        "launch_at": script.launch_at.isoformat() if script.launch_at else "",
        "time_zone": script.time_zone,
        "recurrence": script.recurrence,
        "make_backup": script.make_backup,
        "test_site_id": script.test_site_id,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def script_content_hash(session: Session, script: Script) -> str:
    """The content hash of a script as it stands now (targets must be loaded)."""
    return content_hash(script, rendered_per_site(session, script))


@dataclass(frozen=True)
class ReviewFinding:
    """A lint finding, with the target sites whose rendered script has it."""

    sites: tuple[str, ...]
    code: str
    severity: str
    line: int
    column: int
    message: str


def lint_rendered(script: Script, rendered: Mapping[int, str]) -> list[ReviewFinding]:
    """Lint each distinct rendered text for its sites' RouterOS versions."""
    groups: dict[tuple[str, str], list[str]] = {}
    for site in script.targets:
        key = (rendered[site.id], site.routeros_version)
        groups.setdefault(key, []).append(site.name)

    merged: dict[tuple[str, str, int, int, str], list[str]] = {}
    for (text, version), names in groups.items():
        for finding in lint(text, routeros_version=version):
            where = (
                finding.code,
                finding.severity,
                finding.line,
                finding.column,
                finding.message,
            )
            merged.setdefault(where, []).extend(names)
    ordered = sorted(merged.items(), key=lambda item: (item[0][2], item[0][3]))
    return [
        ReviewFinding(tuple(sorted(set(names))), code, severity, line, column, text)
        for (code, severity, line, column, text), names in ordered
    ]


# -- who may decide --------------------------------------------------------------


def _load_script(session: Session, script_id: int) -> Script:
    script = session.scalar(
        select(Script)
        .where(Script.id == script_id)
        .options(
            selectinload(Script.targets),
            selectinload(Script.author),
            selectinload(Script.test_site),
            selectinload(Script.workspace),
        )
    )
    if script is None:
        raise NotFound(f"script {script_id} does not exist")
    return script


def writers_of(session: Session, script: Script) -> set[int]:
    """Everyone who wrote what the script runs: its author and every editor."""
    editors = session.scalars(
        select(AuditEvent.actor_id).where(
            AuditEvent.subject_type == "script",
            AuditEvent.subject_id == script.id,
            AuditEvent.action.in_(["script.created", "script.edited"]),
            AuditEvent.actor_id.is_not(None),
        )
    )
    return {script.author_id, *(user_id for user_id in editors if user_id)}


def _can_approve(user: User) -> bool:
    return bool(user.role_set & {Role.APPROVER, Role.ADMIN})


def eligible_approvers(
    session: Session, script: Script, *, requested_by: int
) -> list[User]:
    """Active approvers of the script's organisation or one above it, who neither
    wrote the script nor asked for its approval."""
    organisations = organisation_and_ancestors(
        session, script.workspace.organisation_id
    )
    excluded = writers_of(session, script) | {requested_by}
    users = session.scalars(
        select(User)
        .where(User.organisation_id.in_(organisations), User.active.is_(True))
        .order_by(User.os_user)
    )
    return [u for u in users if _can_approve(u) and u.id not in excluded]


# -- requesting ------------------------------------------------------------------


@dataclass(frozen=True)
class RequestResult:
    """What a request for authorization did."""

    request_id: int
    script_id: int
    approvers: tuple[str, ...]
    messages_queued: int
    voided: int
    expires_at: datetime
    notes: tuple[str, ...] = ()
    """Things the requester should know, such as an approver nobody can reach."""


def _lint_refusal(script: Script, errors: Sequence[ReviewFinding]) -> InvalidInput:
    first = errors[0]
    where = ", ".join(first.sites[:3]) + ("..." if len(first.sites) > 3 else "")
    return InvalidInput(
        f"script {script.id} has {len(errors)} lint error(s) and cannot be sent for "
        f"approval; first: line {first.line}: {first.message} ({first.code}, {where})"
    )


def _check_requestable(script: Script) -> None:
    if script.status != ScriptStatus.UNAUTHORIZED:
        raise InvalidInput(
            f"script {script.id} is {script.status}; only an unauthorized script "
            "can be sent for approval"
        )
    if not script.targets:
        raise InvalidInput(
            f"script {script.id} has no targets; pick at least one site first"
        )
    if script.launch_at is None:
        raise InvalidInput(f"script {script.id} has no launch time; set one first")


def request_authorization(
    database: Database,
    actor: Actor,
    script_id: int,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> RequestResult:
    """Ask every eligible approver to approve the script as it stands now.

    Refused while the script has lint errors, no targets or no launch time, or
    when nobody may approve it. Older open requests of the script are voided.
    """
    require_role(actor, Role.OPERATOR)
    now = now or utcnow()
    expires_at = now + timedelta(hours=settings.approvals.link_ttl_hours)
    with database.session() as session:
        script = _load_script(session, script_id)
        _check_requestable(script)
        rendered = rendered_per_site(session, script)
        errors = [f for f in lint_rendered(script, rendered) if f.severity == "error"]
        if errors:
            raise _lint_refusal(script, errors)
        approvers = eligible_approvers(session, script, requested_by=actor.user_id)
        if not approvers:
            raise PermissionDenied(
                f"nobody can approve script {script_id}: it needs an active user with "
                "the approver role in its organisation (or above) who did not write "
                "it or ask for its approval"
            )

        voided = void_open_requests(session, script_id, now=now)
        request = ApprovalRequest(
            script_id=script_id,
            requested_by_id=actor.user_id,
            content_hash=content_hash(script, rendered),
            revision=script.revision,
            status=ApprovalStatus.OPEN,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(request)
        session.flush()
        queued, notes = 0, []
        for approver in approvers:
            sent, note = _issue_token(
                session, settings, script, request, approver, actor
            )
            queued += sent
            notes.extend(note)
        audit.record(
            session,
            actor,
            "approval.requested",
            subject_type="script",
            subject_id=script_id,
            detail=f"request {request.id} to {', '.join(a.os_user for a in approvers)}"
            + (f"; {voided} older request(s) voided" if voided else ""),
        )
        result = RequestResult(
            request_id=request.id,
            script_id=script_id,
            approvers=tuple(a.os_user for a in approvers),
            messages_queued=queued,
            voided=voided,
            expires_at=expires_at,
            notes=tuple(notes),
        )
    log.info(
        "approval request %s for script %s sent to %d approver(s)",
        result.request_id,
        script_id,
        len(result.approvers),
    )
    return result


def _issue_token(
    session: Session,
    settings: Settings,
    script: Script,
    request: ApprovalRequest,
    approver: User,
    requester: Actor,
) -> tuple[int, list[str]]:
    """One approver's token and the messages carrying its link."""
    token = secrets.token_urlsafe(32)
    row = ApprovalToken(
        request_id=request.id,
        approver_id=approver.id,
        token_hash=hash_token(token),
        expires_at=request.expires_at,
        csrf_nonce=secrets.token_urlsafe(24),
    )
    session.add(row)
    session.flush()

    zone = approver.time_zone or "UTC"
    notice = messages.ApprovalNotice(
        approver_name=approver.display_name or approver.os_user,
        requested_by=requester.name,
        script_id=script.id,
        description=script.description,
        targets=len(script.targets),
        launch_local=format_in_zone(script.launch_at, zone),
        expires_local=format_in_zone(request.expires_at, zone),
        link=messages.approval_link(settings.endpoint.base_url(), token),
    )
    queued, notes = 0, []
    if approver.email and settings.smtp.host:
        email = messages.approval_email(notice)
        enqueue(
            session,
            channel="email",
            recipient=approver.email,
            subject=email.subject,
            body=email.text,
            html=email.html,
            approval_token_id=row.id,
            now=request.created_at,
        )
        queued += 1
    if approver.whatsapp and settings.whatsapp.phone_number_id:
        enqueue(
            session,
            channel="whatsapp",
            recipient=approver.whatsapp,
            body=messages.approval_whatsapp(notice),
            approval_token_id=row.id,
            now=request.created_at,
        )
        queued += 1
    if not queued:
        notes.append(
            f"{approver.os_user} gets no link (no e-mail or WhatsApp set up for them "
            "or on the desk); they can decide in the TUI"
        )
    return queued, notes


# -- voiding and expiry ----------------------------------------------------------


def _withdraw_messages(session: Session, request_ids: Sequence[int]) -> None:
    """Unsent messages of these requests' tokens will not go out: their links
    are dead, and the token in clear leaves the database with them."""
    token_ids = select(ApprovalToken.id).where(
        ApprovalToken.request_id.in_(request_ids)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.approval_token_id.in_(token_ids),
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
        )
        .values(status=OutboxStatus.WITHDRAWN, body=WITHDRAWN_BODY, html="")
        .execution_options(synchronize_session=False)
    )


def _close_requests(
    session: Session,
    request_ids: Sequence[int],
    status: ApprovalStatus,
    now: datetime,
) -> int:
    if not request_ids:
        return 0
    closed = session.execute(
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id.in_(request_ids),
            ApprovalRequest.status == ApprovalStatus.OPEN,
        )
        .values(status=status, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ApprovalToken)
        .where(
            ApprovalToken.request_id.in_(request_ids),
            ApprovalToken.used_at.is_(None),
            ApprovalToken.voided_at.is_(None),
        )
        .values(voided_at=now)
        .execution_options(synchronize_session=False)
    )
    _withdraw_messages(session, request_ids)
    return int(closed.rowcount)  # type: ignore[attr-defined]


def void_open_requests(
    session: Session, script_id: int, *, now: datetime | None = None
) -> int:
    """Void every open request of a script and its tokens; returns how many."""
    open_ids = list(
        session.scalars(
            select(ApprovalRequest.id).where(
                ApprovalRequest.script_id == script_id,
                ApprovalRequest.status == ApprovalStatus.OPEN,
            )
        )
    )
    return _close_requests(session, open_ids, ApprovalStatus.VOIDED, now or utcnow())


def expire_requests(database: Database, *, now: datetime | None = None) -> int:
    """Mark open requests past their expiry ``expired``; returns how many."""
    now = now or utcnow()
    with database.session() as session:
        stale = list(
            session.scalars(
                select(ApprovalRequest.id).where(
                    ApprovalRequest.status == ApprovalStatus.OPEN,
                    ApprovalRequest.expires_at <= now,
                )
            )
        )
        expired = _close_requests(session, stale, ApprovalStatus.EXPIRED, now)
    if expired:
        log.info("%d approval request(s) expired", expired)
    return expired


# -- deciding --------------------------------------------------------------------


@dataclass(frozen=True)
class LinkToken:
    """An approval-link token presented by whoever followed the link."""

    token: str

    def __repr__(self) -> str:
        return "LinkToken(...)"


Decider = Actor | LinkToken


@dataclass(frozen=True)
class Decision:
    """What an approval or a rejection did."""

    request_id: int
    script_id: int
    status: ApprovalStatus
    decided_by: str
    next_launch_at: datetime | None = None


class _Refused(Exception):
    """A refusal whose bookkeeping (expiry, voiding) must still be committed."""

    def __init__(self, error: DeskError) -> None:
        super().__init__(str(error))
        self.error = error


_CLOSED_REASONS = {
    ApprovalStatus.APPROVED: "was approved already",
    ApprovalStatus.REJECTED: "was rejected already",
    ApprovalStatus.VOIDED: "was withdrawn (the script changed, was cancelled or "
    "a newer request replaced it)",
    ApprovalStatus.EXPIRED: "has expired",
}


def _token_problem(row: ApprovalToken, now: datetime) -> str:
    if row.used_at is not None:
        return "this approval link was used already"
    if row.voided_at is not None:
        return "this approval link was withdrawn"
    if row.expires_at <= now:
        return "this approval link has expired"
    return ""


def _resolve_decider(
    session: Session, who: Decider, request: ApprovalRequest, now: datetime
) -> tuple[User, ApprovalToken | None, str]:
    """The deciding user, the token they decide with, and the origin."""
    if isinstance(who, LinkToken):
        row = session.scalar(
            select(ApprovalToken).where(
                ApprovalToken.token_hash == hash_token(who.token)
            )
        )
        if row is None:
            raise PermissionDenied("this approval link is not valid")
        if row.request_id != request.id:
            raise PermissionDenied("this approval link belongs to another request")
        user = session.get(User, row.approver_id)
        if user is None:
            raise PermissionDenied("this approval link is not valid")
        return user, row, "link"

    user = session.get(User, who.user_id)
    if user is None:
        raise NotFound(f"user {who.name} does not exist")
    row = session.scalar(
        select(ApprovalToken)
        .where(
            ApprovalToken.request_id == request.id,
            ApprovalToken.approver_id == user.id,
        )
        .order_by(ApprovalToken.used_at.is_not(None), ApprovalToken.id)
        .limit(1)
    )
    return user, row, who.origin


def _check_decider(
    session: Session,
    user: User,
    row: ApprovalToken | None,
    request: ApprovalRequest,
    script: Script,
    origin: str,
) -> None:
    """The four-eyes rule and the approver's standing, checked at decision time."""
    if user.id in writers_of(session, script):
        raise PermissionDenied(
            f"{user.os_user} wrote script {script.id} and cannot decide on it"
        )
    if user.id == request.requested_by_id:
        raise PermissionDenied(
            f"{user.os_user} asked for this approval and cannot decide on it"
        )
    if not user.active or not _can_approve(user):
        raise PermissionDenied(f"{user.os_user} does not have the approver role")
    if row is None:
        raise PermissionDenied(
            f"{user.os_user} is not one of the approvers of request {request.id}"
        )
    if row.used_at is not None:
        raise PermissionDenied(
            "this approval link was used already"
            if origin == "link"
            else f"{user.os_user} decided on request {request.id} already"
        )


def _decide(
    database: Database,
    who: Decider,
    request_id: int,
    *,
    approving: bool,
    reason: str,
    now: datetime,
) -> Decision:
    refusal: DeskError | None = None
    decision: Decision | None = None
    with database.session() as session:
        try:
            decision = _decide_in(
                session, who, request_id, approving=approving, reason=reason, now=now
            )
        except _Refused as refused:
            refusal = refused.error
    if refusal is not None:
        raise refusal
    assert decision is not None
    log.info(
        "approval request %s %s by %s",
        decision.request_id,
        decision.status,
        decision.decided_by,
    )
    return decision


def _decide_in(
    session: Session,
    who: Decider,
    request_id: int,
    *,
    approving: bool,
    reason: str,
    now: datetime,
) -> Decision:
    request = session.scalar(
        select(ApprovalRequest)
        .where(ApprovalRequest.id == request_id)
        .with_for_update()
    )
    if request is None:
        raise NotFound(f"approval request {request_id} does not exist")
    user, row, origin = _resolve_decider(session, who, request, now)
    script = _load_script(session, request.script_id)
    _check_decider(session, user, row, request, script, origin)
    assert row is not None

    next_launch_at: datetime | None = None
    if request.status != ApprovalStatus.OPEN:
        raise InvalidInput(
            f"request {request.id} {_CLOSED_REASONS.get(request.status, 'is closed')}"
        )
    if request.expires_at <= now:
        _close_requests(session, [request.id], ApprovalStatus.EXPIRED, now)
        raise _Refused(InvalidInput(f"request {request.id} has expired"))
    problem = _token_problem(row, now)
    if problem:
        raise PermissionDenied(problem)

    actor = actor_for(user, origin)
    values: dict[str, object] = {}
    if approving:
        current = script_content_hash(session, script)
        if current != request.content_hash or script.revision != request.revision:
            _close_requests(session, [request.id], ApprovalStatus.VOIDED, now)
            audit.record(
                session,
                actor,
                "approval.refused",
                subject_type="script",
                subject_id=script.id,
                detail=f"request {request.id}: the script changed since the request",
            )
            raise _Refused(
                InvalidInput(
                    f"script {script.id} changed since its approval was requested; "
                    "the request is void and must be made again"
                )
            )
        next_launch_at = first_launch(
            script.launch_at, script.recurrence, script.time_zone, now=now
        )
        values = {
            "approved_hash": current,
            "approved_revision": script.revision,
            "next_launch_at": next_launch_at,
        }
        lifecycle.transition_script(
            session,
            script.id,
            ScriptStatus.SCHEDULED,
            expected=ScriptStatus.UNAUTHORIZED,
            values=values,
        )

    status = ApprovalStatus.APPROVED if approving else ApprovalStatus.REJECTED
    decided = session.execute(
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id == request.id,
            ApprovalRequest.status == ApprovalStatus.OPEN,
        )
        .values(status=status, decided_by_id=user.id, decided_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    used = session.execute(
        update(ApprovalToken)
        .where(
            ApprovalToken.id == row.id,
            ApprovalToken.used_at.is_(None),
            ApprovalToken.voided_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1 or used.rowcount != 1:  # type: ignore[attr-defined]
        # Another approver or another click won the race; roll everything back.
        raise InvalidInput(f"request {request.id} was decided already")
    _close_requests(session, [request.id], status, now)
    audit.record(
        session,
        actor,
        "approval.approved" if approving else "approval.rejected",
        subject_type="script",
        subject_id=script.id,
        detail=f"request {request.id}" + (f"; reason: {reason}" if reason else ""),
    )
    return Decision(
        request_id=request.id,
        script_id=script.id,
        status=status,
        decided_by=user.os_user,
        next_launch_at=next_launch_at,
    )


def approve(
    database: Database,
    who: Decider,
    request_id: int,
    *,
    now: datetime | None = None,
) -> Decision:
    """Approve a request as an actor at the desk or through a link token.

    The script moves from ``unauthorized`` to ``scheduled``. Refused for anyone
    who wrote the script or asked for the approval, for a used, expired or
    withdrawn token, and when what will run changed since the request (the
    request is then void).
    """
    return _decide(
        database, who, request_id, approving=True, reason="", now=now or utcnow()
    )


def reject(
    database: Database,
    who: Decider,
    request_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Decision:
    """Reject a request with a reason; the script stays ``unauthorized``."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("a rejection needs a reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return _decide(
        database, who, request_id, approving=False, reason=reason, now=now or utcnow()
    )


# -- links -----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkCheck:
    """What a presented link token is good for."""

    request_id: int | None
    approver: Actor | None
    csrf_nonce: str
    problem: str
    """Empty when the link may be used; otherwise why not, fit to show."""
    time_zone: str = "UTC"
    """The approver's time zone."""

    @property
    def usable(self) -> bool:
        """Whether the link may still approve or reject."""
        return not self.problem


def check_link(
    database: Database, token: str, *, now: datetime | None = None
) -> LinkCheck:
    """Look a link token up; a problem says why it cannot be used, nothing more."""
    now = now or utcnow()
    with database.reading() as session:
        row = session.scalar(
            select(ApprovalToken).where(ApprovalToken.token_hash == hash_token(token))
        )
        if row is None:
            return LinkCheck(None, None, "", "This approval link is not valid.")
        request = session.get(ApprovalRequest, row.request_id)
        user = session.get(User, row.approver_id)
        assert request is not None and user is not None
        approver = actor_for(user, "link")
        problem = _token_problem(row, now)
        if not problem and request.status != ApprovalStatus.OPEN:
            problem = f"this approval request {_CLOSED_REASONS[request.status]}"
        if not problem and request.expires_at <= now:
            problem = "this approval link has expired"
        zone = user.time_zone or "UTC"
    text = f"{problem[0].upper()}{problem[1:]}." if problem else ""
    return LinkCheck(request.id, approver, row.csrf_nonce, text, zone)


def csrf_matches(check: LinkCheck, presented: str) -> bool:
    """Whether a form's anti-forgery value is the link's own, in constant time."""
    return bool(check.csrf_nonce) and secrets.compare_digest(
        check.csrf_nonce.encode(), presented.encode()
    )


# -- queues and review -----------------------------------------------------------


@dataclass(frozen=True)
class PendingApproval:
    """One request waiting for the approver's decision."""

    request_id: int
    script_id: int
    description: str
    author: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    launch_at: datetime | None
    targets: int
    launch_local: str = ""
    """The launch time in the approver's zone."""
    expires_local: str = ""
    """The expiry in the approver's zone."""


def pending_for(
    database: Database, actor: Actor, *, now: datetime | None = None
) -> list[PendingApproval]:
    """The open requests that wait for this person, oldest first."""
    now = now or utcnow()
    with database.reading() as session:
        rows = session.scalars(
            select(ApprovalRequest)
            .join(ApprovalToken, ApprovalToken.request_id == ApprovalRequest.id)
            .join(Script, Script.id == ApprovalRequest.script_id)
            .where(
                ApprovalToken.approver_id == actor.user_id,
                Script.author_id != actor.user_id,
                ApprovalRequest.requested_by_id != actor.user_id,
                ApprovalToken.used_at.is_(None),
                ApprovalToken.voided_at.is_(None),
                ApprovalRequest.status == ApprovalStatus.OPEN,
                ApprovalRequest.expires_at > now,
            )
            .options(
                selectinload(ApprovalRequest.script).selectinload(Script.targets),
                selectinload(ApprovalRequest.script).selectinload(Script.author),
            )
            .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
        ).all()
        requesters = _user_names(session, {r.requested_by_id for r in rows})
        zone = _zone_of(session, actor.user_id)
        return [
            PendingApproval(
                request_id=r.id,
                script_id=r.script_id,
                description=r.script.description,
                author=r.script.author.os_user,
                requested_by=requesters.get(r.requested_by_id, "?"),
                requested_at=r.created_at,
                expires_at=r.expires_at,
                launch_at=r.script.launch_at,
                targets=len(r.script.targets),
                launch_local=format_in_zone(r.script.launch_at, zone),
                expires_local=format_in_zone(r.expires_at, zone),
            )
            for r in rows
        ]


def _zone_of(session: Session, user_id: int) -> str:
    zone = session.scalar(select(User.time_zone).where(User.id == user_id))
    return zone or "UTC"


def open_request_for(database: Database, script_id: int) -> int:
    """The id of the script's open approval request."""
    with database.reading() as session:
        request_id = session.scalar(
            select(ApprovalRequest.id)
            .where(
                ApprovalRequest.script_id == script_id,
                ApprovalRequest.status == ApprovalStatus.OPEN,
            )
            .order_by(ApprovalRequest.id.desc())
        )
        if request_id is None:
            if session.get(Script, script_id) is None:
                raise NotFound(f"script {script_id} does not exist")
            raise NotFound(
                f"script {script_id} has no open approval request; "
                f"ask for one with 'sdx script request-auth {script_id}'"
            )
        return request_id


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.os_user).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


@dataclass(frozen=True)
class RenderedBlock:
    """One rendered text and the sites that run exactly it."""

    sites: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class TestOutcome:
    """One site's result in the latest test run."""

    site: str
    status: str
    error: str
    output: str


@dataclass(frozen=True)
class TestSummary:
    """The latest Run Test of the script."""

    run_id: int
    status: str
    revision: int
    created_at: datetime
    outcomes: tuple[TestOutcome, ...]


@dataclass(frozen=True)
class Review:
    """Everything an approver sees before deciding."""

    request_id: int
    script_id: int
    request_status: ApprovalStatus
    description: str
    author: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    targets: tuple[str, ...]
    test_site: str
    launch_at: datetime | None
    launch_local: str
    time_zone: str
    recurrence: str
    make_backup: bool
    revision: int
    rendered: tuple[RenderedBlock, ...]
    findings: tuple[ReviewFinding, ...]
    test: TestSummary | None
    approved_revision: int | None
    diff: tuple[str, ...]
    """A unified diff against the last approved version; empty when none."""
    unchanged: bool
    """Whether what will run is still what the request was made for."""


def _latest_test(session: Session, script_id: int) -> TestSummary | None:
    run = session.scalar(
        select(Run)
        .where(Run.script_id == script_id, Run.kind == RunKind.TEST)
        .order_by(Run.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    outcomes = session.execute(
        select(Site.name, Outcome.status, Outcome.error, Outcome.output)
        .join(Site, Site.id == Outcome.site_id)
        .where(Outcome.run_id == run.id)
        .order_by(Site.name)
    ).all()
    return TestSummary(
        run_id=run.id,
        status=run.status.value,
        revision=run.revision,
        created_at=run.created_at,
        outcomes=tuple(
            TestOutcome(name, status.value, error, output[-2000:])
            for name, status, error, output in outcomes
        ),
    )


def _approved_diff(session: Session, script: Script) -> tuple[str, ...]:
    if script.approved_revision is None:
        return ()
    old = session.scalar(
        select(ScriptVersion.content)
        .where(
            ScriptVersion.script_id == script.id,
            ScriptVersion.revision <= script.approved_revision,
        )
        .order_by(ScriptVersion.revision.desc())
        .limit(1)
    )
    if old is None:
        return ()
    return tuple(
        difflib.unified_diff(
            old.splitlines(),
            script.content.splitlines(),
            f"revision {script.approved_revision} (approved)",
            f"revision {script.revision}",
            lineterm="",
        )
    )


def review(
    database: Database,
    request_id: int,
    *,
    viewer: Actor | None = None,
    record_view: bool = True,
) -> Review:
    """The review of a request; a viewer sees times in their zone and, unless
    ``record_view`` is false, the view is audited."""
    with database.session() as session:
        request = session.get(ApprovalRequest, request_id)
        if request is None:
            raise NotFound(f"approval request {request_id} does not exist")
        script = _load_script(session, request.script_id)
        zone = _zone_of(session, viewer.user_id) if viewer is not None else "UTC"

        rendered = rendered_per_site(session, script)
        names = {site.id: site.name for site in script.targets}
        blocks: dict[str, list[str]] = {}
        for site_id, text in rendered.items():
            blocks.setdefault(text, []).append(names[site_id])
        requester = _user_names(session, {request.requested_by_id})
        result = Review(
            request_id=request.id,
            script_id=script.id,
            request_status=request.status,
            description=script.description,
            author=script.author.os_user,
            requested_by=requester.get(request.requested_by_id, "?"),
            requested_at=request.created_at,
            expires_at=request.expires_at,
            targets=tuple(site.name for site in script.targets),
            test_site=script.test_site.name if script.test_site else "",
            launch_at=script.launch_at,
            launch_local=format_in_zone(script.launch_at, zone),
            time_zone=zone,
            recurrence=script.recurrence,
            make_backup=script.make_backup,
            revision=script.revision,
            rendered=tuple(
                RenderedBlock(tuple(sorted(sites)), text)
                for text, sites in blocks.items()
            ),
            findings=tuple(lint_rendered(script, rendered)),
            test=_latest_test(session, script.id),
            approved_revision=script.approved_revision,
            diff=_approved_diff(session, script),
            unchanged=content_hash(script, rendered) == request.content_hash,
        )
        if viewer is not None and record_view:
            audit.record(
                session,
                viewer,
                "approval.viewed",
                subject_type="script",
                subject_id=script.id,
                detail=f"request {request.id}",
            )
    return result


def record_notification(session: Session, message: OutboxMessage, outcome: str) -> None:
    """Audit one attempt to deliver an approval link (by the system)."""
    script_id = session.scalar(
        select(ApprovalRequest.script_id)
        .join(ApprovalToken, ApprovalToken.request_id == ApprovalRequest.id)
        .where(ApprovalToken.id == message.approval_token_id)
    )
    audit.record(
        session,
        None,
        "approval.notified",
        subject_type="script",
        subject_id=script_id,
        detail=f"{message.channel} to {message.recipient}, message {message.id}: "
        f"{messages.scrub_links(outcome)}",
        origin="system",
    )

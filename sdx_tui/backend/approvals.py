"""Approval requests and their tokens (the four-eyes rule)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import ApprovalRequest, ApprovalStatus, ApprovalToken


def void_open_requests(session: Session, script_id: int) -> int:
    """Void every open request of a script and its tokens; returns how many."""
    now = utcnow()
    open_ids = list(
        session.scalars(
            select(ApprovalRequest.id).where(
                ApprovalRequest.script_id == script_id,
                ApprovalRequest.status == ApprovalStatus.OPEN,
            )
        )
    )
    if not open_ids:
        return 0
    session.execute(
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id.in_(open_ids),
            ApprovalRequest.status == ApprovalStatus.OPEN,
        )
        .values(status=ApprovalStatus.VOIDED, decided_at=now)
    )
    session.execute(
        update(ApprovalToken)
        .where(
            ApprovalToken.request_id.in_(open_ids),
            ApprovalToken.used_at.is_(None),
            ApprovalToken.voided_at.is_(None),
        )
        .values(voided_at=now)
    )
    return len(open_ids)

"""The audit trail: one event for every act of a person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from sdx_tui.backend.models import AuditEvent

if TYPE_CHECKING:
    from sdx_tui.backend.identity import Actor


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    subject_type: str = "",
    subject_id: int | None = None,
    detail: str = "",
    origin: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session's unit of work."""
    event = AuditEvent(
        actor_id=actor.user_id if actor else None,
        origin=origin or (actor.origin if actor else "system"),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    session.add(event)
    return event


def events_for(
    session: Session, subject_type: str, subject_id: int
) -> Sequence[AuditEvent]:
    """Every event about one subject, oldest first."""
    return session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == subject_type,
            AuditEvent.subject_id == subject_id,
        )
        .order_by(AuditEvent.id)
    ).all()

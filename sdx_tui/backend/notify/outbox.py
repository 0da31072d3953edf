"""The notification outbox: messages are written in the sender's transaction and
sent later by a background worker, so a failure never loses one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import OutboxMessage


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    subject: str = "",
    body: str = "",
    html: str = "",
    approval_token_id: int | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Queue one message (``channel`` is ``email`` or ``whatsapp``), due at ``now``."""
    if channel not in ("email", "whatsapp"):
        raise ValueError(f"unknown channel {channel!r}")
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        html=html,
        approval_token_id=approval_token_id,
        next_attempt_at=now or utcnow(),
        created_at=now or utcnow(),
    )
    session.add(message)
    return message

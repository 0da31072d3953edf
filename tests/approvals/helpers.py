"""Reading the links out of the outbox, as an approver's inbox would."""

from __future__ import annotations

import re

from sqlalchemy import select

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import OutboxMessage, OutboxStatus

LINK = re.compile(r"https?://[^\s\"<>]+/approve/([A-Za-z0-9_-]{20,})")


def token_in(text: str) -> str:
    """The token of the approval link in a text."""
    match = LINK.search(text)
    assert match, f"no approval link in {text!r}"
    return match.group(1)


def pending_links(database: Database) -> dict[tuple[str, str], str]:
    """Tokens of unsent messages, by (channel, recipient)."""
    with database.reading() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        ).all()
    return {(row.channel, row.recipient): token_in(row.body) for row in rows}


def arthur_token(database: Database) -> str:
    """The token of arthur's e-mailed link."""
    return pending_links(database)[("email", "arthur@example.test")]

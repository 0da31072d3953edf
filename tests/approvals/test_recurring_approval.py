"""Approving a recurring script after its first launch time has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sdx_tui.backend import approvals
from sdx_tui.backend.scripts import ScriptChanges, edit_script, get_script
from sdx_tui.config import Settings
from tests.approvals.conftest import make_script
from tests.conftest import Desk


def test_a_late_approval_starts_at_the_next_occurrence(
    sqlite_desk: Desk, settings: Settings
) -> None:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    script = make_script(sqlite_desk, launch_at=now - timedelta(days=1))
    edit_script(
        sqlite_desk.db,
        sqlite_desk.operator,
        script.id,
        ScriptChanges(recurrence="0 2 * * *"),
    )
    request = approvals.request_authorization(
        sqlite_desk.db, sqlite_desk.operator, script.id, settings=settings, now=now
    )
    decision = approvals.approve(
        sqlite_desk.db, sqlite_desk.approver, request.request_id, now=now
    )

    # 02:00 Europe/Berlin on the next day, not yesterday's missed launch time.
    expected = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert decision.next_launch_at == expected
    assert get_script(sqlite_desk.db, script.id).next_launch_at == expected

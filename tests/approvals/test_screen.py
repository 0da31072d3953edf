"""The Approvals section of the desk: pictures and pilot stories."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from textual.pilot import Pilot
from textual.widgets import Input

from sdx_tui.app import DeskApp, create_app
from sdx_tui.backend import approvals
from sdx_tui.backend.models import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    Script,
    ScriptStatus,
    User,
)
from sdx_tui.backend.scripts import ScriptChanges, edit_script
from sdx_tui.config import Settings, load_settings
from sdx_tui.screens.approvals import ApprovalsScreen, RejectScreen
from sdx_tui.screens.confirm import ConfirmScreen
from tests.approvals.conftest import NOW, make_script
from tests.conftest import Desk

SIZE = (130, 40)


@pytest.fixture
def queue(sqlite_desk: Desk, tmp_path: Path) -> Desk:
    """Two requests waiting for arthur (in Berlin), the first one approved once
    before and edited since."""
    desk = sqlite_desk
    with desk.db.session() as session:
        session.execute(
            update(User)
            .where(User.id == desk.approver.user_id)
            .values(time_zone="Europe/Berlin")
        )
    dns = make_script(desk, content="/ip dns set servers=1.1.1.1\n")
    with desk.db.session() as session:
        session.execute(
            update(Script).where(Script.id == dns.id).values(approved_revision=1)
        )
    edit_script(
        desk.db,
        desk.operator,
        dns.id,
        ScriptChanges(content="/ip dns set servers=9.9.9.9\n/system reboot\n"),
    )
    ntp = make_script(
        desk, targets=("oslo",), content="/system ntp client set enabled=yes\n"
    )
    settings = _settings(tmp_path)
    for script in (dns, ntp):
        approvals.request_authorization(
            desk.db, desk.operator, script.id, settings=settings, now=NOW
        )
    return desk


def _settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def _app(desk: Desk, tmp_path: Path) -> DeskApp:
    return create_app(
        _settings(tmp_path),
        database=desk.db,
        actor=desk.approver,
        clock=lambda: NOW,
        os_user="arthur",
    )


async def _wait(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def _screen(pilot: Pilot[Any]) -> ApprovalsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ApprovalsScreen)
    return screen


async def _open_approvals(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.press("f4")
    await _wait(pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), "F4")
    await _wait(
        pilot,
        lambda: _screen(pilot)._reviewed is not None,
        "the review of the first request",
    )
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_approval_queue_and_review(
    snap_compare: Any, queue: Desk, tmp_path: Path
) -> None:
    """arthur opens Approvals (F4): the Approvals tab is highlighted, the queue
    lists scripts 1 and 2 with launch and expiry in Berlin time (CET), and the
    review of script 1 shows its facts, the reboot warning RSC102, "No test run
    yet", the highlighted script and the diff against revision 1. The footer
    offers Approve and Reject."""
    assert snap_compare(
        _app(queue, tmp_path), terminal_size=SIZE, run_before=_open_approvals
    )


def test_reject_reason_dialog(snap_compare: Any, queue: Desk, tmp_path: Path) -> None:
    """Pressing r opens the reject dialog over the review, titled "Reject script
    1", with an empty reason field and Cancel / Reject buttons."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_approvals(pilot)
        await pilot.press("r")
        await _wait(pilot, lambda: isinstance(pilot.app.screen, RejectScreen), "dialog")
        await pilot.pause()

    assert snap_compare(
        _app(queue, tmp_path), terminal_size=SIZE, run_before=run_before
    )


def test_empty_queue(snap_compare: Any, sqlite_desk: Desk, tmp_path: Path) -> None:
    """With nothing to decide, the section says so and offers no decision keys."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f4")
        await _wait(pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), "F4")
        await _wait(
            pilot,
            lambda: not _screen(pilot).query_one("#approvals-table").loading,
            "the queue",
        )
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(
        _app(sqlite_desk, tmp_path), terminal_size=SIZE, run_before=run_before
    )


def _request_status(desk: Desk, script_id: int) -> ApprovalStatus:
    with desk.db.reading() as session:
        return (
            session.scalars(
                select(ApprovalRequest.status)
                .where(ApprovalRequest.script_id == script_id)
                .order_by(ApprovalRequest.id.desc())
            ).first()
            or ApprovalStatus.OPEN
        )


async def test_approve_from_the_screen(queue: Desk, tmp_path: Path) -> None:
    app = _app(queue, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _open_approvals(pilot)
        await pilot.press("a")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await _wait(
            pilot,
            lambda: (
                isinstance(app.screen, ApprovalsScreen)
                and list(_screen(pilot)._items) == ["2"]
            ),
            "the queue without script 1",
        )
    with queue.db.reading() as session:
        script = session.get(Script, 1)
        views = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "approval.viewed")
        ).all()
    assert script is not None and script.status == ScriptStatus.SCHEDULED
    assert {event.origin for event in views} == {"tui"}


async def test_reject_from_the_screen_needs_a_reason(
    queue: Desk, tmp_path: Path
) -> None:
    app = _app(queue, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _open_approvals(pilot)
        await pilot.press("r")
        await _wait(pilot, lambda: isinstance(app.screen, RejectScreen), "dialog")
        await pilot.press("enter")
        error = app.screen.query_one("#reject-error")
        await _wait(pilot, lambda: "reason" in str(error.render()), "the error")
        assert isinstance(app.screen, RejectScreen)
        app.screen.query_one(
            "#reject-reason", Input
        ).value = "use the resolver of the site"
        await pilot.press("enter")
        await _wait(
            pilot,
            lambda: (
                isinstance(app.screen, ApprovalsScreen)
                and list(_screen(pilot)._items) == ["2"]
            ),
            "the queue without script 1",
        )
    assert _request_status(queue, 1) == ApprovalStatus.REJECTED
    with queue.db.reading() as session:
        request = session.get(ApprovalRequest, 1)
    assert request is not None and request.reason == "use the resolver of the site"


async def test_escape_closes_the_dialogs_without_deciding(
    queue: Desk, tmp_path: Path
) -> None:
    app = _app(queue, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _open_approvals(pilot)
        await pilot.press("r")
        await _wait(pilot, lambda: isinstance(app.screen, RejectScreen), "dialog")
        await pilot.press("escape")
        await pilot.press("a")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("escape")
        await _wait(pilot, lambda: isinstance(app.screen, ApprovalsScreen), "back")
    assert _request_status(queue, 1) == ApprovalStatus.OPEN


async def test_the_author_sees_nothing_to_approve(queue: Desk, tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path),
        database=queue.db,
        actor=queue.operator,
        clock=lambda: NOW,
        os_user="olivia",
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await _wait(pilot, lambda: isinstance(app.screen, ApprovalsScreen), "F4")
        await _wait(
            pilot,
            lambda: not _screen(pilot).query_one("#approvals-table").loading,
            "the queue",
        )
        assert _screen(pilot)._items == {}
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ApprovalsScreen)
    assert _request_status(queue, 1) == ApprovalStatus.OPEN

"""`sdx script request-auth|approve|reject` and `sdx approval list` at a shell."""

from __future__ import annotations

import threading

import pytest

from sdx_tui.backend import approvals
from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.identity import Actor
from sdx_tui.backend.models import Script, ScriptStatus
from sdx_tui.cli import main
from sdx_tui.config import Settings
from tests.approvals.conftest import NOW
from tests.conftest import Desk


def _as(monkeypatch: pytest.MonkeyPatch, desk: Desk, user: str) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: user)
    monkeypatch.setenv("SDX_DATABASE_URL", desk.db.url)


def _status(desk: Desk, script_id: int) -> ScriptStatus:
    with desk.db.reading() as session:
        script = session.get(Script, script_id)
        assert script is not None
        return script.status


def test_request_list_and_approve_from_a_shell(
    sqlite_desk: Desk,
    sqlite_script: Script,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    desk, script_id = sqlite_desk, sqlite_script.id
    _as(monkeypatch, desk, "olivia")
    assert main(["script", "request-auth", str(script_id)]) == 0
    assert "sent to admin, arthur" in capsys.readouterr().out

    _as(monkeypatch, desk, "arthur")
    assert main(["approval", "list"]) == 0
    assert "Switch DNS to Quad9" in capsys.readouterr().out
    assert main(["script", "approve", str(script_id)]) == 0
    assert "approved; launches at 2026-12-24T01:00:00+00:00" in capsys.readouterr().out
    assert _status(desk, script_id) == ScriptStatus.SCHEDULED
    assert main(["script", "approve", str(script_id)]) == 2
    assert "no open approval request" in capsys.readouterr().err


def test_reject_from_a_shell_needs_a_reason(
    sqlite_desk: Desk,
    sqlite_script: Script,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    desk, script_id = sqlite_desk, sqlite_script.id
    _as(monkeypatch, desk, "olivia")
    assert main(["script", "request-auth", str(script_id)]) == 0
    _as(monkeypatch, desk, "arthur")
    with pytest.raises(SystemExit):
        main(["script", "reject", str(script_id)])
    assert main(["script", "reject", str(script_id), "--reason", " "]) == 2
    assert main(["script", "reject", str(script_id), "--reason", "not now"]) == 0
    assert "rejected" in capsys.readouterr().out
    assert _status(desk, script_id) == ScriptStatus.UNAUTHORIZED


def test_two_approvers_at_once_make_one_decision(
    desk: Desk, script: Script, settings: Settings
) -> None:
    request_id = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=settings, now=NOW
    ).request_id
    start = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(approver: Actor) -> None:
        start.wait(timeout=30)
        try:
            approvals.approve(desk.db, approver, request_id, now=NOW)
            result = "approved"
        except DeskError as error:
            result = f"refused: {error}"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=decide, args=(who,))
        for who in (desk.admin, desk.approver)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"]
    assert _status(desk, script.id) == ScriptStatus.SCHEDULED

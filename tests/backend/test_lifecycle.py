"""The state machines: legal edges, clear errors, and one winner per race."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from sdx_tui.backend import lifecycle
from sdx_tui.backend.errors import IllegalTransition, NotFound
from sdx_tui.backend.lifecycle import transition_script
from sdx_tui.backend.models import OutcomeStatus, Script, ScriptStatus
from sdx_tui.backend.scripts import create_script
from tests.conftest import Desk

REPO_ROOT = Path(__file__).resolve().parents[2]


def _new_script(desk: Desk) -> int:
    return create_script(
        desk.db, desk.operator, description="Rotate SNMP community", content=":put 1"
    ).id


def _status(desk: Desk, script_id: int) -> ScriptStatus:
    with desk.db.reading() as session:
        status = session.scalar(select(Script.status).where(Script.id == script_id))
    assert status is not None
    return status


def test_every_final_state_is_a_dead_end() -> None:
    for state in (ScriptStatus.COMPLETED, ScriptStatus.FAILED, ScriptStatus.CANCELLED):
        assert not lifecycle.SCRIPT_TRANSITIONS[state]
    for outcome in lifecycle.FINAL_OUTCOMES:
        assert not lifecycle.OUTCOME_TRANSITIONS[outcome]
    assert OutcomeStatus.PENDING in lifecycle.OPEN_OUTCOMES


def test_a_legal_transition_moves_the_script(desk: Desk) -> None:
    script_id = _new_script(desk)
    with desk.db.session() as session:
        left = transition_script(session, script_id, ScriptStatus.SCHEDULED)
    assert left == ScriptStatus.UNAUTHORIZED
    assert _status(desk, script_id) == ScriptStatus.SCHEDULED


def test_an_illegal_transition_names_both_states(desk: Desk) -> None:
    script_id = _new_script(desk)
    with pytest.raises(IllegalTransition) as caught, desk.db.session() as session:
        transition_script(session, script_id, ScriptStatus.COMPLETED)
    assert "unauthorized" in str(caught.value)
    assert "completed" in str(caught.value)
    assert _status(desk, script_id) == ScriptStatus.UNAUTHORIZED


def test_an_unknown_script_is_not_found(desk: Desk) -> None:
    with pytest.raises(NotFound), desk.db.session() as session:
        transition_script(session, 999_999, ScriptStatus.SCHEDULED)


def test_an_expected_state_that_does_not_hold_is_refused(desk: Desk) -> None:
    script_id = _new_script(desk)
    with pytest.raises(IllegalTransition), desk.db.session() as session:
        transition_script(
            session,
            script_id,
            ScriptStatus.LAUNCHED,
            expected=ScriptStatus.SCHEDULED,
        )


def _race_in_threads(desk: Desk, script_id: int) -> list[str]:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            with desk.db.session() as session:
                transition_script(session, script_id, ScriptStatus.SCHEDULED)
            results.append("won")
        except IllegalTransition:
            results.append("lost")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)


def test_two_threads_racing_on_one_transition_have_one_winner(desk: Desk) -> None:
    for _ in range(5):
        script_id = _new_script(desk)
        assert _race_in_threads(desk, script_id) == ["lost", "won"]
        assert _status(desk, script_id) == ScriptStatus.SCHEDULED


@pytest.mark.slow
def test_two_processes_racing_on_one_transition_have_one_winner(desk: Desk) -> None:
    script_id = _new_script(desk)
    command = [
        sys.executable,
        "-m",
        "tests.backend.race_worker",
        desk.db.url,
        str(script_id),
        ScriptStatus.SCHEDULED.value,
    ]
    workers = [
        subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(worker.communicate(timeout=120)[0].strip() for worker in workers)
    assert [worker.returncode for worker in workers] == [0, 0]
    assert outputs == ["lost", "won"]
    assert _status(desk, script_id) == ScriptStatus.SCHEDULED

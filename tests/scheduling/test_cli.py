"""`sdx script launch|test|retry` and `sdx run list|show|cancel`, in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.identity import Actor, current_actor, ensure_initialised
from sdx_tui.backend.models import Outcome, OutcomeStatus, ScriptStatus
from sdx_tui.backend.runs import rollup_run
from sdx_tui.backend.scripts import create_script
from sdx_tui.cli import main
from sdx_tui.config import load_settings
from tests.scheduling.support import add_sites, scheduled_script, script_status

Sdx = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sdx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Sdx:
    """Run `sdx` as the OS user "noc"; returns exit code, stdout and stderr."""
    monkeypatch.setenv("LOGNAME", "noc")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_desk(sdx: Sdx) -> Iterator[tuple[Database, Actor]]:
    """The database the commands use, initialised with "noc" as its admin."""
    database = Database.open(load_settings().effective_database_url)
    database.upgrade()
    ensure_initialised(database)
    try:
        yield database, current_actor(database, "cli")
    finally:
        database.dispose()


def _runs(sdx: Sdx, script_id: int) -> list[dict[str, Any]]:
    code, out, _ = sdx("run", "list", "--script", str(script_id), "--json")
    assert code == 0
    runs: list[dict[str, Any]] = json.loads(out)
    return runs


def _fail_all(database: Database, run_id: int) -> None:
    with database.session() as session:
        ids = list(session.scalars(select(Outcome.id).where(Outcome.run_id == run_id)))
        for outcome_id in ids:
            lifecycle.transition_outcome(session, outcome_id, OutcomeStatus.DELIVERED)
            lifecycle.transition_outcome(session, outcome_id, OutcomeStatus.FAILED)
        rollup_run(session, run_id)


def test_launch_then_list_show_and_cancel(
    sdx: Sdx, cli_desk: tuple[Database, Actor]
) -> None:
    database, noc = cli_desk
    sites = add_sites(database, noc, 3)
    script_id = scheduled_script(
        database, noc, targets=sites, launch_at=utcnow() + timedelta(days=1)
    )

    code, out, _ = sdx("script", "launch", str(script_id))
    assert code == 0
    assert f"script {script_id} launched" in out
    assert "to 3 site(s)" in out
    assert script_status(database, script_id) is ScriptStatus.LAUNCHED

    code, out, _ = sdx("run", "list", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [(r["script_id"], r["kind"], r["status"]) for r in listed] == [
        (script_id, "launch", "running")
    ]
    run_id = listed[0]["id"]
    assert listed[0]["counts"]["pending"] == 3
    assert set(listed[0]["counts"]) == {state.value for state in OutcomeStatus}
    assert listed[0]["started_by"] == "noc"

    code, out, _ = sdx("run", "list")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["ID", "SCRIPT", "DESCRIPTION"]
    assert "Rotate SNMP community" in out

    code, out, _ = sdx("run", "cancel", str(run_id))
    assert code == 0
    assert "3 outcome(s) cancelled; run is cancelled" in out

    code, out, _ = sdx("run", "show", str(run_id), "--json")
    shown = json.loads(out)
    assert shown["status"] == "cancelled"
    assert shown["counts"]["cancelled"] == 3
    assert shown["total"] == 3

    code, out, _ = sdx("run", "show", str(run_id))
    assert code == 0
    assert "status:      cancelled" in out


def test_test_and_retry(sdx: Sdx, cli_desk: tuple[Database, Actor]) -> None:
    database, noc = cli_desk
    sites = add_sites(database, noc, 2)
    script = create_script(
        database,
        noc,
        description="Check NTP",
        content="/system ntp client print",
        targets=sites,
        test_site=sites[0],
    )
    code, out, _ = sdx("script", "test", str(script.id))
    assert code == 0
    assert "test: run" in out

    script_id = scheduled_script(database, noc, targets=sites, launch_at=utcnow())
    assert sdx("script", "launch", str(script_id))[0] == 0
    run_id = _runs(sdx, script_id)[0]["id"]
    _fail_all(database, run_id)

    code, out, _ = sdx("script", "retry", str(run_id))
    assert code == 0
    assert f"run {run_id} retried" in out
    assert [(r["kind"], r["retry_of"], r["total"]) for r in _runs(sdx, script_id)] == [
        ("retry", run_id, 2),
        ("launch", None, 2),
    ]


def test_errors_are_one_line_with_the_right_exit_code(
    sdx: Sdx, cli_desk: tuple[Database, Actor]
) -> None:
    database, noc = cli_desk
    sites = add_sites(database, noc, 1)
    draft = create_script(
        database, noc, description="Draft", content=":put 1", targets=sites
    )

    code, _, err = sdx("script", "launch", str(draft.id))
    assert code == 2
    assert "unauthorized" in err
    assert len(err.strip().splitlines()) == 1

    code, _, err = sdx("run", "show", "424242")
    assert code == 2
    assert "run 424242 does not exist" in err

    code, _, err = sdx("run", "cancel", "424242")
    assert code == 2

    code, out, _ = sdx("run", "list")
    assert (code, out.strip()) == (0, "no runs")

"""Two backends launching the same due scripts at once launch each exactly once.

Real processes on one database (a PostgreSQL schema, or a SQLite file). Only the
database is asked what happened: the processes report nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import Outcome, Run, RunKind, RunStatus, ScriptStatus
from tests.conftest import Desk
from tests.scheduling.support import add_sites, scheduled_script, script_status

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
ROUNDS = 4


@pytest.mark.slow
def test_two_processes_launch_every_due_script_exactly_once(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 20)
    now = utcnow()
    on_time = [
        scheduled_script(
            desk.db,
            desk.operator,
            targets=sites[: 5 + n % 16],
            launch_at=now - timedelta(seconds=30 + n),
        )
        for n in range(30)
    ]
    recurring = [
        scheduled_script(
            desk.db,
            desk.operator,
            targets=sites,
            launch_at=now - timedelta(seconds=10),
            recurrence="0 * * * *",
        )
        for _ in range(5)
    ]
    missed = [
        scheduled_script(
            desk.db, desk.operator, targets=sites, launch_at=now - timedelta(hours=2)
        )
        for _ in range(5)
    ]

    command = [
        sys.executable,
        "-m",
        "tests.scheduling.launch_worker",
        desk.db.url,
        str(ROUNDS),
    ]
    workers = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            worker.communicate(timeout=120)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)
    assert [worker.returncode for worker in workers] == [0] * WORKERS

    with desk.db.reading() as session:
        runs = session.execute(
            select(Run.id, Run.script_id, Run.status).where(Run.kind == RunKind.LAUNCH)
        ).all()
        outcome_counts = dict(
            session.execute(
                select(Outcome.run_id, func.count(Outcome.id)).group_by(Outcome.run_id)
            ).all()
        )
        distinct_sites = dict(
            session.execute(
                select(
                    Outcome.run_id, func.count(func.distinct(Outcome.site_id))
                ).group_by(Outcome.run_id)
            ).all()
        )

    runs_per_script = Counter(script_id for _, script_id, _ in runs)
    everything = on_time + recurring + missed
    assert {s: runs_per_script[s] for s in everything} == dict.fromkeys(everything, 1)

    run_of = {script_id: (run_id, status) for run_id, script_id, status in runs}
    for n, script_id in enumerate(on_time):
        run_id, status = run_of[script_id]
        assert status is RunStatus.RUNNING
        assert outcome_counts[run_id] == distinct_sites[run_id] == 5 + n % 16
        assert script_status(desk.db, script_id) is ScriptStatus.LAUNCHED
    for script_id in recurring:
        run_id, status = run_of[script_id]
        assert outcome_counts[run_id] == distinct_sites[run_id] == len(sites)
    for script_id in missed:
        run_id, status = run_of[script_id]
        assert status is RunStatus.MISSED
        assert run_id not in outcome_counts
        assert script_status(desk.db, script_id) is ScriptStatus.FAILED

"""Bulk forms the launch path relies on: many runs at once, many scripts at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    ScriptStatus,
)
from sdx_tui.backend.runs import RunSpec, create_runs
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import get_site
from tests.conftest import Desk
from tests.scheduling.support import add_sites, script_status


def test_create_runs_makes_each_run_with_its_outcomes_and_log_entries(
    desk: Desk,
) -> None:
    names = add_sites(desk.db, desk.admin, 3)
    sites = [get_site(desk.db, name).id for name in names]
    scripts = [
        create_script(desk.db, desk.operator, description=f"s{n}", content=":put 1").id
        for n in range(2)
    ]
    occurrence = utcnow()
    before = utcnow()
    with desk.db.session() as session:
        run_ids = create_runs(
            session,
            [
                RunSpec(scripts[0], RunKind.LAUNCH, sites + sites[:1], occurrence, 1),
                RunSpec(scripts[1], RunKind.TEST, sites[1:2], occurrence, 2, "h" * 64),
                RunSpec(scripts[0], RunKind.RETRY, [], occurrence, 1, retry_of_id=None),
            ],
            deadline=timedelta(minutes=30),
        )

    with desk.db.reading() as session:
        runs = {run.id: run for run in session.scalars(select(Run))}
        outcomes = session.scalars(select(Outcome).order_by(Outcome.id)).all()
        logs = session.scalars(select(LogEntry).order_by(LogEntry.id)).all()
    assert [runs[i].script_id for i in run_ids] == [scripts[0], scripts[1], scripts[0]]
    assert [runs[i].kind for i in run_ids] == [
        RunKind.LAUNCH,
        RunKind.TEST,
        RunKind.RETRY,
    ]
    assert {runs[i].status for i in run_ids} == {RunStatus.RUNNING}
    assert runs[run_ids[1]].content_hash == "h" * 64
    assert runs[run_ids[1]].revision == 2

    per_run = {i: sorted(o.site_id for o in outcomes if o.run_id == i) for i in run_ids}
    assert per_run == {
        run_ids[0]: sorted(sites),
        run_ids[1]: [sites[1]],
        run_ids[2]: [],
    }
    assert {o.status for o in outcomes} == {OutcomeStatus.PENDING}
    assert len({o.delivery_id for o in outcomes}) == 4
    for outcome in outcomes:
        assert outcome.deadline - outcome.updated_at == timedelta(minutes=30)
        assert outcome.updated_at >= before
        assert outcome.updated_at.tzinfo is not None

    assert sorted((log.outcome_id, log.site_id) for log in logs) == sorted(
        (o.id, o.site_id) for o in outcomes
    )
    assert {log.event for log in logs} == {"created"}
    assert f"test run {run_ids[1]}" in {log.detail for log in logs}


def test_transition_scripts_moves_only_those_in_an_expected_state(desk: Desk) -> None:
    ids = [
        create_script(desk.db, desk.operator, description=f"s{n}", content=":put 1").id
        for n in range(3)
    ]
    with desk.db.session() as session:
        lifecycle.transition_script(session, ids[0], ScriptStatus.SCHEDULED)
        lifecycle.transition_script(session, ids[1], ScriptStatus.SCHEDULED)
    with desk.db.session() as session:
        first = lifecycle.transition_scripts(
            session, ids, ScriptStatus.LAUNCHED, expected=[ScriptStatus.SCHEDULED]
        )
    with desk.db.session() as session:
        second = lifecycle.transition_scripts(
            session, ids, ScriptStatus.LAUNCHED, expected=[ScriptStatus.SCHEDULED]
        )
    assert sorted(first) == ids[:2]
    assert second == []
    assert [script_status(desk.db, i) for i in ids] == [
        ScriptStatus.LAUNCHED,
        ScriptStatus.LAUNCHED,
        ScriptStatus.UNAUTHORIZED,
    ]

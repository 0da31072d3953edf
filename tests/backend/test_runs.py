"""Creating runs in bulk and rolling them up from their outcomes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    RunKind,
    RunStatus,
)
from sdx_tui.backend.runs import create_run, rollup_run, rollup_status
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import add_site
from tests.conftest import Desk


def test_a_run_gets_one_pending_outcome_and_log_entry_per_site(desk: Desk) -> None:
    sites = [add_site(desk.db, desk.admin, f"site-{n}")[0] for n in range(3)]
    script = create_script(desk.db, desk.operator, description="x", content=":put 1")
    with desk.db.session() as session:
        run_id = create_run(
            session,
            script_id=script.id,
            kind=RunKind.LAUNCH,
            site_ids=[site.id for site in sites] + [sites[0].id],
            occurrence_at=utcnow(),
            deadline=timedelta(hours=1),
        )
    with desk.db.reading() as session:
        outcomes = session.scalars(
            select(Outcome).where(Outcome.run_id == run_id)
        ).all()
        logs = session.scalar(select(func.count(LogEntry.id)))
    assert sorted(o.site_id for o in outcomes) == sorted(site.id for site in sites)
    assert {o.status for o in outcomes} == {OutcomeStatus.PENDING}
    assert len({o.delivery_id for o in outcomes}) == 3
    assert logs == 3


def test_rollup_waits_for_every_outcome() -> None:
    assert rollup_status(Counter({OutcomeStatus.COMPLETED: 2})) == RunStatus.COMPLETED
    assert (
        rollup_status(Counter({OutcomeStatus.COMPLETED: 1, OutcomeStatus.PENDING: 1}))
        == RunStatus.RUNNING
    )
    assert (
        rollup_status(Counter({OutcomeStatus.COMPLETED: 1, OutcomeStatus.TIMED_OUT: 1}))
        == RunStatus.FAILED
    )
    assert rollup_status(Counter({OutcomeStatus.CANCELLED: 2})) == RunStatus.CANCELLED


def test_rollup_run_settles_a_finished_run(desk: Desk) -> None:
    site, _ = add_site(desk.db, desk.admin, "solo")
    script = create_script(desk.db, desk.operator, description="x", content=":put 1")
    with desk.db.session() as session:
        run_id = create_run(
            session,
            script_id=script.id,
            kind=RunKind.TEST,
            site_ids=[site.id],
            occurrence_at=utcnow(),
            deadline=timedelta(hours=1),
        )
        assert rollup_run(session, run_id) == RunStatus.RUNNING
        outcome = session.scalar(select(Outcome).where(Outcome.run_id == run_id))
        assert outcome is not None
        outcome.status = OutcomeStatus.FAILED
        session.flush()
        assert rollup_run(session, run_id) == RunStatus.FAILED

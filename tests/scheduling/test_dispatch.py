"""Launch now, Run Test, Retry failed and Cancel: acts of people, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sdx_tui.backend import audit, lifecycle
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import InvalidInput, NotFound, PermissionDenied
from sdx_tui.backend.launch import (
    cancel_run,
    get_run,
    launch_due,
    launch_now,
    list_runs,
    retry_failed,
    run_test,
)
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    ScriptStatus,
)
from sdx_tui.backend.runs import rollup_run
from sdx_tui.backend.scripts import create_script
from sdx_tui.backend.sites import get_site, list_sites
from tests.conftest import Desk
from tests.scheduling.support import (
    add_sites,
    launch_runs,
    scheduled_script,
    script_status,
)


def _outcomes(desk: Desk, run_id: int) -> dict[str, OutcomeStatus]:
    with desk.db.reading() as session:
        rows = session.execute(
            select(Outcome.site_id, Outcome.status).where(Outcome.run_id == run_id)
        ).all()
    names = {site.id: site.name for site in list_sites(desk.db)}
    return {names[site_id]: status for site_id, status in rows}


def _finish(desk: Desk, run_id: int, results: dict[str, OutcomeStatus]) -> None:
    """Move outcomes as delivery would: delivered, then their result."""
    with desk.db.session() as session:
        for name, wanted in results.items():
            outcome_id = session.scalar(
                select(Outcome.id).where(
                    Outcome.run_id == run_id,
                    Outcome.site_id == get_site(desk.db, name).id,
                )
            )
            assert outcome_id is not None
            if wanted is OutcomeStatus.EXPIRED:
                lifecycle.transition_outcome(session, outcome_id, wanted)
                continue
            lifecycle.transition_outcome(session, outcome_id, OutcomeStatus.DELIVERED)
            if wanted is not OutcomeStatus.DELIVERED:
                lifecycle.transition_outcome(session, outcome_id, wanted)
        rollup_run(session, run_id)


def test_run_test_dispatches_to_the_test_site_alone_before_approval(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 3)
    script = create_script(
        desk.db,
        desk.operator,
        description="Try it first",
        content=":put 1",
        targets=sites,
        test_site=sites[1],
    )
    run_id = run_test(desk.db, desk.operator, script.id)

    run = get_run(desk.db, run_id)
    assert run.kind is RunKind.TEST
    assert run.started_by == "olivia"
    assert run.counts == {"pending": 1}
    assert _outcomes(desk, run_id) == {sites[1]: OutcomeStatus.PENDING}
    assert script_status(desk.db, script.id) is ScriptStatus.UNAUTHORIZED
    with desk.db.reading() as session:
        events = audit.events_for(session, "script", script.id)
    assert events[-1].action == "script.tested"
    assert events[-1].actor_id == desk.operator.user_id

    # A second test is a new run, listed with the script's history.
    second = run_test(desk.db, desk.operator, script.id)
    assert [r.id for r in list_runs(desk.db, script_id=script.id)] == [second, run_id]


def test_run_test_needs_a_test_site_and_a_script_not_yet_launched(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    no_test_site = create_script(
        desk.db, desk.operator, description="x", content=":put 1", targets=sites
    )
    with pytest.raises(InvalidInput, match="no test site"):
        run_test(desk.db, desk.operator, no_test_site.id)

    launched = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow(), test_site=sites[0]
    )
    launch_now(desk.db, desk.operator, launched)
    with pytest.raises(InvalidInput, match="launched"):
        run_test(desk.db, desk.operator, launched)
    with pytest.raises(PermissionDenied):
        run_test(desk.db, desk.approver, no_test_site.id)
    with pytest.raises(NotFound):
        run_test(desk.db, desk.operator, 999_999)


def test_launch_now_launches_a_scheduled_script_once(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 2)
    script_id = scheduled_script(
        desk.db,
        desk.operator,
        targets=sites,
        launch_at=utcnow() + timedelta(days=1),
    )
    run_id = launch_now(desk.db, desk.operator, script_id)

    assert get_run(desk.db, run_id).counts == {"pending": 2}
    assert script_status(desk.db, script_id) is ScriptStatus.LAUNCHED
    with pytest.raises(InvalidInput, match="launched"):
        launch_now(desk.db, desk.operator, script_id)
    # Its original time passes later without a second launch.
    assert launch_due(desk.db, now=utcnow() + timedelta(days=1, seconds=1)) == []
    with desk.db.reading() as session:
        events = audit.events_for(session, "script", script_id)
    assert (events[-1].action, events[-1].actor_id) == (
        "script.launched",
        desk.operator.user_id,
    )


def test_launch_now_refuses_a_script_not_approved(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    script = create_script(
        desk.db, desk.operator, description="x", content=":put 1", targets=sites
    )
    with pytest.raises(InvalidInput, match="unauthorized"):
        launch_now(desk.db, desk.operator, script.id)
    assert list_runs(desk.db) == []


def test_retry_goes_to_the_failed_timed_out_and_expired_sites_only(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 5)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow()
    )
    run_id = launch_now(desk.db, desk.operator, script_id)
    _finish(
        desk,
        run_id,
        {
            sites[0]: OutcomeStatus.COMPLETED,
            sites[1]: OutcomeStatus.FAILED,
            sites[2]: OutcomeStatus.TIMED_OUT,
            sites[3]: OutcomeStatus.EXPIRED,
            sites[4]: OutcomeStatus.COMPLETED,
        },
    )
    assert get_run(desk.db, run_id).status is RunStatus.FAILED

    retry_id = retry_failed(desk.db, desk.operator, run_id)

    retry = get_run(desk.db, retry_id)
    original = get_run(desk.db, run_id)
    assert retry.kind is RunKind.RETRY
    assert retry.retry_of_id == run_id
    assert (retry.content_hash, retry.revision) == (
        original.content_hash,
        original.revision,
    )
    assert _outcomes(desk, retry_id) == {
        sites[1]: OutcomeStatus.PENDING,
        sites[2]: OutcomeStatus.PENDING,
        sites[3]: OutcomeStatus.PENDING,
    }
    with desk.db.reading() as session:
        events = audit.events_for(session, "run", run_id)
    assert events[-1].action == "run.retried"


def test_retry_is_refused_while_running_for_tests_and_when_all_succeeded(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 2)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow(), test_site=sites[0]
    )
    test_id = run_test(desk.db, desk.operator, script_id)
    _finish(desk, test_id, {sites[0]: OutcomeStatus.FAILED})
    with pytest.raises(InvalidInput, match="test"):
        retry_failed(desk.db, desk.operator, test_id)

    run_id = launch_now(desk.db, desk.operator, script_id)
    with pytest.raises(InvalidInput, match="still running"):
        retry_failed(desk.db, desk.operator, run_id)

    _finish(desk, run_id, dict.fromkeys(sites, OutcomeStatus.COMPLETED))
    with pytest.raises(InvalidInput, match="no failed sites"):
        retry_failed(desk.db, desk.operator, run_id)
    with pytest.raises(NotFound):
        retry_failed(desk.db, desk.operator, 999_999)


def test_cancel_marks_undelivered_outcomes_and_leaves_delivered_ones(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 3)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow()
    )
    run_id = launch_now(desk.db, desk.operator, script_id)
    _finish(desk, run_id, {sites[0]: OutcomeStatus.DELIVERED})

    assert cancel_run(desk.db, desk.operator, run_id) == 2

    assert _outcomes(desk, run_id) == {
        sites[0]: OutcomeStatus.DELIVERED,
        sites[1]: OutcomeStatus.CANCELLED,
        sites[2]: OutcomeStatus.CANCELLED,
    }
    assert get_run(desk.db, run_id).status is RunStatus.RUNNING
    assert script_status(desk.db, script_id) is ScriptStatus.LAUNCHED
    with desk.db.reading() as session:
        cancelled_logs = session.scalars(
            select(LogEntry.event).where(LogEntry.event == "cancelled")
        ).all()
        events = audit.events_for(session, "run", run_id)
    assert len(cancelled_logs) == 2
    assert events[-1].action == "run.cancelled"


def test_cancelling_every_outcome_ends_the_run_and_the_script(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow()
    )
    run_id = launch_now(desk.db, desk.operator, script_id)

    assert cancel_run(desk.db, desk.operator, run_id) == 2

    assert get_run(desk.db, run_id).status is RunStatus.CANCELLED
    assert script_status(desk.db, script_id) is ScriptStatus.CANCELLED
    with pytest.raises(InvalidInput, match="nothing to cancel"):
        cancel_run(desk.db, desk.operator, run_id)


def test_cancelling_a_recurring_run_keeps_the_script_scheduled(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    script_id = scheduled_script(
        desk.db,
        desk.operator,
        targets=sites,
        launch_at=utcnow(),
        recurrence="0 2 * * *",
    )
    run_id = launch_now(desk.db, desk.operator, script_id)
    cancel_run(desk.db, desk.operator, run_id)
    assert script_status(desk.db, script_id) is ScriptStatus.SCHEDULED
    with desk.db.reading() as session:
        kinds = session.scalars(select(Run.kind).where(Run.script_id == script_id))
        assert list(kinds) == [RunKind.LAUNCH]
    assert len(launch_runs(desk.db, script_id)) == 1


def test_list_and_get_runs_report_counts_per_state(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 3)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=utcnow()
    )
    run_id = launch_now(desk.db, desk.operator, script_id)
    _finish(
        desk,
        run_id,
        {sites[0]: OutcomeStatus.COMPLETED, sites[1]: OutcomeStatus.FAILED},
    )
    run = get_run(desk.db, run_id)
    assert run.counts == {"completed": 1, "failed": 1, "pending": 1}
    assert run.total == 3
    assert run.description == "Rotate SNMP community"
    assert [r.id for r in list_runs(desk.db)] == [run_id]
    assert list_runs(desk.db, script_id=script_id + 1) == []
    with pytest.raises(NotFound):
        get_run(desk.db, 999_999)

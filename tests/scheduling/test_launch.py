"""Launching due scripts: on time, late within the grace window, missed, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sdx_tui.backend import audit, launch, lifecycle
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.launch import launch_due, next_occurrence, upcoming_launches
from sdx_tui.backend.models import (
    OutboxMessage,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    Script,
    ScriptStatus,
)
from sdx_tui.backend.scripts import cancel_script, create_script
from tests.conftest import Desk
from tests.scheduling.support import (
    add_sites,
    launch_runs,
    outcomes_per_run,
    scheduled_script,
    script_status,
)

GRACE = timedelta(minutes=15)


def test_a_due_script_launches_once_with_one_pending_outcome_per_target(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 3)
    now = utcnow()
    due_at = now - timedelta(seconds=30)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=due_at
    )

    created = launch_due(desk.db, now=now, grace=GRACE)
    assert launch_due(desk.db, now=now, grace=GRACE) == []
    assert launch_due(desk.db, now=now + timedelta(hours=1), grace=GRACE) == []

    runs = launch_runs(desk.db, script_id)
    assert [run.id for run in runs] == created
    assert runs[0].status is RunStatus.RUNNING
    assert runs[0].occurrence_at == due_at
    assert runs[0].content_hash == "a" * 64
    assert sorted(outcomes_per_run(desk.db, runs[0].id).values()) == [1, 1, 1]
    with desk.db.reading() as session:
        states = set(
            session.scalars(select(Outcome.status).where(Outcome.run_id == runs[0].id))
        )
        events = audit.events_for(session, "script", script_id)
    assert states == {OutcomeStatus.PENDING}
    assert script_status(desk.db, script_id) is ScriptStatus.LAUNCHED
    assert events[-1].action == "script.launched"
    assert events[-1].origin == "scheduler"


def test_a_script_not_yet_due_or_not_scheduled_does_not_launch(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 1)
    now = utcnow()
    future = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=now + timedelta(minutes=1)
    )
    unauthorized = create_script(
        desk.db,
        desk.operator,
        description="not approved",
        content=":put 1",
        targets=sites,
        launch_at=now - timedelta(seconds=1),
    ).id
    cancelled = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=now - timedelta(seconds=1)
    )
    cancel_script(desk.db, desk.operator, cancelled)

    assert launch_due(desk.db, now=now, grace=GRACE) == []
    for script_id in (future, unauthorized, cancelled):
        assert launch_runs(desk.db, script_id) == []
    assert script_status(desk.db, future) is ScriptStatus.SCHEDULED

    assert len(launch_due(desk.db, now=now + timedelta(minutes=1), grace=GRACE)) == 1
    assert len(launch_runs(desk.db, future)) == 1


def test_a_launch_missed_past_the_grace_window_is_recorded_and_the_author_told(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    now = utcnow()
    due_at = now - GRACE - timedelta(seconds=1)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=due_at
    )

    created = launch_due(desk.db, now=now, grace=GRACE)
    assert launch_due(desk.db, now=now, grace=GRACE) == []

    runs = launch_runs(desk.db, script_id)
    assert [run.id for run in runs] == created
    assert runs[0].status is RunStatus.MISSED
    assert outcomes_per_run(desk.db, runs[0].id) == {}
    assert script_status(desk.db, script_id) is ScriptStatus.FAILED
    with desk.db.reading() as session:
        mail = session.scalars(select(OutboxMessage)).all()
        events = audit.events_for(session, "script", script_id)
    assert [(m.channel, m.recipient) for m in mail] == [
        ("email", "olivia@example.test")
    ]
    assert "Missed launch" in mail[0].subject
    assert events[-1].action == "script.missed"


def test_a_launch_just_inside_the_grace_window_still_happens(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 1)
    now = utcnow()
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=now - GRACE
    )
    launch_due(desk.db, now=now, grace=GRACE)
    runs = launch_runs(desk.db, script_id)
    assert [run.status for run in runs] == [RunStatus.RUNNING]


def test_a_recurring_launch_moves_next_launch_at_to_the_next_occurrence(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    due_at = datetime(2026, 3, 28, 1, 0, tzinfo=UTC)  # 02:00 CET
    script_id = scheduled_script(
        desk.db,
        desk.operator,
        targets=sites,
        launch_at=due_at,
        recurrence="0 2 * * *",
        time_zone="Europe/Berlin",
    )
    launch_due(desk.db, now=due_at + timedelta(seconds=1), grace=GRACE)

    with desk.db.reading() as session:
        script = session.get(Script, script_id)
        assert script is not None
        # 02:00 does not exist on 29 March in Berlin: 03:00 CEST, 01:00 UTC.
        assert script.next_launch_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
        assert script.status is ScriptStatus.LAUNCHED


def test_a_missed_recurring_occurrence_keeps_the_script_scheduled(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 1)
    due_at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    now = due_at + timedelta(days=2, hours=1)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=due_at, recurrence="0 2 * * *"
    )
    launch_due(desk.db, now=now, grace=GRACE)

    runs = launch_runs(desk.db, script_id)
    assert [run.status for run in runs] == [RunStatus.MISSED]
    assert script_status(desk.db, script_id) is ScriptStatus.SCHEDULED
    # The occurrences skipped while down are not each reported; the next one is
    # the first still ahead of the grace window.
    assert upcoming_launches(desk.db, now=now) == {
        script_id: datetime(2026, 6, 4, 2, 0, tzinfo=UTC)
    }


def test_a_recurring_script_without_a_launch_time_gets_its_first_occurrence(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=None, recurrence="*/5 * * * *"
    )
    assert upcoming_launches(desk.db, now=now) == {
        script_id: next_occurrence("*/5 * * * *", "UTC", now)
    }
    assert launch_due(desk.db, now=now, grace=GRACE) == []
    assert len(launch_due(desk.db, now=now + timedelta(minutes=5), grace=GRACE)) == 1


def test_a_script_without_targets_fails_its_launch_instead_of_hanging(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    now = utcnow()
    script_id = scheduled_script(desk.db, desk.operator, targets=[], launch_at=now)
    launch_due(desk.db, now=now, grace=GRACE)
    assert [run.status for run in launch_runs(desk.db, script_id)] == [RunStatus.FAILED]
    assert script_status(desk.db, script_id) is ScriptStatus.FAILED


def test_many_due_scripts_launch_in_due_order(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 2)
    now = utcnow()
    ids = [
        scheduled_script(
            desk.db,
            desk.operator,
            targets=sites,
            launch_at=now - timedelta(seconds=seconds),
        )
        for seconds in (5, 50, 20)
    ]
    created = launch_due(desk.db, now=now, grace=GRACE)
    launched_scripts = [launch_runs(desk.db, i)[0].id for i in ids]
    assert created == [launched_scripts[1], launched_scripts[2], launched_scripts[0]]


def test_a_recurring_script_with_no_occurrence_left_does_not_launch_again(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    sites = add_sites(desk.db, desk.admin, 1)
    now = utcnow()
    # 30 February never comes: the launch time is the only launch.
    script_id = scheduled_script(
        desk.db, desk.operator, targets=sites, launch_at=now, recurrence="0 0 30 2 *"
    )
    assert len(launch_due(desk.db, now=now, grace=GRACE)) == 1
    with desk.db.session() as session:
        lifecycle.transition_script(session, script_id, ScriptStatus.SCHEDULED)

    assert launch_due(desk.db, now=now + timedelta(minutes=1), grace=GRACE) == []
    assert upcoming_launches(desk.db, now=now) == {}
    assert len(launch_runs(desk.db, script_id)) == 1


def test_scripts_due_together_launch_in_several_batches_each_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "_BATCH_SCRIPTS", 2)
    monkeypatch.setattr(launch, "_BATCH_OUTCOMES", 3)
    sites = add_sites(desk.db, desk.admin, 2)
    now = utcnow()
    ids = [
        scheduled_script(
            desk.db, desk.operator, targets=sites[: 1 + n % 2], launch_at=now
        )
        for n in range(5)
    ]
    created = launch_due(desk.db, now=now, grace=GRACE)
    assert len(created) == 5
    assert [len(launch_runs(desk.db, i)) for i in ids] == [1] * 5
    assert [
        sum(outcomes_per_run(desk.db, launch_runs(desk.db, i)[0].id).values())
        for i in ids
    ] == [1, 2, 1, 2, 1]


def test_an_occurrence_that_has_a_run_already_does_not_stop_the_others(
    desk: Desk,
) -> None:
    sites = add_sites(desk.db, desk.admin, 1)
    now = utcnow()
    ids = [
        scheduled_script(desk.db, desk.operator, targets=sites, launch_at=now)
        for _ in range(3)
    ]
    # A run for the middle script's occurrence exists while the script is still
    # scheduled: only the unique constraint can stop a second launch.
    with desk.db.session() as session:
        session.add(Run(script_id=ids[1], kind=RunKind.LAUNCH, occurrence_at=now))

    created = launch_due(desk.db, now=now, grace=GRACE)

    assert len(created) == 2
    assert [len(launch_runs(desk.db, i)) for i in ids] == [1, 1, 1]
    assert script_status(desk.db, ids[0]) is ScriptStatus.LAUNCHED
    assert script_status(desk.db, ids[1]) is ScriptStatus.SCHEDULED
    assert script_status(desk.db, ids[2]) is ScriptStatus.LAUNCHED

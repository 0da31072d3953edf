"""The read models behind the dashboard, the site table and the site log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import NotFound
from sdx_tui.backend.models import Outcome, OutcomeStatus, RunKind, RunStatus
from sdx_tui.backend.monitoring import (
    OutcomeFeed,
    SiteLogFeed,
    outcome_detail,
    run_outcomes,
    run_summary,
    runs_overview,
    site_log,
    site_name,
)
from tests.conftest import Desk
from tests.tui_dashboard.fleet import (
    add_sites,
    log,
    move,
    outcome_ids,
    start_run,
)

O = OutcomeStatus  # noqa: E741


def test_overview_lists_newest_runs_first_with_counts(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 5, "edge")
    _, first = start_run(desk.db, desk.operator, sites, description="First")
    _, second = start_run(
        desk.db, desk.operator, sites[:2], description="Second", kind=RunKind.TEST
    )
    outcomes = outcome_ids(desk.db, first)
    move(desk.db, outcomes[:2], O.COMPLETED)
    move(desk.db, outcomes[2:3], O.FAILED)
    move(desk.db, outcomes[3:4], O.DELIVERED)

    overview = runs_overview(desk.db, limit=10)

    assert [s.run_id for s in overview] == [second, first]
    newest, oldest = overview
    assert newest.description == "Second"
    assert newest.kind is RunKind.TEST
    assert newest.count(O.PENDING) == 2
    assert oldest.count(O.COMPLETED) == 2
    assert oldest.count(O.FAILED) == 1
    assert oldest.count(O.DELIVERED) == 1
    assert oldest.count(O.PENDING) == 1
    assert (oldest.total, oldest.settled, oldest.unsuccessful) == (5, 3, 1)
    assert [s.run_id for s in runs_overview(desk.db, limit=1)] == [second]


def test_overview_recounts_only_runs_still_running(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 2, "edge")
    _, done = start_run(desk.db, desk.operator, sites)
    _, running = start_run(desk.db, desk.operator, sites)
    move(desk.db, outcome_ids(desk.db, done), O.COMPLETED)
    before = {s.run_id: s for s in runs_overview(desk.db, limit=10)}
    assert before[done].status is RunStatus.COMPLETED

    # Counts of a settled run are final, so a refresh may keep them; a running
    # run's counts are read again.
    with desk.db.session() as session:
        session.execute(
            update(Outcome)
            .where(Outcome.run_id == done)
            .values(status=O.FAILED)
            .execution_options(synchronize_session=False)
        )
    move(desk.db, outcome_ids(desk.db, running)[:1], O.FAILED)
    after = {s.run_id: s for s in runs_overview(desk.db, limit=10, previous=before)}

    assert after[done].counts == {O.COMPLETED: 2}
    assert after[running].counts == {O.FAILED: 1, O.PENDING: 1}


def test_run_summary_of_one_run(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 3, "edge")
    script_id, run_id = start_run(desk.db, desk.operator, sites)
    summary = run_summary(desk.db, run_id)
    assert (summary.script_id, summary.total, summary.status) == (
        script_id,
        3,
        RunStatus.RUNNING,
    )
    with pytest.raises(NotFound):
        run_summary(desk.db, run_id + 100)


def test_run_outcomes_since_reads_only_changes(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 4, "edge")
    _, run_id = start_run(desk.db, desk.operator, sites)
    everything = run_outcomes(desk.db, run_id)
    assert sorted(row.site_name for row in everything) == [
        "edge-00001",
        "edge-00002",
        "edge-00003",
        "edge-00004",
    ]

    later = max(row.updated_at for row in everything) + timedelta(minutes=1)
    target = outcome_ids(desk.db, run_id)[1]
    move(desk.db, [target], O.FAILED, at=later, error="no route to host\n" * 100)

    changed = run_outcomes(desk.db, run_id, since=later)
    assert [(row.outcome_id, row.status) for row in changed] == [(target, O.FAILED)]
    assert changed[0].error.startswith("no route to host")
    assert len(changed[0].error) == 200


def test_outcome_feed_returns_each_change_once(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 3, "edge")
    _, run_id = start_run(desk.db, desk.operator, sites)
    ids = outcome_ids(desk.db, run_id)
    feed = OutcomeFeed(desk.db, run_id)

    assert len(feed.poll()) == 3
    assert feed.poll() == []

    move(desk.db, ids[:1], O.COMPLETED)
    assert [(r.outcome_id, r.status) for r in feed.poll()] == [(ids[0], O.COMPLETED)]
    assert feed.poll() == []


def test_outcome_feed_catches_a_change_committed_late(desk: Desk) -> None:
    """A writer stamped its change before a newer one, but committed after it."""
    sites = add_sites(desk.db, desk.admin, 3, "edge")
    _, run_id = start_run(desk.db, desk.operator, sites)
    ids = outcome_ids(desk.db, run_id)
    feed = OutcomeFeed(desk.db, run_id, overlap=timedelta(seconds=3))
    feed.poll()

    now = utcnow() + timedelta(minutes=5)
    move(desk.db, ids[:1], O.COMPLETED, at=now)
    assert [r.outcome_id for r in feed.poll()] == [ids[0]]

    move(desk.db, ids[1:2], O.FAILED, at=now - timedelta(seconds=1))
    assert [(r.outcome_id, r.status) for r in feed.poll()] == [(ids[1], O.FAILED)]

    feed.forget()
    assert len(feed.poll()) == 3


def test_site_log_by_run_and_since(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 1, "edge")
    _, first = start_run(desk.db, desk.operator, sites)
    _, second = start_run(desk.db, desk.operator, sites)
    site = sites[0]
    log(desk.db, site, outcome_ids(desk.db, first)[0], "delivered", "attempt 1")
    log(desk.db, site, outcome_ids(desk.db, second)[0], "output", ":put ok")

    everything = site_log(desk.db, site)
    assert [row.event for row in everything].count("created") == 2
    assert {row.run_id for row in everything} == {first, second}

    of_second = site_log(desk.db, site, run_id=second)
    assert [row.event for row in of_second] == ["created", "output"]
    assert of_second[-1].detail == ":put ok"

    newest = everything[-1].at
    assert [row.event for row in site_log(desk.db, site, since=newest)] == ["output"]
    assert site_name(desk.db, site) == "edge-00001"
    with pytest.raises(NotFound):
        site_name(desk.db, site + 1000)


def test_site_log_feed_appends_only_new_entries(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 1, "edge")
    _, run_id = start_run(desk.db, desk.operator, sites)
    outcome = outcome_ids(desk.db, run_id)[0]
    feed = SiteLogFeed(desk.db, sites[0], run_id=run_id)

    assert [row.event for row in feed.poll()] == ["created"]
    assert feed.poll() == []
    log(desk.db, sites[0], outcome, "polled", "")
    log(desk.db, sites[0], outcome, "delivered", "attempt 1")
    assert [row.event for row in feed.poll()] == ["polled", "delivered"]
    assert feed.poll() == []


def test_outcome_detail_carries_output(desk: Desk) -> None:
    sites = add_sites(desk.db, desk.admin, 2, "edge")
    _, run_id = start_run(desk.db, desk.operator, sites)
    with desk.db.session() as session:
        session.execute(
            update(Outcome)
            .where(Outcome.run_id == run_id, Outcome.site_id == sites[1])
            .values(output="flags: X\n", backup_ok=True)
            .execution_options(synchronize_session=False)
        )
    detail = outcome_detail(desk.db, run_id, sites[1])
    assert detail is not None
    assert (detail.site_name, detail.output, detail.backup_ok) == (
        "edge-00002",
        "flags: X\n",
        True,
    )
    assert outcome_detail(desk.db, run_id, sites[1] + 1000) is None

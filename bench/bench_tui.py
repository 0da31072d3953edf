"""Speed of the Runs screens, against baselines measured in the same run.

1. Live refresh: the site table of a run with N outcomes (default 10,000) is
   open while R outcomes a second (default 200) change state in another
   thread. Each refresh reads only what changed and applies it to the table;
   the baseline re-reads and re-applies every outcome on each refresh. Prints
   the cost of a refresh (read, then apply on the UI thread) and how long a
   change takes to show on screen (p50, p95; target under 1 s).
2. Dashboard read: the 50 newest runs with their counts, reusing the counts
   of settled runs, against counting every run each time.
3. Key to screen: from a key press until the screen shows its effect (enter
   opens the N-site run, s sorts it, end jumps to its last row, a filter
   keystroke), against moving the dashboard highlight one row.
4. First paint of N rows: the outcome table against Textual's DataTable.

Usage: python bench/bench_tui.py [--sites N] [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, ListView

from sdx_tui.app import DeskApp, create_app
from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import (
    Actor,
    add_user,
    current_actor,
    default_workspace_id,
    initialise,
)
from sdx_tui.backend.lifecycle import transition_outcomes
from sdx_tui.backend.models import Outcome, OutcomeStatus, RunKind, Site
from sdx_tui.backend.monitoring import OutcomeRow, run_outcomes, runs_overview
from sdx_tui.backend.runs import create_run, rollup_run
from sdx_tui.backend.scripts import create_script
from sdx_tui.config import Settings
from sdx_tui.screens.dashboard import DashboardScreen
from sdx_tui.screens.run_detail import RunDetailScreen, RunUpdate
from sdx_tui.widgets.outcome_table import COLUMNS, OutcomeTable, SortKey

SIZE = (120, 40)
SETTLED_SITES = 1_000
"""Sites in each of the older, settled runs the dashboard also lists."""
WAIT = 120.0
O = OutcomeStatus  # noqa: E741


@dataclass
class Desk:
    database: Database
    operator: Actor
    run_id: int
    outcome_ids: list[int]
    settings: Settings


def _add_sites(database: Database, actor: Actor, count: int) -> list[int]:
    with database.session() as session:
        workspace = default_workspace_id(session, actor.organisation_id)
        session.execute(
            insert(Site),
            [
                {
                    "workspace_id": workspace,
                    "name": f"bench-{n:05d}",
                    "token_hash": f"bench-{n}",
                    "tags": [],
                }
                for n in range(count)
            ],
        )
        return list(session.scalars(select(Site.id).order_by(Site.id)))


def _run(database: Database, actor: Actor, site_ids: list[int]) -> int:
    script = create_script(database, actor, description="Bench run", content=":put 1")
    with database.session() as session:
        return create_run(
            session,
            script_id=script.id,
            kind=RunKind.LAUNCH,
            site_ids=site_ids,
            occurrence_at=datetime.now(UTC),
            deadline=timedelta(hours=1),
        )


@contextmanager
def bench_desk(sites: int) -> Iterator[Desk]:
    """A desk with 49 settled runs and, newest, one running run to ``sites``."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        database = Database.open(f"sqlite:///{root / 'bench.db'}")
        try:
            database.upgrade()
            admin = initialise(database, organisation="Bench", admin="bench-admin")
            add_user(database, admin, "bench-operator", roles="operator")
            operator = current_actor(database, "tui", "bench-operator")
            site_ids = _add_sites(database, admin, sites)
            for _ in range(49):
                small = _run(database, operator, site_ids[:SETTLED_SITES])
                with database.session() as session:
                    ids = session.scalars(
                        select(Outcome.id).where(Outcome.run_id == small)
                    ).all()
                    transition_outcomes(session, ids, O.DELIVERED, expected=[O.PENDING])
                    transition_outcomes(
                        session, ids, O.COMPLETED, expected=[O.DELIVERED]
                    )
                    rollup_run(session, small)
            run_id = _run(database, operator, site_ids)
            with database.reading() as session:
                outcome_ids = list(
                    session.scalars(
                        select(Outcome.id)
                        .where(Outcome.run_id == run_id)
                        .order_by(Outcome.id)
                    )
                )
            settings = Settings(data_dir=root, config_path=root / "settings.toml")
            yield Desk(database, operator, run_id, outcome_ids, settings)
        finally:
            database.dispose()


class Churn(threading.Thread):
    """Moves outcomes along (pending, delivered, completed) at a steady rate."""

    def __init__(self, database: Database, ids: list[int], rate: int) -> None:
        super().__init__(name="churn", daemon=True)
        self.database = database
        self.rate = rate
        self.tick = 0.1
        self.stopping = threading.Event()
        self.committed: dict[tuple[int, OutcomeStatus], float] = {}
        self.changes = 0
        self._queue = [(i, O.DELIVERED, O.PENDING) for i in ids]
        self._queue += [(i, O.COMPLETED, O.DELIVERED) for i in ids]

    def run(self) -> None:
        per_tick = max(1, round(self.rate * self.tick))
        next_at = time.perf_counter()
        while not self.stopping.is_set() and self._queue:
            batch, self._queue = self._queue[:per_tick], self._queue[per_tick:]
            by_state: dict[tuple[OutcomeStatus, OutcomeStatus], list[int]] = {}
            for outcome_id, wanted, expected in batch:
                by_state.setdefault((wanted, expected), []).append(outcome_id)
            with self.database.session() as session:
                for (wanted, expected), ids in by_state.items():
                    transition_outcomes(session, ids, wanted, expected=[expected])
            done = time.perf_counter()
            for outcome_id, wanted, _ in batch:
                self.committed[(outcome_id, wanted)] = done
            self.changes += len(batch)
            next_at += self.tick
            self.stopping.wait(max(0.0, next_at - time.perf_counter()))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


@dataclass
class RefreshFigures:
    reads: list[float] = field(default_factory=list)
    applies: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    seen: set[tuple[int, OutcomeStatus]] = field(default_factory=set)
    """Changes already on screen: a full re-read brings them again."""
    started: float = field(default_factory=time.perf_counter)
    """Changes committed before this phase are not its latencies."""


def _ms(values: list[float], quantile: float = 0.5) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    deadline = time.perf_counter() + WAIT
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"the screen did not get there in time: {condition}")
        await pilot.pause(0.001)


def _app(desk: Desk) -> DeskApp:
    return create_app(desk.settings, database=desk.database, actor=desk.operator)


async def _open_run(pilot: Pilot[Any], desk: Desk) -> RunDetailScreen:
    await pilot.press("f5")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    screen = RunDetailScreen(desk.run_id)
    await pilot.app.push_screen(screen)
    table = screen.query_one(OutcomeTable)
    await wait_until(pilot, lambda: table.row_count == len(desk.outcome_ids))
    return screen


def _instrument(screen: RunDetailScreen, churn: Churn, full: bool) -> RefreshFigures:
    figures = RefreshFigures()
    load, show = screen.load, screen.show

    def timed_load(database: Database) -> RunUpdate:
        feed = screen._feed
        if full and feed is not None:
            feed.forget()
        began = time.perf_counter()
        update = load(database)
        figures.reads.append(time.perf_counter() - began)
        return update

    def timed_show(data: RunUpdate) -> None:
        began = time.perf_counter()
        show(data)
        shown = time.perf_counter()
        figures.applies.append(shown - began)
        figures.rows.append(len(data.changed))
        for row in data.changed:
            change = (row.outcome_id, row.status)
            committed = churn.committed.get(change)
            if (
                committed is not None
                and committed >= figures.started
                and change not in figures.seen
            ):
                figures.seen.add(change)
                figures.latencies.append(shown - committed)

    screen.load = timed_load  # type: ignore[method-assign]
    screen.show = timed_show  # type: ignore[method-assign]
    return figures


async def _live_refresh(desk: Desk, rate: int, seconds: float) -> None:
    async with _app(desk).run_test(size=SIZE) as pilot:
        screen = await _open_run(pilot, desk)
        churn = Churn(desk.database, desk.outcome_ids, rate)
        churn.start()
        try:
            results = {}
            for name, full in (("incremental", False), ("full re-read", True)):
                figures = _instrument(screen, churn, full)
                started, changes = time.perf_counter(), churn.changes
                await pilot.pause(seconds)
                achieved = (churn.changes - changes) / (time.perf_counter() - started)
                results[name] = figures
                screen.load = type(screen).load.__get__(screen)  # type: ignore[method-assign]
                screen.show = type(screen).show.__get__(screen)  # type: ignore[method-assign]
                print(
                    f"refresh  {name:<13} {len(desk.outcome_ids):>6} outcomes, "
                    f"{achieved:5.0f} changes/s: "
                    f"read p50 {_ms(figures.reads):6.1f} ms, "
                    f"apply p50 {_ms(figures.applies):6.1f} ms, "
                    f"rows/refresh {statistics.median(figures.rows or [0]):6.0f}; "
                    f"shown after p50 {_ms(figures.latencies):5.0f} ms, "
                    f"p95 {_ms(figures.latencies, 0.95):5.0f} ms"
                )
        finally:
            churn.stop()
    quick, slow = results["incremental"], results["full re-read"]
    cost = (_ms(quick.reads) + _ms(quick.applies)) / (
        _ms(slow.reads) + _ms(slow.applies)
    )
    print(
        f"refresh  ratio incremental / full re-read (read + apply): {cost:5.2f}x; "
        f"target: changes shown within 1 s "
        f"(p95 {_ms(quick.latencies, 0.95) / 1000:.2f} s)"
    )


def _dashboard_read(desk: Desk, rounds: int) -> None:
    def timed(call: Callable[[], object]) -> float:
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        return statistics.median(times)

    previous = {s.run_id: s for s in runs_overview(desk.database, limit=50)}
    reuse = timed(lambda: runs_overview(desk.database, limit=50, previous=previous))
    count_all = timed(lambda: runs_overview(desk.database, limit=50))
    print(
        f"dashboard read of 50 runs: reusing settled counts {reuse * 1000:6.2f} ms, "
        f"counting all {count_all * 1000:6.2f} ms, ratio {reuse / count_all:5.2f}x"
    )


async def _timed_key(
    pilot: Pilot[Any], keys: list[str], done: Callable[[], bool]
) -> float:
    # Pilot.press and Pilot.pause wait for every widget to go idle, which a
    # screen refreshing twice a second seldom is: post the keys as a terminal
    # would, poll the state, then paint the frame at once (Screen's
    # _on_timer_update is what its update timer calls).
    app = pilot.app
    began = time.perf_counter()
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))
    while not done():
        if time.perf_counter() - began > WAIT:
            raise SystemExit(f"the screen did not get there in time: {done}")
        await asyncio.sleep(0.001)
    app.screen._on_timer_update()
    return time.perf_counter() - began


async def _key_to_screen(desk: Desk, rounds: int) -> None:
    app = _app(desk)
    figures: dict[str, list[float]] = {}

    def record(name: str) -> Callable[[Awaitable[float]], Awaitable[None]]:
        async def add(measured: Awaitable[float]) -> None:
            figures.setdefault(name, []).append(await measured)

        return add

    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and app.screen.current_run() is not None
            ),
        )
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        for n in range(rounds * 2):
            key, index = ("down", 1) if n % 2 == 0 else ("up", 0)
            await record("down (baseline)")(
                _timed_key(pilot, [key], partial(_highlighted, dashboard, index))
            )

        for _ in range(rounds):
            await record(f"enter: open the {len(desk.outcome_ids)}-site run")(
                _timed_key(pilot, ["enter"], lambda: _table_full(app, desk))
            )
            table = app.screen.query_one(OutcomeTable)
            await record("s: sort all rows")(
                _timed_key(pilot, ["s"], partial(_sorted_by, table, SortKey.STATUS))
            )
            table.sort_key = SortKey.SITE
            await record("end: jump to the last row")(
                _timed_key(pilot, ["end"], partial(_at_end, table))
            )
            await pilot.press("home", "slash")
            await record("a filter keystroke")(
                _timed_key(pilot, ["1"], partial(_filtered_by, table, "1"))
            )
            await pilot.press("escape", "escape")
            await wait_until(pilot, lambda: app.screen is dashboard)
            await pilot.press("up")

    baseline = statistics.median(figures.pop("down (baseline)"))
    print(f"key      down (baseline)                 {baseline * 1000:7.1f} ms")
    for name, times in figures.items():
        value = statistics.median(times)
        print(
            f"key      {name:<32} {value * 1000:7.1f} ms, "
            f"{value / baseline:6.1f}x the baseline"
        )


def _highlighted(screen: DashboardScreen, index: int) -> bool:
    return screen.query_one("#runs", ListView).index == index


def _table_full(app: App[Any], desk: Desk) -> bool:
    if not isinstance(app.screen, RunDetailScreen):
        return False
    tables = app.screen.query(OutcomeTable)
    return bool(tables) and tables.first().row_count == len(desk.outcome_ids)


def _sorted_by(table: OutcomeTable, key: SortKey) -> bool:
    return table.sort_key is key


def _at_end(table: OutcomeTable) -> bool:
    return table.cursor == len(table.shown) - 1


def _filtered_by(table: OutcomeTable, text: str) -> bool:
    return table.filter_text == text


class PaintApp(App[None]):
    CSS = "OutcomeTable, DataTable { height: 1fr; }"

    def __init__(self, data_table: bool) -> None:
        super().__init__()
        self.data_table = data_table

    def compose(self) -> ComposeResult:
        yield DataTable() if self.data_table else OutcomeTable()


async def _first_paint(rows: list[OutcomeRow]) -> None:
    timings = {}
    for name, data_table in (("outcome table", False), ("DataTable", True)):
        app = PaintApp(data_table)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            began = time.perf_counter()
            if data_table:
                table = app.query_one(DataTable)
                table.add_columns(*(column.label for column in COLUMNS))
                table.add_rows(
                    (r.site_name, r.status.value, r.attempts, "", "", "", r.error)
                    for r in rows
                )
            else:
                app.query_one(OutcomeTable).apply(rows)
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            timings[name] = time.perf_counter() - began
    ratio = timings["outcome table"] / timings["DataTable"]
    print(
        f"paint    {len(rows)} rows: outcome table "
        f"{timings['outcome table'] * 1000:7.1f} ms, DataTable "
        f"{timings['DataTable'] * 1000:7.1f} ms, ratio {ratio:5.3f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200, help="changes a second")
    parser.add_argument("--seconds", type=float, default=6.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with bench_desk(args.sites) as desk:
        asyncio.run(_live_refresh(desk, args.rate, args.seconds))
    with bench_desk(args.sites) as desk:
        _dashboard_read(desk, rounds=20)
        asyncio.run(_key_to_screen(desk, args.rounds))
        rows = run_outcomes(desk.database, desk.run_id)
    asyncio.run(_first_paint(rows))


if __name__ == "__main__":
    main()

"""Launch speed, against baselines measured in the same run.

1. Fan-out: launching one script to N sites (the run, N pending outcomes and N
   "created" log entries, in one transaction), against a raw DB-API
   ``executemany`` of the same outcome and log rows on the same database.
   Target: ratio <= 3, on SQLite and on PostgreSQL.
2. Lateness: 1,000 scripts due at the same second, launched by a running
   SchedulerService; how late each run was created after its due time (p50,
   p99, max).

Usage: python bench/bench_scheduling.py [--sites N] [--scripts N] [--rounds N]
       [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.identity import initialise
from sdx_tui.backend.launch import launch_due
from sdx_tui.backend.models import (
    Outcome,
    Run,
    RunKind,
    Script,
    ScriptStatus,
    ScriptTarget,
    Site,
    Workspace,
)
from sdx_tui.backend.runs import new_delivery_id
from sdx_tui.backend.scheduling import SchedulerService
from sdx_tui.config import Settings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GRACE = timedelta(minutes=15)


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            database.upgrade()
            yield database
        finally:
            database.dispose()


@contextmanager
def postgres_database(url: str) -> Iterator[Database]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database.open(f"{url}?options=-csearch_path%3D{schema}")
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def populate(database: Database, sites: int) -> tuple[int, int, list[int]]:
    """An organisation with ``sites`` sites; returns (workspace, author, site ids)."""
    admin = initialise(database, organisation="Bench NOC", admin="bench")
    with database.session() as session:
        workspace = session.scalar(select(Workspace.id))
        assert workspace is not None
        session.execute(
            insert(Site),
            [
                {
                    "workspace_id": workspace,
                    "name": f"site-{n:05d}",
                    "token_hash": uuid.uuid4().hex,
                    "tags": [],
                }
                for n in range(sites)
            ],
        )
        site_ids = list(session.scalars(select(Site.id).order_by(Site.id)))
    return workspace, admin.user_id, site_ids


def scheduled_scripts(
    database: Database,
    workspace: int,
    author: int,
    site_ids: list[int],
    *,
    count: int,
    due: Any,
) -> list[int]:
    """``count`` scripts to ``site_ids``, scheduled for ``due``."""
    with database.session() as session:
        scripts = [
            Script(
                workspace_id=workspace,
                author_id=author,
                description=f"bench {n}",
                content=":put 1",
                launch_at=due,
                next_launch_at=due,
                status=ScriptStatus.UNAUTHORIZED,
            )
            for n in range(count)
        ]
        session.add_all(scripts)
        session.flush()
        ids = [script.id for script in scripts]
        session.execute(
            insert(ScriptTarget),
            [{"script_id": i, "site_id": s} for i in ids for s in site_ids],
        )
        for script_id in ids:
            lifecycle.transition_script(session, script_id, ScriptStatus.SCHEDULED)
    return ids


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def raw_executemany(database: Database, script_id: int, site_ids: list[int]) -> float:
    """The same outcome and log rows through the bare driver; returns seconds."""
    with database.session() as session:
        run = Run(
            script_id=script_id,
            kind=RunKind.TEST,
            occurrence_at=utcnow(),
        )
        session.add(run)
        session.flush()
        run_id = run.id

    marker = "?" if database.is_sqlite else "%s"
    now = utcnow()
    stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if database.is_sqlite else now
    deadline: Any = (
        (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        if database.is_sqlite
        else now + timedelta(hours=1)
    )
    outcome_rows = [
        (run_id, site, "pending", new_delivery_id(), deadline, 0, "", "", stamp)
        for site in site_ids
    ]
    columns = (
        "run_id, site_id, status, delivery_id, deadline, attempts, output, error,"
        " updated_at"
    )
    connection = database.engine.raw_connection()
    try:
        start = time.perf_counter()
        cursor = connection.cursor()
        if database.is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(
            f"INSERT INTO outcomes ({columns}) VALUES ({', '.join([marker] * 9)})",
            outcome_rows,
        )
        cursor.execute(
            f"SELECT id, site_id FROM outcomes WHERE run_id = {marker}", (run_id,)
        )
        created = cursor.fetchall()
        cursor.executemany(
            "INSERT INTO log_entries (site_id, outcome_id, at, event, detail) "
            f"VALUES ({marker}, {marker}, {marker}, {marker}, {marker})",
            [(site, outcome, stamp, "created", "bench") for outcome, site in created],
        )
        connection.commit()
        return time.perf_counter() - start
    finally:
        connection.close()


def bench_fan_out(name: str, database: Database, sites: int, rounds: int) -> None:
    workspace, author, site_ids = populate(database, sites)
    launches, raws = [], []
    for _ in range(rounds):
        now = utcnow()
        (script_id,) = scheduled_scripts(
            database, workspace, author, site_ids, count=1, due=now
        )
        launches.append(timed(partial(launch_due, database, now=now, grace=GRACE)))
        raws.append(raw_executemany(database, script_id, site_ids))
    with database.reading() as session:
        total = session.scalar(select(func.count(Outcome.id)))
    assert total == 2 * rounds * sites, total
    launch, raw = statistics.median(launches), statistics.median(raws)
    print(
        f"fan-out {name:<10} {sites:>6} sites: launch {launch * 1000:8.1f} ms, "
        f"raw executemany {raw * 1000:8.1f} ms, ratio {launch / raw:5.2f} "
        f"(target <= 3)"
    )


async def _lateness(database: Database, scripts: int, lead: float) -> list[float]:
    workspace, author, site_ids = populate(database, 5)
    due = (utcnow() + timedelta(seconds=lead)).replace(microsecond=0)
    ids = scheduled_scripts(
        database, workspace, author, site_ids, count=scripts, due=due
    )
    settings = Settings(data_dir=Path("."), config_path=Path("unused.toml"))
    service = SchedulerService(settings, database)
    await service.start()
    try:
        give_up = time.monotonic() + lead + 300
        while time.monotonic() < give_up:
            with database.reading() as session:
                launched = session.scalar(
                    select(func.count(Run.id)).where(Run.script_id.in_(ids))
                )
            if launched == scripts:
                break
            await asyncio.sleep(0.2)
    finally:
        await service.stop()
    with database.reading() as session:
        rows = session.execute(
            select(Run.created_at, Run.occurrence_at).where(Run.script_id.in_(ids))
        ).all()
    if len(rows) != scripts:
        raise SystemExit(f"only {len(rows)} of {scripts} scripts launched")
    return sorted((created - due).total_seconds() for created, due in rows)


def bench_lateness(name: str, database: Database, scripts: int) -> None:
    late = asyncio.run(_lateness(database, scripts, lead=5.0))
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    print(
        f"lateness {name:<10} {scripts:>6} scripts due at once: "
        f"p50 {statistics.median(late) * 1000:7.0f} ms, p99 {p99 * 1000:7.0f} ms, "
        f"max {late[-1] * 1000:7.0f} ms (target: p99 within 2 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--scripts", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    backends: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_database)]
    if not args.no_postgres:
        backends.append(("postgresql", lambda: postgres_database(args.postgres)))
    for name, opener in backends:
        with opener() as database:
            bench_fan_out(name, database, args.sites, args.rounds)
        with opener() as database:
            bench_lateness(name, database, args.scripts)


if __name__ == "__main__":
    main()

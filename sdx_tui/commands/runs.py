"""`sdx script launch|test|retry` and `sdx run list|show|cancel`."""

from __future__ import annotations

import argparse
from typing import Any

from sdx_tui.backend import launch
from sdx_tui.backend.launch import RunInfo
from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.cli import CommandContext, Commands
from sdx_tui.cli_output import iso, json_text, shorten, table

_COLUMNS = (
    ("PEND", OutcomeStatus.PENDING),
    ("DELIV", OutcomeStatus.DELIVERED),
    ("DONE", OutcomeStatus.COMPLETED),
    ("FAIL", OutcomeStatus.FAILED),
    ("T/O", OutcomeStatus.TIMED_OUT),
)


def register(commands: Commands) -> None:
    """Add the launch and run commands."""
    parser = commands.verb(
        "script", "launch", _launch, "launch a scheduled script now (operators)"
    )
    parser.add_argument("script_id", metavar="ID", type=int)

    parser = commands.verb(
        "script", "test", _test, "run a script on its test site now, before approval"
    )
    parser.add_argument("script_id", metavar="ID", type=int)

    parser = commands.verb(
        "script",
        "retry",
        _retry,
        "dispatch a finished run again to its failed, timed-out and expired sites",
    )
    parser.add_argument("run_id", metavar="RUN-ID", type=int)

    parser = commands.verb("run", "list", _list, "list runs, newest first")
    parser.add_argument("--script", type=int, metavar="ID", help="only this script")
    parser.add_argument("--limit", type=int, default=50, help="at most this many")
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    parser = commands.verb("run", "show", _show, "show a run and its outcome counts")
    parser.add_argument("run_id", metavar="RUN-ID", type=int)
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    parser = commands.verb(
        "run", "cancel", _cancel, "cancel a run's outcomes not yet delivered"
    )
    parser.add_argument("run_id", metavar="RUN-ID", type=int)


def _launch(context: CommandContext, args: argparse.Namespace) -> int:
    run_id = launch.launch_now(
        context.database, context.actor(), args.script_id, settings=context.settings
    )
    run = launch.get_run(context.database, run_id)
    context.print(
        f"script {args.script_id} launched: run {run_id} to {run.total} site(s)"
    )
    return 0


def _test(context: CommandContext, args: argparse.Namespace) -> int:
    run_id = launch.run_test(
        context.database, context.actor(), args.script_id, settings=context.settings
    )
    context.print(f"script {args.script_id} test: run {run_id} on its test site")
    return 0


def _retry(context: CommandContext, args: argparse.Namespace) -> int:
    run_id = launch.retry_failed(
        context.database, context.actor(), args.run_id, settings=context.settings
    )
    run = launch.get_run(context.database, run_id)
    context.print(f"run {args.run_id} retried: run {run_id} to {run.total} site(s)")
    return 0


def _cancel(context: CommandContext, args: argparse.Namespace) -> int:
    cancelled = launch.cancel_run(context.database, context.actor(), args.run_id)
    run = launch.get_run(context.database, args.run_id)
    context.print(
        f"run {args.run_id}: {cancelled} outcome(s) cancelled; run is {run.status}"
    )
    return 0


def run_json(run: RunInfo) -> dict[str, Any]:
    """The stable JSON form of a run (keys documented in the README)."""
    return {
        "id": run.id,
        "script_id": run.script_id,
        "description": run.description,
        "kind": run.kind.value,
        "status": run.status.value,
        "occurrence_at": iso(run.occurrence_at),
        "created_at": iso(run.created_at),
        "finished_at": iso(run.finished_at),
        "retry_of": run.retry_of_id,
        "started_by": run.started_by,
        "content_hash": run.content_hash,
        "revision": run.revision,
        "total": run.total,
        "counts": {
            state.value: run.counts.get(state.value, 0) for state in OutcomeStatus
        },
    }


def _list(context: CommandContext, args: argparse.Namespace) -> int:
    runs = launch.list_runs(context.database, script_id=args.script, limit=args.limit)
    if args.json:
        context.print(json_text([run_json(run) for run in runs]))
        return 0
    if not runs:
        context.print("no runs")
        return 0

    zone = context.settings.time_zone
    headers = ["ID", "SCRIPT", "DESCRIPTION", "KIND", "STATUS", "CREATED"]
    headers += [title for title, _ in _COLUMNS] + ["TOTAL"]
    rows = [
        [
            str(run.id),
            str(run.script_id),
            shorten(run.description, 30),
            run.kind.value,
            run.status.value,
            format_in_zone(run.created_at, zone),
            *(str(run.counts.get(state.value, 0)) for _, state in _COLUMNS),
            str(run.total),
        ]
        for run in runs
    ]
    for line in table(headers, rows):
        context.print(line)
    return 0


def _show(context: CommandContext, args: argparse.Namespace) -> int:
    run = launch.get_run(context.database, args.run_id)
    if args.json:
        context.print(json_text(run_json(run)))
        return 0

    zone = context.settings.time_zone
    context.print(f"run {run.id}: {run.kind.value} of script {run.script_id}")
    context.print(f"  script:      {run.description}")
    context.print(f"  status:      {run.status.value}")
    context.print(f"  occurrence:  {format_in_zone(run.occurrence_at, zone)}")
    context.print(f"  created:     {format_in_zone(run.created_at, zone)}")
    if run.finished_at:
        context.print(f"  finished:    {format_in_zone(run.finished_at, zone)}")
    context.print(f"  started by:  {run.started_by}")
    if run.retry_of_id:
        context.print(f"  retry of:    run {run.retry_of_id}")
    context.print(f"  revision:    {run.revision}")
    context.print(f"  sites:       {run.total}")
    for state in OutcomeStatus:
        context.print(f"    {state.value:<10} {run.counts.get(state.value, 0):>6}")
    return 0

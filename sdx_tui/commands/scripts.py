"""`sdx script create|list|show|edit|cancel`: scheduled scripts from a shell.

The ``--json`` form of a script has the keys ``id``, ``description``,
``status``, ``author``, ``targets`` (site names), ``test_site`` (a name or
null), ``launch_at`` and ``next_launch_at`` (ISO-8601 in UTC or null),
``time_zone``, ``recurrence`` (a cron expression or ""), ``make_backup``,
``revision``, ``created_at`` and ``updated_at``; ``script show --json`` adds
``content``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sdx_tui.cli import UsageError
from sdx_tui.cli_output import iso, json_text, shorten, table

if TYPE_CHECKING:
    from sdx_tui.backend.models import Script
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add the `script` verbs."""
    create = commands.verb(
        "script", "create", create_script, "create a script; it starts unauthorized"
    )
    create.add_argument("--description", required=True, help="what it does and why")
    create.add_argument(
        "--file", required=True, metavar="PATH", help="the RouterOS script; - for stdin"
    )
    create.add_argument(
        "--sites", required=True, metavar="A,B", help="target sites, comma-separated"
    )
    _add_schedule_options(create)

    listing = commands.verb(
        "script", "list", list_scripts, "list scripts, newest first"
    )
    listing.add_argument(
        "--status",
        action="append",
        metavar="S[,S]",
        help="only scripts in these states",
    )
    listing.add_argument("--search", default="", help="only descriptions with this")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = commands.verb("script", "show", show_script, "show a script and its content")
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")

    edit = commands.verb(
        "script",
        "edit",
        edit_script,
        "change a script; it goes back to unauthorized and needs a new approval",
    )
    edit.add_argument("id", type=int, metavar="ID")
    edit.add_argument("--description")
    edit.add_argument("--file", metavar="PATH", help="new content; - for stdin")
    edit.add_argument("--sites", metavar="A,B", help="replace the target sites")
    _add_schedule_options(edit, editing=True)

    cancel = commands.verb("script", "cancel", cancel_script, "cancel a script")
    cancel.add_argument("id", type=int, metavar="ID")


def _add_schedule_options(
    parser: argparse.ArgumentParser, *, editing: bool = False
) -> None:
    launch = parser.add_mutually_exclusive_group()
    launch.add_argument(
        "--launch-at",
        metavar="ISO-8601",
        help="when to launch, e.g. 2026-12-24T02:00 (read in --time-zone if no offset)",
    )
    parser.add_argument("--time-zone", help="IANA zone of the launch time")
    parser.add_argument(
        "--recurrence", metavar="CRON", help="repeat on a five-field cron expression"
    )
    parser.add_argument(
        "--make-backup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="save and upload a backup on each site before the script runs",
    )
    test_site = parser.add_mutually_exclusive_group()
    test_site.add_argument("--test-site", metavar="SITE", help="the site for Run Test")
    if editing:
        launch.add_argument(
            "--no-launch-at", action="store_true", help="remove the launch time"
        )
        test_site.add_argument(
            "--no-test-site", action="store_true", help="remove the test site"
        )


def script_json(script: Script, *, content: bool = False) -> dict[str, Any]:
    """The documented JSON form of a script."""
    value: dict[str, Any] = {
        "id": script.id,
        "description": script.description,
        "status": script.status.value,
        "author": script.author.os_user,
        "targets": [site.name for site in script.targets],
        "test_site": script.test_site.name if script.test_site else None,
        "launch_at": iso(script.launch_at),
        "next_launch_at": iso(script.next_launch_at),
        "time_zone": script.time_zone,
        "recurrence": script.recurrence,
        "make_backup": script.make_backup,
        "revision": script.revision,
        "created_at": iso(script.created_at),
        "updated_at": iso(script.updated_at),
    }
    if content:
        value["content"] = script.content
    return value


def read_content(path: str) -> str:
    """The script text from a file, or from standard input for ``-``."""
    from sdx_tui.backend.scripts import MAX_CONTENT_BYTES

    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_CONTENT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_CONTENT_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None
    if len(data) > MAX_CONTENT_BYTES:
        raise UsageError(f"{name} is larger than 1 MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text") from None


def _site_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _launch_at(text: str, time_zone: str) -> datetime:
    from sdx_tui.backend.timezones import parse_launch_at

    return parse_launch_at(text, time_zone)


def create_script(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx script create`."""
    from sdx_tui.backend import scripts

    content = read_content(args.file)
    targets = _site_names(args.sites)
    if not targets:
        raise UsageError("--sites names no site")
    time_zone = args.time_zone or context.settings.time_zone
    launch_at = _launch_at(args.launch_at, time_zone) if args.launch_at else None

    script = scripts.create_script(
        context.database,
        context.actor(),
        description=args.description,
        content=content,
        targets=targets,
        launch_at=launch_at,
        time_zone=time_zone,
        recurrence=args.recurrence or "",
        make_backup=bool(args.make_backup),
        test_site=args.test_site,
    )
    context.print(f"script {script.id} created ({script.status.value})")
    context.print(f"Ask for approval with 'sdx script request-auth {script.id}'.")
    return 0


def list_scripts(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx script list`."""
    from sdx_tui.backend import scripts
    from sdx_tui.backend.timezones import format_in_zone

    context.actor()  # only desk users may read the desk
    found = scripts.list_scripts(
        context.database, statuses=_statuses(args.status), search=args.search
    )
    if args.json:
        context.print(json_text([script_json(script) for script in found]))
        return 0
    rows = [
        [
            str(script.id),
            script.status.value,
            format_in_zone(script.launch_at, script.time_zone) or "not set",
            str(len(script.targets)),
            script.author.os_user,
            shorten(script.description, 60),
        ]
        for script in found
    ]
    headers = ["ID", "STATUS", "LAUNCH", "SITES", "AUTHOR", "DESCRIPTION"]
    for line in table(headers, rows):
        context.print(line)
    return 0


def _statuses(values: list[str] | None) -> list[Any] | None:
    from sdx_tui.backend.models import ScriptStatus

    if not values:
        return None
    wanted = []
    for name in (part.strip().lower() for v in values for part in v.split(",")):
        if not name:
            continue
        try:
            wanted.append(ScriptStatus(name))
        except ValueError:
            known = ", ".join(status.value for status in ScriptStatus)
            raise UsageError(f"unknown status {name!r} (known: {known})") from None
    return wanted


def show_script(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx script show`."""
    from sdx_tui.backend import scripts
    from sdx_tui.backend.timezones import format_in_zone

    context.actor()  # only desk users may read the desk
    script = scripts.get_script(context.database, args.id)
    if args.json:
        context.print(json_text(script_json(script, content=True)))
        return 0
    zone = script.time_zone
    targets = [site.name for site in script.targets]
    fields = [
        ("status", f"{script.status.value} (revision {script.revision})"),
        ("author", script.author.os_user),
        (f"sites ({len(targets)})", ", ".join(targets)),
        ("test site", script.test_site.name if script.test_site else "none"),
        ("launch at", format_in_zone(script.launch_at, zone) or "not set"),
        (
            "recurrence",
            f"{script.recurrence} ({zone})" if script.recurrence else "none",
        ),
        ("next launch", format_in_zone(script.next_launch_at, zone) or "none"),
        ("backup", "yes" if script.make_backup else "no"),
        ("created", format_in_zone(script.created_at, zone)),
        ("updated", format_in_zone(script.updated_at, zone)),
    ]
    context.print(f"script {script.id}: {script.description}")
    for label, value in fields:
        context.print(f"{label + ':':<14}{value}".rstrip())
    context.print("--- content ---")
    context.print(script.content.rstrip("\n"))
    return 0


def edit_script(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx script edit`."""
    from sdx_tui.backend import scripts

    changes: dict[str, Any] = {}
    if args.description is not None:
        changes["description"] = args.description
    if args.file is not None:
        changes["content"] = read_content(args.file)
    if args.sites is not None:
        changes["targets"] = _site_names(args.sites)
        if not changes["targets"]:
            raise UsageError("--sites names no site")
    if args.time_zone is not None:
        changes["time_zone"] = args.time_zone
    if args.recurrence is not None:
        changes["recurrence"] = args.recurrence
    if args.make_backup is not None:
        changes["make_backup"] = args.make_backup
    if args.test_site is not None or args.no_test_site:
        changes["test_site"] = args.test_site
    if args.no_launch_at:
        changes["launch_at"] = None
    elif args.launch_at is not None:
        zone = args.time_zone or scripts.get_script(context.database, args.id).time_zone
        changes["launch_at"] = _launch_at(args.launch_at, zone)
    if not changes:
        raise UsageError("nothing to change: give at least one option")

    script = scripts.edit_script(
        context.database, context.actor(), args.id, scripts.ScriptChanges(**changes)
    )
    context.print(
        f"script {script.id} edited (revision {script.revision}); it is "
        f"{script.status.value} and needs a new approval"
    )
    return 0


def cancel_script(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx script cancel`."""
    from sdx_tui.backend import scripts

    script = scripts.cancel_script(context.database, context.actor(), args.id)
    context.print(f"script {script.id} {script.status.value}")
    return 0

"""`sdx script request-auth|approve|reject` and `sdx approval list`.

Approvers at a shell decide here as they would in the TUI; the person running
the command is the OS user, and the author of a script is refused as anywhere.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sdx_tui.cli import UsageError

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add the approval verbs."""
    request = commands.verb(
        "script",
        "request-auth",
        request_auth,
        "ask the approvers to approve a script (sends them links)",
    )
    request.add_argument("id", type=int, metavar="ID", help="the script")

    approve = commands.verb(
        "script", "approve", approve_script, "approve a script's open request"
    )
    approve.add_argument("id", type=int, metavar="ID", help="the script")

    reject = commands.verb(
        "script", "reject", reject_script, "reject a script's open request"
    )
    reject.add_argument("id", type=int, metavar="ID", help="the script")
    reject.add_argument("--reason", required=True, help="why, for the author")

    commands.verb(
        "approval", "list", list_pending, "requests waiting for your decision"
    )


def request_auth(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx script request-auth ID`."""
    from sdx_tui.backend.approvals import request_authorization

    result = request_authorization(
        context.database, context.actor(), args.id, settings=context.settings
    )
    context.print(
        f"request {result.request_id} for script {result.script_id} sent to "
        f"{', '.join(result.approvers)} ({result.messages_queued} message(s) queued)"
    )
    for note in result.notes:
        context.print(f"note: {note}")
    return 0


def approve_script(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx script approve ID`."""
    from sdx_tui.backend.approvals import approve, open_request_for

    actor = context.actor()
    decision = approve(
        context.database, actor, open_request_for(context.database, args.id)
    )
    launch = decision.next_launch_at.isoformat() if decision.next_launch_at else "-"
    context.print(f"script {decision.script_id} approved; launches at {launch}")
    return 0


def reject_script(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx script reject ID --reason TEXT`."""
    from sdx_tui.backend.approvals import open_request_for, reject

    if not args.reason.strip():
        raise UsageError("--reason must say why")
    actor = context.actor()
    decision = reject(
        context.database,
        actor,
        open_request_for(context.database, args.id),
        args.reason,
    )
    context.print(f"script {decision.script_id} rejected")
    return 0


def list_pending(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx approval list`."""
    from sdx_tui.backend.approvals import pending_for

    pending = pending_for(context.database, context.actor())
    if not pending:
        context.print("nothing waits for your approval")
        return 0
    for item in pending:
        launch = item.launch_at.isoformat() if item.launch_at else "-"
        context.print(
            f"script {item.script_id}  {item.description}  by {item.author}  "
            f"{item.targets} site(s)  launch {launch}  "
            f"expires {item.expires_at.isoformat()}"
        )
    return 0

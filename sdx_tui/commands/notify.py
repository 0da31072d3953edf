"""`sdx notify test|failed|retry`: check the notification settings, see failures."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sdx_tui.cli import UsageError

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add the `notify` verbs."""
    test = commands.verb(
        "notify", "test", send_test, "send a test message with the current settings"
    )
    target = test.add_mutually_exclusive_group(required=True)
    target.add_argument("--email", metavar="ADDR", help="send a test e-mail to ADDR")
    target.add_argument(
        "--whatsapp", metavar="NUMBER", help="send a test WhatsApp message to NUMBER"
    )

    commands.verb("notify", "failed", list_failed, "messages that could not be sent")

    retry = commands.verb(
        "notify", "retry", retry_failed, "queue a failed message again"
    )
    retry.add_argument("id", type=int, metavar="ID", help="the message")


def send_test(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx notify test`: send at once, not through the outbox."""
    from sdx_tui.backend.notify.smtp import send_email
    from sdx_tui.backend.notify.whatsapp import send_whatsapp

    text = "This is a test message from SDX desk. Notifications work."
    if args.email:
        if "@" not in args.email:
            raise UsageError(f"{args.email!r} is not an e-mail address")
        send_email(
            context.settings.smtp,
            recipient=args.email,
            subject="SDX desk test message",
            text=text,
            html=f"<p>{text}</p>",
        )
        context.print(f"test e-mail sent to {args.email}")
    else:
        send_whatsapp(context.settings.whatsapp, recipient=args.whatsapp, text=text)
        context.print(f"test WhatsApp message sent to {args.whatsapp}")
    return 0


def list_failed(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx notify failed`."""
    from sdx_tui.backend.notify.service import failed_messages

    failed = failed_messages(context.database)
    if not failed:
        context.print("no failed messages")
        return 0
    for message in failed:
        context.print(
            f"{message.id}  {message.status}  {message.channel} to {message.recipient}"
            f"  {message.attempts} attempt(s)  {message.last_error}"
        )
    return 1


def retry_failed(context: CommandContext, args: argparse.Namespace) -> int:
    """Handle `sdx notify retry ID`."""
    from sdx_tui.backend.notify.service import retry_message

    retry_message(context.database, args.id)
    context.print(f"message {args.id} queued again")
    return 0

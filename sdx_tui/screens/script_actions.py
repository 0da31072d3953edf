"""Request Authorization and Run Test, the same from the script list and the editor.

Each asks first, then calls the backend in a thread worker and says how it
went in a toast. A refusal (lint errors, no approver, no test site...) fails
the worker with a :class:`~sdx_tui.backend.errors.DeskError`, which the
screen's worker handler shows as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdx_tui.backend.approvals import RequestResult, request_authorization
from sdx_tui.backend.launch import run_test
from sdx_tui.backend.routeros.lint import Finding
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.screens.base import DeskScreen
from sdx_tui.screens.confirm import ConfirmScreen

REQUEST_GROUP = "request-authorization"
RUN_TEST_GROUP = "run-test"
SHOWN_ERRORS = 5
"""Lint errors listed in a refusal; the findings panel has the rest."""


def lint_refusal(script_id: int, errors: Sequence[Finding]) -> str:
    """Why a script with lint errors cannot be sent, one error per line."""
    count = len(errors)
    lines = [
        f"Script {script_id} has {count} lint error{'s' if count != 1 else ''}; "
        "fix them before asking for approval:"
    ]
    lines.extend(
        f"{error.line}:{error.column} {error.code} {error.message}"
        for error in errors[:SHOWN_ERRORS]
    )
    if count > SHOWN_ERRORS:
        lines.append(f"… and {count - SHOWN_ERRORS} more")
    return "\n".join(lines)


def requested_text(result: RequestResult, time_zone: str) -> str:
    """What a person reads once approvers are asked."""
    lines = [
        f"Script {result.script_id} is sent to {', '.join(result.approvers)} for "
        f"approval; the links expire {format_in_zone(result.expires_at, time_zone)}."
    ]
    if result.voided:
        lines.append(f"The older request is void ({result.voided}).")
    lines.extend(result.notes)
    return "\n".join(lines)


def ask_to_request_authorization(
    screen: DeskScreen[Any], script_id: int, description: str
) -> None:
    """Confirm, then ask every eligible approver to approve the script."""

    def request() -> None:
        desk = screen.desk
        result = request_authorization(
            desk.database, screen.actor, script_id, settings=desk.settings
        )
        screen.app.call_from_thread(
            screen.notify,
            requested_text(result, desk.settings.time_zone),
            title="Authorization requested",
            severity="warning" if result.notes else "information",
            timeout=10 if result.notes else 5,
        )

    def answered(confirmed: bool | None) -> None:
        if confirmed:
            screen.run_worker(
                request,
                name=REQUEST_GROUP,
                group=REQUEST_GROUP,
                thread=True,
                exit_on_error=False,
            )

    screen.app.push_screen(
        ConfirmScreen(
            f"Send script {script_id}, “{description}”, to the approvers? Each "
            "gets a link to approve exactly what will run now; any earlier "
            "request for it becomes void.",
            title="Request authorization",
            confirm_label="Request",
            cancel_label="Not now",
        ),
        answered,
    )


def ask_to_run_test(
    screen: DeskScreen[Any], script_id: int, description: str, test_site: str
) -> None:
    """Confirm, then send the script to its test site alone, without approval."""

    def start() -> None:
        run_id = run_test(
            screen.desk.database,
            screen.actor,
            script_id,
            settings=screen.desk.settings,
        )
        screen.app.call_from_thread(
            screen.notify,
            f"Test run {run_id} of script {script_id} waits for {test_site}: it "
            "runs at the site's next poll. F5 Runs shows how it goes.",
            title="Test started",
        )

    def answered(confirmed: bool | None) -> None:
        if confirmed:
            screen.run_worker(
                start,
                name=RUN_TEST_GROUP,
                group=RUN_TEST_GROUP,
                thread=True,
                exit_on_error=False,
            )

    screen.app.push_screen(
        ConfirmScreen(
            f"Run script {script_id}, “{description}”, on its test site "
            f"{test_site} now? It needs no approval and runs on that site alone, "
            "at its next poll.",
            title="Run test",
            confirm_label="Run test",
            cancel_label="Not now",
        ),
        answered,
    )

"""The Approvals section: requests waiting for me, their review, my decision."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Static
from textual.worker import Worker, get_current_worker

from sdx_tui.backend.approvals import (
    PendingApproval,
    Review,
    approve,
    pending_for,
    reject,
    review,
)
from sdx_tui.backend.routeros.lexer import RouterOSLexer
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.screens.base import DeskModal, DeskScreen
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.widgets.desk_table import DeskTable

COLUMNS = [
    ("script", "Script"),
    ("description", "Description"),
    ("author", "Author"),
    ("launch", "Launch"),
]

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _row(item: PendingApproval) -> list[Any]:
    return [str(item.script_id), item.description, item.author, item.launch_local]


def _facts(data: Review) -> RenderableType:
    sites = ", ".join(data.targets)
    facts = [
        ("Description", data.description),
        ("Author", data.author),
        ("Requested by", data.requested_by),
        ("Launch", data.launch_local),
        ("Repeats", data.recurrence or "once"),
        (f"Targets ({len(data.targets)})", sites),
        ("Test site", data.test_site or "none"),
        ("Backup first", "yes" if data.make_backup else "no"),
        ("Expires", format_in_zone(data.expires_at, data.time_zone)),
    ]
    lines = [Text(f"Script {data.script_id}, revision {data.revision}", "bold")]
    for label, value in facts:
        lines.append(Text.assemble((f"{label:<14}", "dim"), value))
    if not data.unchanged:
        lines.append(
            Text(
                "What will run changed since the request: approval is refused.",
                "bold red",
            )
        )
    return Group(*lines)


def _script(data: Review) -> RenderableType:
    parts: list[RenderableType] = []
    for block in data.rendered:
        who = (
            "every target"
            if len(block.sites) == len(data.targets)
            else ", ".join(block.sites)
        )
        parts.append(Text(f"Script for {who}", "bold"))
        parts.append(
            Syntax(
                block.text.rstrip("\n") or " ",
                RouterOSLexer(),
                line_numbers=True,
                word_wrap=True,
                theme="ansi_dark",
                background_color="default",
            )
        )
    return Group(*parts)


def _findings(data: Review) -> RenderableType:
    lines = [Text("Lint findings", "bold")]
    if not data.findings:
        lines.append(Text("No findings.", "dim"))
    for f in data.findings:
        lines.append(
            Text.assemble(
                (f"{f.line}:{f.column} ", "dim"),
                (f"{f.severity} ", _SEVERITY_STYLE.get(f.severity, "")),
                (f"{f.code} ", "dim"),
                f.message,
            )
        )
    return Group(*lines)


def _test(data: Review) -> RenderableType:
    lines = [Text("Latest test", "bold")]
    test = data.test
    if test is None:
        lines.append(Text("No test run yet.", "dim"))
        return Group(*lines)
    stale = "" if test.revision == data.revision else f" (of revision {test.revision})"
    lines.append(Text(f"Run {test.run_id}: {test.status}{stale}"))
    for outcome in test.outcomes:
        detail = (outcome.error or outcome.output).strip().splitlines()
        lines.append(
            Text.assemble(
                (f"  {outcome.site} ", "bold"),
                outcome.status,
                (f"  {detail[-1]}" if detail else "", "dim"),
            )
        )
    return Group(*lines)


def _diff(data: Review) -> RenderableType:
    if not data.diff:
        return Text("")
    return Group(
        Text("Changes since the last approved version", "bold"),
        Syntax(
            "\n".join(data.diff),
            "diff",
            theme="ansi_dark",
            background_color="default",
            word_wrap=True,
        ),
    )


class ApprovalsScreen(DeskScreen[None]):
    """The requests waiting for the person at the desk, and the one under review."""

    SECTION = "approvals"
    CSS_PATH = "approvals.tcss"
    AUTO_FOCUS = "#approvals-table"
    HELP_TITLE = "Approvals"
    HELP = """\
Scripts waiting for **your** approval. Highlight one to review exactly what
will run: the rendered script per site, lint findings, the latest test, and
the changes since the last approved version.

`a` approves (the script is scheduled), `r` rejects with a reason for the
author. Nobody can approve a script they wrote, edited or asked approval for.
An edit of the script withdraws its request.
"""
    BINDINGS = [
        Binding("a", "approve", "Approve", tooltip="Approve and schedule the script"),
        Binding("r", "reject", "Reject", tooltip="Reject with a reason"),
        Binding("ctrl+r", "reload", "Refresh", show=False),
    ]

    REFRESH_SECONDS = 15.0
    """How often the queue re-reads the database (requests come and go)."""

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, PendingApproval] = {}
        self._reviewed: Review | None = None
        self._viewed: set[int] = set()

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Nothing waits for your approval.",
            id="approvals-empty",
            classes="empty-state",
        )
        with Horizontal(id="approvals-body"):
            yield DeskTable(COLUMNS, id="approvals-table")
            with VerticalScroll(id="approval-review", classes="details-pane"):
                yield Static("", id="review-facts")
                yield Static("", id="review-findings")
                yield Static("", id="review-test")
                yield Static("", id="review-script")
                yield Static("", id="review-diff")

    def on_mount(self) -> None:
        self.query_one(DeskTable).loading = True
        self.query_one("#approvals-empty").display = False
        self.set_interval(self.REFRESH_SECONDS, self._refresh_if_visible)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _refresh_if_visible(self) -> None:
        if self.is_current:
            self.action_reload()

    # -- the queue ---------------------------------------------------------------

    def action_reload(self) -> None:
        self.load_queue()

    @work(thread=True, exclusive=True, group="approvals-queue", exit_on_error=False)
    def load_queue(self) -> None:
        """Read the queue in a thread and hand it to the UI."""
        worker = get_current_worker()
        items = pending_for(self.desk.database, self.actor, now=self.desk.now())
        self.app.call_from_thread(self._show_queue, worker, items)

    def _show_queue(self, worker: Worker[None], items: list[PendingApproval]) -> None:
        if worker.is_cancelled:
            return
        table = self.query_one(DeskTable)
        table.loading = False
        self._items = {str(item.request_id): item for item in items}
        table.sync_rows([(str(item.request_id), _row(item)) for item in items])
        self.query_one("#approvals-empty").display = not items
        self.query_one("#approvals-body").display = bool(items)
        self._review_highlighted()

    def highlighted(self) -> PendingApproval | None:
        """The request under the cursor."""
        key = self.query_one(DeskTable).current_key
        return self._items.get(key) if key is not None else None

    # -- the review --------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _review_highlighted(self) -> None:
        item = self.highlighted()
        if item is None:
            self._show_review(None)
            return
        if self._reviewed is None or self._reviewed.request_id != item.request_id:
            self.load_review(item.request_id)

    @work(thread=True, exclusive=True, group="approvals-review", exit_on_error=False)
    def load_review(self, request_id: int) -> None:
        """Read one request's review in a thread; the first look is audited."""
        worker = get_current_worker()
        first_look = request_id not in self._viewed
        data = review(
            self.desk.database, request_id, viewer=self.actor, record_view=first_look
        )
        self._viewed.add(request_id)
        self.app.call_from_thread(self._show_loaded_review, worker, data)

    def _show_loaded_review(self, worker: Worker[None], data: Review) -> None:
        if not worker.is_cancelled:
            self._show_review(data)

    def _show_review(self, data: Review | None) -> None:
        self._reviewed = data
        parts = {
            "#review-facts": _facts,
            "#review-findings": _findings,
            "#review-test": _test,
            "#review-script": _script,
            "#review-diff": _diff,
        }
        for selector, render in parts.items():
            self.query_one(selector, Static).update(render(data) if data else "")
        self.refresh_bindings()

    # -- deciding ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject"):
            item = self.highlighted()
            return (
                item is not None
                and self._reviewed is not None
                and (self._reviewed.request_id == item.request_id)
            )
        return True

    def action_approve(self) -> None:
        data = self._reviewed
        if data is None:
            return
        sites = "1 site" if len(data.targets) == 1 else f"{len(data.targets)} sites"
        question = (
            f"Approve script {data.script_id}, “{data.description}”? It will run on "
            f"{sites} at {data.launch_local}."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.decide(data.request_id, approving=True, reason="")

        self.app.push_screen(
            ConfirmScreen(question, title="Approve", confirm_label="Approve"), answered
        )

    def action_reject(self) -> None:
        data = self._reviewed
        if data is None:
            return

        def given(reason: str | None) -> None:
            if reason:
                self.decide(data.request_id, approving=False, reason=reason)

        self.app.push_screen(RejectScreen(data.script_id, data.description), given)

    @work(thread=True, exclusive=True, group="approvals-decide", exit_on_error=False)
    def decide(self, request_id: int, *, approving: bool, reason: str) -> None:
        """Approve or reject in a thread; a refusal becomes a toast."""
        if approving:
            decision = approve(
                self.desk.database, self.actor, request_id, now=self.desk.now()
            )
            message = f"Script {decision.script_id} approved; it is scheduled."
        else:
            decision = reject(
                self.desk.database,
                self.actor,
                request_id,
                reason,
                now=self.desk.now(),
            )
            message = f"Script {decision.script_id} rejected."
        self.app.call_from_thread(self._decided, message)

    def _decided(self, message: str) -> None:
        self.notify(message, title="Done")
        self._reviewed = None
        self.action_reload()


class RejectScreen(DeskModal[str | None]):
    """Ask for the reason of a rejection; dismisses with it, or ``None``."""

    AUTO_FOCUS = "#reject-reason"
    HELP_TITLE = "Reject"
    HELP = "Say why, for the author: the reason is kept with the request."
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, script_id: int, description: str) -> None:
        super().__init__(classes="dialog-screen")
        self.script_id = script_id
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical(id="reject-dialog", classes="dialog"):
            yield Static(f"Reject script {self.script_id}", classes="dialog-title")
            yield Static(self.description, markup=False)
            yield Label("Reason (required)", classes="field-label")
            yield Input(
                placeholder="what must change", id="reject-reason", max_length=2000
            )
            yield Static("", id="reject-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="reject-cancel")
                yield Button("Reject", id="reject-confirm", variant="error")

    @on(Input.Submitted, "#reject-reason")
    @on(Button.Pressed, "#reject-confirm")
    def submit(self) -> None:
        reason = " ".join(self.query_one("#reject-reason", Input).value.split())
        if not reason:
            self.query_one("#reject-error", Static).update("Give a reason.")
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#reject-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

"""The Scripts section: every scheduled script, its state, and what to do next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from sdx_tui.backend.lifecycle import EDITABLE_SCRIPTS
from sdx_tui.backend.models import Role, Script, ScriptStatus
from sdx_tui.backend.scripts import cancel_script, list_scripts
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.screens.base import DeskScreen
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.script_actions import ask_to_request_authorization, ask_to_run_test
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.humanize import shorten_list
from sdx_tui.widgets.status_badge import status_label, status_text

CANCELLABLE = frozenset(
    {ScriptStatus.UNAUTHORIZED, ScriptStatus.SCHEDULED, ScriptStatus.LAUNCHED}
)
COLUMNS = [
    ("id", "#"),
    ("status", "State"),
    ("description", "Description"),
    ("targets", "Targets"),
    ("launch", "Launch"),
    ("author", "Author"),
]
DESCRIPTION_WIDTH = 48
LOAD_GROUP = "load-scripts"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class ScriptRow:
    """What the list shows of one script, read in a worker thread."""

    id: int
    status: ScriptStatus
    description: str
    targets: tuple[str, ...]
    launch: str
    author: str
    scheduled_launch: bool = False
    """Whether a launch time is set."""
    test_site: str | None = None

    @property
    def can_request_authorization(self) -> bool:
        """Whether it can be sent for approval as it stands."""
        return (
            self.status == ScriptStatus.UNAUTHORIZED
            and bool(self.targets)
            and self.scheduled_launch
        )

    @property
    def can_run_test(self) -> bool:
        """Whether Run Test can start now."""
        return self.test_site is not None and self.status in EDITABLE_SCRIPTS

    @classmethod
    def of(cls, script: Script) -> ScriptRow:
        """The row of a script loaded with its targets and author."""
        launch = format_in_zone(script.launch_at, script.time_zone) or "—"
        if script.recurrence:
            launch = f"{launch} ↻"
        return cls(
            id=script.id,
            status=script.status,
            description=script.description,
            targets=tuple(site.name for site in script.targets),
            launch=launch,
            author=script.author.os_user,
            scheduled_launch=script.launch_at is not None,
            test_site=script.test_site.name if script.test_site else None,
        )

    def cells(self, theme_variables: Mapping[str, str]) -> list[Any]:
        """The table cells, the state drawn as a badge."""
        return [
            str(self.id),
            status_text(self.status, theme_variables),
            _clip(self.description, DESCRIPTION_WIDTH),
            shorten_list(list(self.targets), keep=1),
            self.launch,
            self.author,
        ]


class ScriptsScreen(DeskScreen[None]):
    """The list of scripts, newest first."""

    SECTION = "scripts"
    AUTO_FOCUS = "#scripts-table"
    HELP_TITLE = "Scripts"
    HELP = """\
Every script of the desk, newest first, with its state. A new or edited script
is **unauthorized** until an approver signs it off; then it is **scheduled**
and is **launched** at its launch time.

Type `/` to filter by description and `s` to show one state only. `enter` (or a
click on the highlighted row) opens a script; `n` writes a new one; `c` cancels
the highlighted script after asking.

`r` asks the approvers to authorize the highlighted script (it needs targets, a
launch time and no lint errors); `t` runs it at once on its test site, without
approval. Both ask first.
"""
    BINDINGS = [
        Binding("n", "new_script", "New", tooltip="Write a new script"),
        Binding(
            "c", "cancel_script", "Cancel script", tooltip="Cancel it, after asking"
        ),
        Binding(
            "r",
            "request_authorization",
            "Request auth",
            tooltip="Ask the approvers to authorize it, after asking",
        ),
        Binding("t", "run_test", "Run test", tooltip="Run it on its test site now"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("s", "cycle_status", "State filter"),
        Binding("escape", "leave_filter", "Back to the list", show=False),
        Binding("ctrl+r", "reload", "Refresh", show=False),
    ]

    QUIET_REPEATS = frozenset({LOAD_GROUP})
    REFRESH_SECONDS = 5.0
    """How often the list re-reads the database (other desks change it too)."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, ScriptRow] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="scripts-filters", classes="filter-bar"):
            yield Input(placeholder="/ filter by description", id="script-filter")
            yield Select[ScriptStatus](
                [(status_label(status), status) for status in ScriptStatus],
                prompt="All states",
                id="status-filter",
            )
        yield Static("", id="scripts-empty", classes="empty-state")
        yield DeskTable(COLUMNS, id="scripts-table")

    def on_mount(self) -> None:
        self.query_one(DeskTable).loading = True
        self.query_one("#scripts-empty").display = False
        self.set_interval(self.REFRESH_SECONDS, self._refresh_if_visible)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _refresh_if_visible(self) -> None:
        if self.is_current:
            self.action_reload()

    def action_reload(self) -> None:
        status = self.query_one("#status-filter", Select).value
        statuses = [status] if isinstance(status, ScriptStatus) else None
        self.load_scripts(statuses, self.query_one("#script-filter", Input).value)

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def load_scripts(self, statuses: list[ScriptStatus] | None, search: str) -> None:
        """Read the list in a thread and hand the rows to the UI."""
        worker = get_current_worker()
        scripts = list_scripts(self.desk.database, statuses=statuses, search=search)
        rows = [ScriptRow.of(script) for script in scripts]
        self.app.call_from_thread(self._show_rows, worker, rows)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == LOAD_GROUP and event.state is WorkerState.ERROR:
            self.query_one(DeskTable).loading = False

    def _show_rows(self, worker: Worker[None], rows: list[ScriptRow]) -> None:
        # A newer load may have started since this one read the database.
        if worker.is_cancelled:
            return
        table = self.query_one(DeskTable)
        table.loading = False
        self._rows = {str(row.id): row for row in rows}
        variables = self.app.theme_variables
        table.sync_rows([(str(row.id), row.cells(variables)) for row in rows])

        empty = self.query_one("#scripts-empty", Static)
        filtered = bool(self.query_one("#script-filter", Input).value) or (
            self.query_one("#status-filter", Select).value is not Select.NULL
        )
        empty.update(
            "No script matches the filter."
            if filtered
            else "No scripts yet. Press n to write the first one."
        )
        empty.display = not rows
        self.refresh_bindings()

    def highlighted(self) -> ScriptRow | None:
        """The row under the cursor."""
        tables = self.query(DeskTable)
        key = tables.first().current_key if tables else None
        return self._rows.get(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_script":
            row = self.highlighted()
            return row is not None and row.status in CANCELLABLE
        if action in ("request_authorization", "run_test"):
            row = self.highlighted()
            if row is None or not self.actor.has(Role.OPERATOR):
                return False
            if action == "run_test":
                return row.can_run_test
            return row.can_request_authorization
        if action == "leave_filter":
            return (
                isinstance(self.focused, Input) and self.focused.id == "script-filter"
            )
        return True

    @on(DataTable.RowHighlighted)
    def row_highlighted(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def open_script(self, event: DataTable.RowSelected) -> None:
        from sdx_tui.screens.script_editor import ScriptEditorScreen

        if event.row_key.value is not None:
            self.app.push_screen(ScriptEditorScreen(int(event.row_key.value)))

    def action_new_script(self) -> None:
        from sdx_tui.screens.script_editor import ScriptEditorScreen

        self.app.push_screen(ScriptEditorScreen())

    def action_focus_filter(self) -> None:
        self.query_one("#script-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(DeskTable).focus()

    @on(Input.Changed, "#script-filter")
    @on(Select.Changed, "#status-filter")
    def filter_changed(self) -> None:
        self.action_reload()

    @on(Input.Submitted, "#script-filter")
    def filter_submitted(self) -> None:
        self.query_one(DeskTable).focus()

    def action_cycle_status(self) -> None:
        select = self.query_one("#status-filter", Select)
        order: list[Any] = [Select.NULL, *ScriptStatus]
        position = order.index(select.value) if select.value in order else 0
        following = order[(position + 1) % len(order)]
        if following is Select.NULL:
            select.clear()
        else:
            select.value = following

    def action_cancel_script(self) -> None:
        row = self.highlighted()
        if row is None or row.status not in CANCELLABLE:
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.cancel(row.id)

        self.app.push_screen(
            ConfirmScreen(
                f"Cancel script {row.id}, “{row.description}”? It will not run, "
                "and any approval it has is void. This cannot be undone.",
                title="Cancel script",
                confirm_label="Cancel script",
                cancel_label="Keep it",
                destructive=True,
            ),
            answered,
        )

    def action_request_authorization(self) -> None:
        row = self.highlighted()
        if row is not None and self.check_action("request_authorization", ()):
            ask_to_request_authorization(self, row.id, row.description)

    def action_run_test(self) -> None:
        row = self.highlighted()
        if row is not None and row.test_site and self.check_action("run_test", ()):
            ask_to_run_test(self, row.id, row.description, row.test_site)

    @work(thread=True, group="cancel-script", exit_on_error=False)
    def cancel(self, script_id: int) -> None:
        """Cancel in a thread; a refusal becomes a toast."""
        cancel_script(self.desk.database, self.actor, script_id)
        self.app.call_from_thread(self._cancelled, script_id)

    def _cancelled(self, script_id: int) -> None:
        self.notify(f"Script {script_id} is cancelled.", title="Cancelled")
        self.action_reload()

"""Write or change a script: content, targets, launch time and safety options."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Label, Select, Static, Switch, TextArea

from sdx_tui.backend import lifecycle
from sdx_tui.backend.errors import DeskError, InvalidInput
from sdx_tui.backend.models import Role, Script, ScriptStatus
from sdx_tui.backend.routeros.lint import Finding, lint
from sdx_tui.backend.routeros.schema import (
    CommandTree,
    find_cached_schema,
    load_cached_schema,
)
from sdx_tui.backend.routeros.versions import parse_version
from sdx_tui.backend.scripts import (
    ScriptChanges,
    create_script,
    edit_script,
    get_script,
)
from sdx_tui.backend.sites import list_sites
from sdx_tui.backend.timezones import in_zone, parse_launch_at
from sdx_tui.screens.base import DeskScreen, time_zone_choices
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.script_actions import (
    ask_to_request_authorization,
    ask_to_run_test,
    lint_refusal,
)
from sdx_tui.widgets.filtered_selection import FilteredSelectionList
from sdx_tui.widgets.findings import FindingsPanel
from sdx_tui.widgets.status_badge import StatusBadge

CONTENT_ID = "script-content"
EDITOR_MODULE = "sdx_tui.widgets.routeros_editor"
LINT_GROUP = "lint"


def content_editor(text: str) -> TextArea:
    """The RouterOS editor when this build has it, a plain TextArea otherwise."""
    try:
        from sdx_tui.widgets.routeros_editor import RouterOSEditor
    except ModuleNotFoundError as error:
        if error.name != EDITOR_MODULE:
            raise
        return TextArea(text, id=CONTENT_ID, show_line_numbers=True)
    editor: TextArea = RouterOSEditor(text, id=CONTENT_ID)
    return editor


@dataclass(frozen=True)
class EditorForm:
    """Everything the form holds, as text and choices; compared to spot changes."""

    description: str = ""
    content: str = ""
    targets: tuple[str, ...] = ()
    test_site: str | None = None
    launch_text: str = ""
    time_zone: str = "UTC"
    recurrence: str = ""
    make_backup: bool = False

    @classmethod
    def of(cls, script: Script) -> EditorForm:
        """The form filled from a stored script."""
        launch_text = ""
        if script.launch_at is not None:
            launch_text = in_zone(script.launch_at, script.time_zone).strftime(
                "%Y-%m-%d %H:%M"
            )
        return cls(
            description=script.description,
            content=script.content,
            targets=tuple(site.name for site in script.targets),
            test_site=script.test_site.name if script.test_site else None,
            launch_text=launch_text,
            time_zone=script.time_zone,
            recurrence=script.recurrence,
            make_backup=script.make_backup,
        )


@dataclass(frozen=True)
class LoadedScript:
    """What the editor reads before it can show a form."""

    sites: list[tuple[str, str]]
    form: EditorForm
    status: ScriptStatus | None
    revision: int
    versions: Mapping[str, str] = field(default_factory=dict)
    """The RouterOS version of each site, by name."""


@dataclass(frozen=True)
class LintRequest:
    """What one check is for: the script text and the version it targets."""

    text: str
    routeros_version: str | None


def lowest_version(versions: Iterable[str]) -> str | None:
    """The oldest RouterOS version among ``versions``: it allows the least."""
    parsed = []
    for version in versions:
        try:
            parsed.append((parse_version(version), version))
        except ValueError:
            continue
    return min(parsed)[1] if parsed else None


def command_tree(
    version: str | None, cache_dir: Path
) -> tuple[CommandTree | None, str]:
    """The cached command tree for ``version`` if there is one, and what was
    checked, in words."""
    if version is None:
        return None, "no target yet, so no version checks"
    cached = find_cached_schema(version, cache_dir)
    if cached is None:
        return None, f"RouterOS {version}; no command tree cached"
    try:
        tree = load_cached_schema(cached.version, cache_dir)
    except DeskError:
        return None, f"RouterOS {version}; the cached command tree is unreadable"
    return tree, f"RouterOS {version}, command tree {cached.version}"


class ScriptEditorScreen(DeskScreen[int | None]):
    """The editor of one script; dismisses with the script id once saved."""

    SECTION = "scripts"
    AUTO_FOCUS = ""
    HELP_TITLE = "Script editor"
    HELP = """\
Describe the change, write the RouterOS script, pick the sites it runs on, and
say when it launches (empty: not scheduled yet). A time without an offset is
read in the chosen time zone. Recurrence is a cron expression (minute hour day
month weekday) in that zone. **Make backup** saves the configuration before the
script runs; the **test site** is the one target used by Run Test.

The findings under the script are checked as you type, for the oldest
RouterOS version among the targets (and its command tree, when one is
cached). `enter` or a click on a finding puts the cursor where it is.

`ctrl+s` saves. Saving a change sends the script back to **unauthorized**: it
needs a new approval. If the desk refuses a value, the reason is shown under
the form and nothing you typed is lost.

Once saved, `ctrl+r` asks the approvers to authorize the script (it needs
targets, a launch time and no lint errors), and `ctrl+t` runs it at once on
its test site, without approval.
"""
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save the script"),
        Binding(
            "ctrl+r",
            "request_authorization",
            "Request authorization",
            priority=True,
            tooltip="Ask the approvers to authorize the saved script",
        ),
        Binding(
            "ctrl+t",
            "run_test",
            "Run test",
            priority=True,
            tooltip="Run the saved script on its test site now",
        ),
        Binding("escape", "close", "Close"),
    ]

    LINT_DELAY = 0.3
    """Seconds of quiet after a change before the script is checked again."""

    def __init__(self, script_id: int | None = None) -> None:
        super().__init__()
        self.script_id = script_id
        self.status: ScriptStatus | None = None
        self._initial: EditorForm | None = None
        self._unsaved = False
        self._versions: Mapping[str, str] = {}
        self._lint_timer: Timer | None = None
        self._lint_requested: LintRequest | None = None
        self._linted: LintRequest | None = None

    @property
    def editable(self) -> bool:
        """Whether the script can still be changed (and the form is loaded)."""
        return self._initial is not None and (
            self.status is None or self.status in lifecycle.EDITABLE_SCRIPTS
        )

    def compose_body(self) -> ComposeResult:
        zone_options, zone = time_zone_choices(self.desk.settings.time_zone)
        with Horizontal(id="editor-title-bar"):
            yield Static(self._title(None), id="editor-title")
            yield StatusBadge(id="editor-status")
            yield Static("", id="editor-notice", markup=False)
        with Vertical(id="editor-form"):
            yield Label("Description", classes="field-label")
            yield Input(
                placeholder="What the change does, for the approver",
                id="script-description",
            )
            with Horizontal(id="editor-columns"):
                with Vertical(id="editor-main"):
                    yield Label("Script", classes="field-label")
                    yield content_editor("")
                    yield FindingsPanel(id="script-findings")
                with Vertical(id="editor-side"):
                    yield Label("Targets", classes="field-label")
                    yield FilteredSelectionList(
                        placeholder="Filter sites", id="script-targets"
                    )
                    yield Label("Test site", classes="field-label")
                    yield Select[str]([], prompt="No test site", id="script-test-site")
            with Horizontal(id="editor-schedule"):
                with Vertical(classes="field", id="launch-field"):
                    yield Label("Launch at (empty: not yet)", classes="field-label")
                    yield Input(placeholder="2026-12-24 02:00", id="script-launch-at")
                with Vertical(classes="field", id="zone-field"):
                    yield Label("Time zone", classes="field-label")
                    yield Select[str](
                        zone_options,
                        allow_blank=False,
                        value=zone,
                        id="script-time-zone",
                    )
                with Vertical(classes="field", id="recurrence-field"):
                    yield Label("Recurrence (cron)", classes="field-label")
                    yield Input(placeholder="0 3 * * 1", id="script-recurrence")
                with Vertical(classes="field", id="backup-field"):
                    yield Label("Make backup", classes="field-label")
                    yield Switch(id="script-make-backup")
            yield Static("", id="form-error", classes="form-error", markup=False)

    def _title(self, revision: int | None) -> str:
        if self.script_id is None:
            return "New script"
        if revision is None:
            return f"Script {self.script_id}"
        return f"Script {self.script_id} · revision {revision}"

    def on_mount(self) -> None:
        self.query_one("#editor-form").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="editor-load", exit_on_error=False)
    def load(self) -> None:
        """Read the sites (and the script) in a thread, then fill the form."""
        database = self.desk.database
        stored = list_sites(database)
        sites = [
            (f"{site.name}  {' '.join(site.tags)}".rstrip(), site.name)
            for site in stored
        ]
        versions = {site.name: site.routeros_version for site in stored}
        if self.script_id is None:
            _, zone = time_zone_choices(self.desk.settings.time_zone)
            loaded = LoadedScript(sites, EditorForm(time_zone=zone), None, 0, versions)
        else:
            script = get_script(database, self.script_id)
            loaded = LoadedScript(
                sites, EditorForm.of(script), script.status, script.revision, versions
            )
        self.app.call_from_thread(self._fill, loaded)

    def _fill(self, loaded: LoadedScript) -> None:
        form = loaded.form
        self.status = loaded.status
        self._versions = loaded.versions
        self.query_one("#script-description", Input).value = form.description
        self.query_one(f"#{CONTENT_ID}", TextArea).load_text(form.content)
        self.query_one(FilteredSelectionList).set_items(loaded.sites, form.targets)
        self._offer_test_sites(list(form.targets), form.test_site)
        self.query_one("#script-launch-at", Input).value = form.launch_text
        self.query_one("#script-time-zone", Select).value = form.time_zone
        self.query_one("#script-recurrence", Input).value = form.recurrence
        self.query_one("#script-make-backup", Switch).value = form.make_backup

        self.query_one("#editor-title", Static).update(self._title(loaded.revision))
        if loaded.status is not None:
            self.query_one(StatusBadge).status = loaded.status
        self._initial = form
        if not self.editable:
            self._lock(loaded.status)
        self.query_one("#editor-form").loading = False
        self.query_one("#script-description", Input).focus()
        self.refresh_bindings()
        # The findings of a stored script show at once, not after a pause.
        self._lint_now()

    def _lock(self, status: ScriptStatus | None) -> None:
        self.query_one("#editor-notice", Static).update(
            f"This script is {status}; it can no longer be changed."
        )
        self.query_one(f"#{CONTENT_ID}", TextArea).read_only = True
        for selector in ("#script-description", "#editor-side", "#editor-schedule"):
            self.query_one(selector).disabled = True

    def _offer_test_sites(self, targets: list[str], chosen: str | None) -> None:
        select: Select[str] = self.query_one("#script-test-site", Select)
        current = chosen if chosen is not None else select.value
        select.set_options([(name, name) for name in targets])
        if isinstance(current, str) and current in targets:
            select.value = current

    @on(FilteredSelectionList.Changed)
    def targets_changed(self, event: FilteredSelectionList.Changed) -> None:
        self._offer_test_sites(event.picker.selected, None)
        self.form_changed()
        self._lint_soon()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    @on(TextArea.Changed)
    def form_changed(self) -> None:
        """Offer the keys for a saved script only while the form is unchanged."""
        if self._initial is None:
            return
        unsaved = self.read_form() != self._initial
        if unsaved != self._unsaved:
            self._unsaved = unsaved
            self.refresh_bindings()

    @on(TextArea.Changed, f"#{CONTENT_ID}")
    def content_changed(self) -> None:
        self._lint_soon()

    # -- live lint -------------------------------------------------------------

    def _lint_request(self) -> LintRequest:
        targets = self.query_one(FilteredSelectionList).selected
        return LintRequest(
            self.query_one(f"#{CONTENT_ID}", TextArea).text,
            lowest_version(self._versions.get(name, "") for name in targets),
        )

    def _lint_soon(self) -> None:
        """Check the script once the operator pauses; each change restarts it."""
        if self._lint_timer is not None:
            self._lint_timer.stop()
        self._lint_timer = self.set_timer(self.LINT_DELAY, self._lint_now)

    def _lint_now(self) -> None:
        self._lint_timer = None
        request = self._lint_request()
        if request != self._lint_requested:
            self._lint_requested = request
            self.lint_script(request)

    @work(thread=True, exclusive=True, group=LINT_GROUP, exit_on_error=False)
    def lint_script(self, request: LintRequest) -> None:
        """Check a snapshot of the script in a thread; slow on large scripts."""
        tree, checked = command_tree(
            request.routeros_version, self.desk.settings.schema_cache_dir
        )
        findings = lint(
            request.text, routeros_version=request.routeros_version, schema=tree
        )
        self.app.call_from_thread(self._show_findings, request, findings, checked)

    def _show_findings(
        self, request: LintRequest, findings: list[Finding], checked: str
    ) -> None:
        # The script may have changed while the thread worked; a newer check
        # follows then, and these findings would point at the wrong places.
        if request != self._lint_request():
            return
        self._linted = request
        self.query_one(FindingsPanel).show(findings, note=checked)

    def current_findings(self) -> tuple[Finding, ...] | None:
        """The findings of the script as it is now; None while it is being checked."""
        if self._linted is None or self._linted != self._lint_request():
            return None
        return self.query_one(FindingsPanel).findings

    @on(FindingsPanel.FindingSelected)
    def go_to_finding(self, event: FindingsPanel.FindingSelected) -> None:
        editor = self.query_one(f"#{CONTENT_ID}", TextArea)
        document = editor.document
        row = min(max(event.finding.line - 1, 0), document.line_count - 1)
        column = min(max(event.finding.column - 1, 0), len(document.get_line(row)))
        editor.move_cursor((row, column), center=True)
        editor.focus()

    def read_form(self) -> EditorForm:
        """The form as it is now."""
        test_site = self.query_one("#script-test-site", Select).value
        zone = self.query_one("#script-time-zone", Select).value
        return EditorForm(
            description=self.query_one("#script-description", Input).value,
            content=self.query_one(f"#{CONTENT_ID}", TextArea).text,
            targets=tuple(self.query_one(FilteredSelectionList).selected),
            test_site=test_site if isinstance(test_site, str) else None,
            launch_text=self.query_one("#script-launch-at", Input).value.strip(),
            time_zone=zone if isinstance(zone, str) else "UTC",
            recurrence=self.query_one("#script-recurrence", Input).value.strip(),
            make_backup=self.query_one("#script-make-backup", Switch).value,
        )

    @property
    def saved(self) -> bool:
        """Whether the form shows the stored script, with no change to save."""
        return (
            self.script_id is not None
            and self._initial is not None
            and not self._unsaved
        )

    def _may_send(self) -> bool:
        return self.saved and self.actor.has(Role.OPERATOR)

    def can_request_authorization(self) -> bool:
        """Whether ``ctrl+r`` can send the script for approval now."""
        initial = self._initial
        return (
            self._may_send()
            and initial is not None
            and self.status == ScriptStatus.UNAUTHORIZED
            and bool(initial.targets)
            and bool(initial.launch_text)
        )

    def can_run_test(self) -> bool:
        """Whether ``ctrl+t`` can start a test run now."""
        initial = self._initial
        return (
            self._may_send()
            and initial is not None
            and initial.test_site is not None
            and self.status in lifecycle.EDITABLE_SCRIPTS
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return self.editable
        if action == "request_authorization":
            return self.can_request_authorization()
        if action == "run_test":
            return self.can_run_test()
        return True

    def action_request_authorization(self) -> None:
        # A change typed since the footer was drawn makes the script unsaved.
        self.form_changed()
        if self.script_id is None or not self.can_request_authorization():
            return
        findings = self.current_findings() or ()
        errors = [finding for finding in findings if finding.is_error]
        if errors:
            self.notify(
                lint_refusal(self.script_id, errors),
                title="Not sent for approval",
                severity="error",
                timeout=10,
            )
            return
        description = self._initial.description if self._initial else ""
        ask_to_request_authorization(self, self.script_id, description)

    def action_run_test(self) -> None:
        self.form_changed()
        initial = self._initial
        if self.script_id is None or initial is None or not self.can_run_test():
            return
        assert initial.test_site is not None
        ask_to_run_test(self, self.script_id, initial.description, initial.test_site)

    def action_save(self) -> None:
        if not self.editable:
            return
        form = self.read_form()
        self._show_error("")
        try:
            launch_at = (
                parse_launch_at(form.launch_text, form.time_zone)
                if form.launch_text
                else None
            )
        except InvalidInput as error:
            self._show_error(str(error), field="#script-launch-at")
            return
        if self.script_id is not None and form == self._initial:
            self.notify("Nothing changed.")
            self.dismiss(self.script_id)
            return
        self.save(form, launch_at)

    @work(thread=True, exclusive=True, group="editor-save", exit_on_error=False)
    def save(self, form: EditorForm, launch_at: datetime | None) -> None:
        """Create or edit in a thread; a refusal is shown under the form."""
        database = self.desk.database
        try:
            if self.script_id is None:
                script = create_script(
                    database,
                    self.actor,
                    description=form.description,
                    content=form.content,
                    targets=form.targets,
                    launch_at=launch_at,
                    time_zone=form.time_zone,
                    recurrence=form.recurrence,
                    make_backup=form.make_backup,
                    test_site=form.test_site,
                )
            else:
                changes = self._changes(form, launch_at)
                script = edit_script(database, self.actor, self.script_id, changes)
        except DeskError as error:
            self.app.call_from_thread(self._show_error, str(error))
            return
        self.app.call_from_thread(self._saved, script.id)

    def _changes(self, form: EditorForm, launch_at: datetime | None) -> ScriptChanges:
        initial = self._initial or EditorForm()
        changed: dict[str, Any] = {}
        if form.description != initial.description:
            changed["description"] = form.description
        if form.content != initial.content:
            changed["content"] = form.content
        if form.targets != initial.targets:
            changed["targets"] = list(form.targets)
        if form.test_site != initial.test_site:
            changed["test_site"] = form.test_site
        if (form.launch_text, form.time_zone) != (
            initial.launch_text,
            initial.time_zone,
        ):
            changed["launch_at"] = launch_at
            changed["time_zone"] = form.time_zone
        if form.recurrence != initial.recurrence:
            changed["recurrence"] = form.recurrence
        if form.make_backup != initial.make_backup:
            changed["make_backup"] = form.make_backup
        return ScriptChanges(**changed)

    def _saved(self, script_id: int) -> None:
        if self.script_id is None:
            message = f"Script {script_id} is created; it waits for approval."
        else:
            message = f"Script {script_id} is saved; it needs a new approval."
        self.notify(message, title="Saved")
        self.dismiss(script_id)

    def _show_error(self, message: str, *, field: str = "") -> None:
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        self.query_one("#form-error", Static).update(message)
        if field:
            self.query_one(field).add_class("-invalid")
            self.query_one(field).focus()

    def action_close(self) -> None:
        if not self.editable or self.read_form() == self._initial:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen(
                "Your changes to this script are not saved. Discard them?",
                title="Discard changes",
                confirm_label="Discard",
                cancel_label="Keep editing",
                destructive=True,
            ),
            answered,
        )

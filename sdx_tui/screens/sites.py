"""The Sites section: the fleet, one site's details, and adding a site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.models import Role, Site
from sdx_tui.backend.sites import add_site, list_sites
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.screens.base import DeskModal, DeskScreen, time_zone_choices
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.humanize import ago

LOAD_GROUP = "load-sites"
COLUMNS = [
    ("name", "Site"),
    ("version", "RouterOS"),
    ("zone", "Time zone"),
    ("tags", "Tags"),
    ("seen", "Last seen"),
]


@dataclass(frozen=True)
class SiteRow:
    """What the list and the details pane show of one site."""

    name: str
    address: str
    routeros_version: str
    time_zone: str
    tags: tuple[str, ...]
    last_seen_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, site: Site) -> SiteRow:
        """The row of a stored site."""
        return cls(
            name=site.name,
            address=site.address,
            routeros_version=site.routeros_version,
            time_zone=site.time_zone,
            tags=tuple(site.tags),
            last_seen_at=site.last_seen_at,
            created_at=site.created_at,
        )

    def cells(self, now: datetime) -> list[Any]:
        """The table cells; "last seen" relative to ``now``."""
        return [
            self.name,
            self.routeros_version,
            self.time_zone,
            ", ".join(self.tags),
            ago(self.last_seen_at, now),
        ]

    def details(self, now: datetime) -> Content:
        """The details pane."""
        seen = ago(self.last_seen_at, now)
        if self.last_seen_at is not None:
            seen = f"{seen} ({format_in_zone(self.last_seen_at, self.time_zone)})"
        facts = [
            ("Address", self.address or "—"),
            ("RouterOS", self.routeros_version),
            ("Time zone", self.time_zone),
            ("Tags", ", ".join(self.tags) or "—"),
            ("Last seen", seen),
            ("Added", format_in_zone(self.created_at, self.time_zone)),
            ("Token", "only its hash is kept"),
        ]
        lines = [Content.styled(self.name, "bold $text-primary"), Content("")]
        lines.extend(
            Content.assemble((f"{label:<10}", "$text-muted"), " ", value)
            for label, value in facts
        )
        return Content("\n").join(lines)


class SitesScreen(DeskScreen[None]):
    """Every site of the desk, with the highlighted one's details beside."""

    SECTION = "sites"
    AUTO_FOCUS = "#sites-table"
    HELP_TITLE = "Sites"
    HELP = """\
The RouterOS devices of the fleet. Each polls the desk for work with its own
token; **last seen** is its latest poll. Highlight a site to see its details.

`a` adds a site (admins only) and shows its token once: copy it then, because
the desk keeps only its hash. `/` filters by name.
"""
    BINDINGS = [
        Binding("a", "add_site", "Add site", tooltip="Add a site and show its token"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("escape", "leave_filter", "Back to the list", show=False),
        Binding("r", "reload", "Refresh", show=False),
    ]

    QUIET_REPEATS = frozenset({LOAD_GROUP})
    REFRESH_SECONDS = 10.0
    """How often the list re-reads the database ("last seen" moves on)."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, SiteRow] = {}
        self._wanted_key: str | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="sites-filters", classes="filter-bar"):
            yield Input(placeholder="/ filter by name", id="site-filter")
        yield Static("", id="sites-empty", classes="empty-state")
        with Horizontal(id="sites-body"):
            yield DeskTable(COLUMNS, id="sites-table")
            with VerticalScroll(id="site-details", classes="details-pane"):
                yield Static("", id="site-details-body")

    def on_mount(self) -> None:
        self.query_one(DeskTable).loading = True
        self.query_one("#sites-empty").display = False
        self.set_interval(self.REFRESH_SECONDS, self._refresh_if_visible)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _refresh_if_visible(self) -> None:
        if self.is_current:
            self.action_reload()

    def action_reload(self) -> None:
        self.load_sites(self.query_one("#site-filter", Input).value)

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def load_sites(self, search: str) -> None:
        """Read the sites in a thread and hand the rows to the UI."""
        worker = get_current_worker()
        rows = [
            SiteRow.of(site) for site in list_sites(self.desk.database, search=search)
        ]
        self.app.call_from_thread(self._show_rows, worker, rows)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == LOAD_GROUP and event.state is WorkerState.ERROR:
            self.query_one(DeskTable).loading = False

    def _show_rows(self, worker: Worker[None], rows: list[SiteRow]) -> None:
        if worker.is_cancelled:
            return
        now = self.desk.now()
        table = self.query_one(DeskTable)
        table.loading = False
        self._rows = {row.name: row for row in rows}
        table.sync_rows([(row.name, row.cells(now)) for row in rows])
        if self._wanted_key is not None and table.move_to_key(self._wanted_key):
            self._wanted_key = None

        empty = self.query_one("#sites-empty", Static)
        empty.update(
            "No site matches the filter."
            if self.query_one("#site-filter", Input).value
            else "No sites yet. An admin adds one with a."
        )
        empty.display = not rows
        self._show_details()

    def highlighted(self) -> SiteRow | None:
        """The site under the cursor."""
        tables = self.query(DeskTable)
        key = tables.first().current_key if tables else None
        return self._rows.get(key) if key is not None else None

    @on(DataTable.RowHighlighted)
    def _show_details(self) -> None:
        row = self.highlighted()
        body = self.query_one("#site-details-body", Static)
        body.update(row.details(self.desk.now()) if row else "")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_site":
            return self.actor.has(Role.ADMIN)
        if action == "leave_filter":
            return isinstance(self.focused, Input) and self.focused.id == "site-filter"
        return True

    def action_add_site(self) -> None:
        def added(name: str | None) -> None:
            if name:
                self._wanted_key = name
                self.action_reload()

        self.app.push_screen(AddSiteScreen(), added)

    def action_focus_filter(self) -> None:
        self.query_one("#site-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(DeskTable).focus()

    @on(Input.Changed, "#site-filter")
    def filter_changed(self) -> None:
        self.action_reload()

    @on(Input.Submitted, "#site-filter")
    def filter_submitted(self) -> None:
        self.query_one(DeskTable).focus()


class AddSiteScreen(DeskModal[str | None]):
    """Add a site; then show its new token, once. Dismisses with the site name."""

    AUTO_FOCUS = "#site-name"
    HELP_TITLE = "Add site"
    HELP = """\
Name the site (letters, digits, `.`, `_`, `-`), give its RouterOS version and
time zone, and optional tags such as `core,berlin`. The desk then shows the
site's token **once**: copy it into the site's agent script. Only its hash is
stored; a lost token is replaced with `sdx site rotate-token`.
"""
    BINDINGS = [
        Binding("ctrl+s", "save", "Add", priority=True),
        Binding("c", "copy_token", "Copy token"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.site_name: str | None = None
        self._token = ""

    def compose(self) -> ComposeResult:
        zones, zone = time_zone_choices(self.desk.settings.time_zone)
        with Vertical(id="add-site", classes="dialog"):
            yield Static("Add site", classes="dialog-title")
            with Vertical(id="add-site-form"):
                yield Label("Name", classes="field-label")
                yield Input(placeholder="core-berlin-1", id="site-name")
                yield Label("Address (optional)", classes="field-label")
                yield Input(placeholder="10.0.0.1", id="site-address")
                with Horizontal(classes="field-row"):
                    with Vertical(classes="field"):
                        yield Label("RouterOS version", classes="field-label")
                        yield Input("7.16", id="site-version")
                    with Vertical(classes="field"):
                        yield Label("Time zone", classes="field-label")
                        yield Select[str](
                            zones,
                            allow_blank=False,
                            value=zone,
                            id="site-time-zone",
                        )
                yield Label("Tags (comma separated)", classes="field-label")
                yield Input(placeholder="core,berlin", id="site-tags")
                yield Static("", id="form-error", classes="form-error", markup=False)
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Cancel", id="add-site-cancel")
                    yield Button("Add site", id="add-site-save", variant="primary")
            with Vertical(id="add-site-token"):
                yield Static("", id="token-intro", markup=False)
                yield Static("", id="token-value", markup=False)
                yield Static(
                    "Copy it now: the desk keeps only its hash and cannot show it "
                    "again. Press c to copy it to the clipboard, or select it with "
                    "the mouse.",
                    id="token-hint",
                )
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Copy token", id="copy-token")
                    yield Button("Done", id="add-site-done", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#add-site-token").display = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return self.site_name is None
        if action == "copy_token":
            return bool(self._token)
        return True

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "site-tags":
            self.action_save()
        else:
            self.focus_next()

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "add-site-save": self.action_save,
            "add-site-cancel": self.action_close,
            "add-site-done": self.action_close,
            "copy-token": self.action_copy_token,
        }
        if event.button.id in actions:
            actions[event.button.id]()

    def action_save(self) -> None:
        if self.site_name is not None:
            return
        self.query_one("#form-error", Static).update("")
        zone = self.query_one("#site-time-zone", Select).value
        self.add(
            name=self.query_one("#site-name", Input).value,
            address=self.query_one("#site-address", Input).value,
            version=self.query_one("#site-version", Input).value,
            time_zone=zone if isinstance(zone, str) else "UTC",
            tags=self.query_one("#site-tags", Input).value,
        )

    @work(thread=True, exclusive=True, group="add-site", exit_on_error=False)
    def add(
        self, *, name: str, address: str, version: str, time_zone: str, tags: str
    ) -> None:
        """Add the site in a thread; a refusal is shown in the form."""
        try:
            site, token = add_site(
                self.desk.database,
                self.actor,
                name,
                routeros_version=version,
                time_zone=time_zone,
                tags=tags,
                address=address,
            )
        except DeskError as error:
            self.app.call_from_thread(self._refused, str(error))
            return
        self.app.call_from_thread(self._added, site.name, token)

    def _refused(self, message: str) -> None:
        self.query_one("#form-error", Static).update(message)

    def _added(self, name: str, token: str) -> None:
        self.site_name = name
        self._token = token
        self.query_one("#add-site-form").display = False
        self.query_one("#add-site-token").display = True
        self.query_one("#token-intro", Static).update(
            f"Site {name} is added. Its token, shown this once:"
        )
        self.query_one("#token-value", Static).update(token)
        self.query_one("#add-site-done", Button).focus()
        self.refresh_bindings()

    def action_copy_token(self) -> None:
        if self._token:
            self.app.copy_to_clipboard(self._token)
            self.notify("The token is on the clipboard.", title="Copied")

    def action_close(self) -> None:
        self.dismiss(self.site_name)

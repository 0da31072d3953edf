"""The Sites section: the fleet, a site's details, adding a site, pushing its agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Label, Select, Static, Switch
from textual.worker import Worker, WorkerState, get_current_worker

from sdx_tui.backend.agent_push import (
    API_PORT,
    API_SSL_PORT,
    AgentPushError,
    check_login,
    push_agent,
)
from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.models import Role, Site
from sdx_tui.backend.routeros.render import agent_entries
from sdx_tui.backend.sites import add_site, list_sites, new_token, rotate_token
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.config import EndpointSettings
from sdx_tui.screens.base import DeskModal, DeskScreen, time_zone_choices
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.humanize import ago

LOAD_GROUP = "load-sites"
PUSH_TIMEOUT = 10.0
"""Seconds to wait for the device at each step of a push."""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")
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
the desk keeps only its hash. `p` pushes the polling agent onto the highlighted
site's device through the RouterOS API (admins only): the site gets a new token
that only the device ever holds. `/` filters by name.
"""
    BINDINGS = [
        Binding("a", "add_site", "Add site", tooltip="Add a site and show its token"),
        Binding(
            "p",
            "push_agent",
            "Push agent",
            tooltip="Install the polling agent on the device through its API",
        ),
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
        if action == "push_agent":
            return self.actor.has(Role.ADMIN) and self.highlighted() is not None
        if action == "leave_filter":
            return isinstance(self.focused, Input) and self.focused.id == "site-filter"
        return True

    def action_add_site(self) -> None:
        def added(name: str | None) -> None:
            if name:
                self._wanted_key = name
                self.action_reload()

        self.app.push_screen(AddSiteScreen(), added)

    def action_push_agent(self) -> None:
        row = self.highlighted()
        if row is not None and self.actor.has(Role.ADMIN):
            self.app.push_screen(PushAgentScreen(row.name, row.address))

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


@dataclass(frozen=True)
class DeviceLogin:
    """How to reach a device's API; the password stays out of every repr."""

    address: str
    port: int | None
    username: str
    password: str = field(repr=False)
    use_ssl: bool = False


def devices_cannot_reach(endpoint: EndpointSettings) -> bool:
    """Whether the agent would poll an address that only this host can reach."""
    return not endpoint.public_url and endpoint.host in LOCAL_HOSTS


class PushAgentScreen(DeskModal[str | None]):
    """Push the polling agent onto a site's device; dismisses with what was done.

    The password is used for this one push and then forgotten: it is never
    stored, logged or kept in the form after an attempt.
    """

    CSS_PATH = "sites.tcss"
    HELP_TITLE = "Push agent"
    HELP = """\
The desk logs in to the device's RouterOS API (port 8728, or 8729 with TLS,
whose certificate must be trusted), gives the site a **new token** and writes
the polling agent with it onto the device, replacing an older agent. A wrong
password or a closed port is found before the token changes, so the agent on
the device keeps working. The password is used once and not kept.
"""
    BINDINGS = [
        Binding("ctrl+s", "push", "Push agent", priority=True),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, site_name: str, address: str) -> None:
        super().__init__(classes="dialog-screen")
        self.site_name = site_name
        self.address = address
        self.pushing = False

    def compose(self) -> ComposeResult:
        with Vertical(id="push-agent", classes="dialog"):
            yield Static(f"Push agent to {self.site_name}", classes="dialog-title")
            yield Static(
                "The site gets a new token, written straight onto the device.",
                id="push-intro",
            )
            with Horizontal(classes="field-row"):
                with Vertical(classes="field"):
                    yield Label("API address", classes="field-label")
                    yield Input(self.address, placeholder="10.0.0.1", id="push-address")
                with Vertical(classes="field", id="push-port-field"):
                    yield Label("Port", classes="field-label")
                    yield Input(
                        placeholder=str(API_PORT), type="integer", id="push-port"
                    )
            with Horizontal(classes="field-row"):
                with Vertical(classes="field"):
                    yield Label("RouterOS user", classes="field-label")
                    yield Input("admin", id="push-user")
                with Vertical(classes="field"):
                    yield Label("Password", classes="field-label")
                    yield Input(password=True, id="push-password")
            with Horizontal(classes="field-row", id="push-tls-row"):
                yield Switch(id="push-tls")
                yield Static(
                    f"TLS (api-ssl, port {API_SSL_PORT}; the certificate is checked)",
                    id="push-tls-label",
                )
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="push-cancel")
                yield Button("Push agent", id="push-go", variant="primary")

    def on_mount(self) -> None:
        first_empty = "#push-password" if self.address else "#push-address"
        self.query_one(first_empty, Input).focus()

    @on(Switch.Changed, "#push-tls")
    def tls_changed(self, event: Switch.Changed) -> None:
        port = API_SSL_PORT if event.value else API_PORT
        self.query_one("#push-port", Input).placeholder = str(port)

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "push-password":
            self.action_push()
        else:
            self.focus_next()

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "push-go":
            self.action_push()
        elif event.button.id == "push-cancel":
            self.action_close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "push":
            return not self.pushing
        return True

    def action_push(self) -> None:
        if self.pushing:
            return
        address = self.query_one("#push-address", Input).value.strip()
        port_text = self.query_one("#push-port", Input).value.strip()
        if not address:
            self._refused("Give the device's API address.", field="#push-address")
            return
        port = int(port_text) if port_text.isdigit() else None
        if port_text and (port is None or not 0 < port < 65536):
            self._refused("The port is a number from 1 to 65535.", field="#push-port")
            return
        password = self.query_one("#push-password", Input)
        login = DeviceLogin(
            address=address,
            port=port,
            username=self.query_one("#push-user", Input).value.strip(),
            password=password.value,
            use_ssl=self.query_one("#push-tls", Switch).value,
        )
        password.clear()
        self._refused("")
        self.pushing = True
        self.query_one("#push-agent").loading = True
        self.refresh_bindings()
        self.push(login)

    @work(
        thread=True,
        exclusive=True,
        group="push-agent",
        exit_on_error=False,
        description="push the agent",
    )
    def push(self, login: DeviceLogin) -> None:
        """Log in, rotate the token and push the agent, as `sdx site push-agent`."""
        settings = self.desk.settings
        endpoint = settings.endpoint
        base_url = endpoint.base_url()
        interval = endpoint.poll_interval
        device: dict[str, Any] = {
            "address": login.address,
            "port": login.port,
            "username": login.username,
            "password": login.password,
            "use_ssl": login.use_ssl,
            "timeout": PUSH_TIMEOUT,
        }
        try:
            # What can fail before the device is touched fails before the
            # token changes, so a failed push leaves the current agent working.
            agent_entries(
                site_name=self.site_name,
                base_url=base_url,
                token=new_token(),
                interval_seconds=interval,
            )
            check_login(**device)
            token = rotate_token(self.desk.database, self.actor, self.site_name)
            try:
                result = push_agent(
                    **device,
                    site_name=self.site_name,
                    base_url=base_url,
                    token=token,
                    interval_seconds=interval,
                )
            except AgentPushError as error:
                raise type(error)(
                    f"{str(error).rstrip('.')}. {self.site_name} has a new token "
                    "already, so an agent left on the device cannot poll until a "
                    "push succeeds."
                ) from None
        except DeskError as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        self.app.call_from_thread(
            self._pushed, result.describe(), devices_cannot_reach(endpoint), base_url
        )

    def _failed(self, message: str) -> None:
        self.pushing = False
        self.query_one("#push-agent").loading = False
        self._refused(message, field="#push-password")
        self.refresh_bindings()

    def _pushed(self, described: str, unreachable: bool, base_url: str) -> None:
        message = f"{described[0].upper()}{described[1:]}."
        self.notify(message, title="Agent pushed")
        if unreachable:
            self.notify(
                f"endpoint.public_url is not set, so the device will poll {base_url},"
                " which it cannot reach; set it in the settings and push again.",
                title="The device cannot reach the desk",
                severity="warning",
                timeout=15,
            )
        self.dismiss(described)

    def _refused(self, message: str, *, field: str = "") -> None:
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        self.query_one("#form-error", Static).update(message)
        if field:
            self.query_one(field).focus()
            if message and field != "#push-password":
                self.query_one(field).add_class("-invalid")

    def action_close(self) -> None:
        if not self.pushing:
            self.dismiss(None)

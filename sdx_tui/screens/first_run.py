"""The first start on an empty database: name the organisation and its admin."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static
from textual.worker import Worker

from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.identity import Actor, current_actor, initialise
from sdx_tui.screens.base import desk_of, report_worker_failure


class FirstRunScreen(Screen[Actor | None]):
    """Creates the organisation and makes the OS user its admin.

    Dismisses with the new admin's actor; ``None`` if the person quits instead.
    """

    AUTO_FOCUS = "#first-run-organisation"
    HELP_TITLE = "First run"
    HELP = """\
This desk has no organisation yet. Give its name, and your name and e-mail
address: you become the organisation's admin, with every role. You can add
sites, users and more organisations once the desk is set up.
"""
    BINDINGS = [
        Binding("ctrl+s", "create", "Create desk", priority=True),
        Binding("escape", "leave", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        os_user = desk_of(self).os_user
        yield Header()
        with Center(), Vertical(id="first-run", classes="form-panel"):
            yield Static("Welcome to SDX desk", classes="form-title")
            yield Static(
                "This desk has no organisation yet. Name it, and tell us who you "
                f"are: you (OS user {os_user}) will be its admin.",
                id="first-run-intro",
                markup=False,
            )
            yield Label("Organisation", classes="field-label")
            yield Input(placeholder="Example NOC", id="first-run-organisation")
            yield Label("Your name", classes="field-label")
            yield Input(placeholder=os_user, id="first-run-display-name")
            yield Label("Your e-mail address", classes="field-label")
            yield Input(placeholder="you@example.com", id="first-run-email")
            yield Static("", id="form-error", classes="form-error", markup=False)
            yield Button("Create desk", id="first-run-create", variant="primary")
        yield Footer()

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "first-run-email":
            self.action_create()
        else:
            self.focus_next()

    @on(Button.Pressed, "#first-run-create")
    def create_pressed(self) -> None:
        self.action_create()

    def action_create(self) -> None:
        self.query_one("#form-error", Static).update("")
        self.create_desk(
            self.query_one("#first-run-organisation", Input).value,
            self.query_one("#first-run-display-name", Input).value,
            self.query_one("#first-run-email", Input).value,
        )

    def action_leave(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="first-run", exit_on_error=False)
    def create_desk(self, organisation: str, display_name: str, email: str) -> None:
        """Initialise the database in a thread; show a refusal under the form."""
        desk = desk_of(self)
        try:
            initialise(
                desk.database,
                organisation=organisation,
                admin=desk.os_user,
                display_name=display_name,
                email=email,
            )
            actor = current_actor(desk.database, "tui", desk.os_user)
        except DeskError as error:
            self.app.call_from_thread(self._refused, str(error))
            return
        self.app.call_from_thread(self.dismiss, actor)

    def _refused(self, message: str) -> None:
        self.query_one("#form-error", Static).update(message)
        self.query_one("#first-run-organisation", Input).focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)

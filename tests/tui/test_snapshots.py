"""Pictures of every screen of the desk shell, each a short story.

Run with ``--snapshot-update`` after a deliberate change of the UI, then look at
the new pictures before committing them.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from sdx_tui.app import create_app
from sdx_tui.config import Settings
from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.screens.sites import PushAgentScreen
from sdx_tui.widgets.findings import FindingsPanel
from tests.tui.conftest import FIXED_NOW, SIZE, AppFactory, Fleet, settle, wait_until


def test_scripts_list(snap_compare: Any, make_app: AppFactory) -> None:
    """The Scripts section as olivia opens the desk.

    The header names the organisation and olivia with her role; the Scripts tab
    is highlighted; six scripts are listed newest first, each state in its own
    colour (unauthorized, failed, completed, cancelled, launched, scheduled);
    launch times are shown in each script's zone, the weekly one marked ↻;
    targets show the first site and how many more. The footer offers Open,
    New, Filter and State filter, but not Cancel script: the highlighted script
    has failed already.
    """
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settle)


def test_scripts_filtered_by_state(snap_compare: Any, make_app: AppFactory) -> None:
    """Pressing ``s`` twice shows only scheduled scripts: one row, "Rotate the
    SNMP community", and the state filter reads "scheduled"."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("s", "s")
        await wait_until(
            pilot,
            lambda: pilot.app.screen.query_one("#scripts-table").row_count == 1,
            what="the filtered list",
        )
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_scripts_no_match(snap_compare: Any, make_app: AppFactory) -> None:
    """Typing a filter that matches nothing empties the table and says so."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"zzz")
        await wait_until(
            pilot,
            lambda: pilot.app.screen.query_one("#scripts-table").row_count == 0,
            what="the empty list",
        )
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_cancel_asks_first(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """``c`` on the unauthorized "Enable the NTP client" opens a dialog naming
    script 1 and its description, with "Keep it" focused and a red "Cancel
    script" button."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#scripts-table").move_to_key(
            str(fleet.scripts["ntp"])
        )
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_new_script_editor(snap_compare: Any, make_app: AppFactory) -> None:
    """``n`` opens an empty editor titled "New script": description, an empty
    content editor, the four sites to pick from, no test site, the launch time
    and recurrence fields with examples, UTC, and backup off. Under the script,
    "No findings" and that no target means no version checks. ``ctrl+s`` Save
    is in the footer, but neither Request authorization nor Run test: the
    script is not saved yet."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_existing_script_editor(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """Opening "Enable the NTP client" shows it filled in: revision 1 and an
    unauthorized badge, both Berlin sites ticked, core-berlin-1 as test site,
    launch at 02:00 Europe/Berlin (01:00 UTC), and backup switched on. The
    findings read "No findings", checked for RouterOS 7.15. The footer offers
    Save, ``^r`` Request authorization and ``^t`` Run test."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#scripts-table").move_to_key(
            str(fleet.scripts["ntp"])
        )
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_editor_shows_a_refusal_inline(snap_compare: Any, make_app: AppFactory) -> None:
    """Saving a new script with a launch time that is not a time keeps every
    field as typed, frames the launch field in red, and explains under the form
    what an ISO-8601 time looks like."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#script-description", Input).value = "Set the DNS servers"
        screen.query_one("#script-launch-at", Input).value = "tomorrow morning"
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: screen.query_one("#script-launch-at").has_class("-invalid"),
            what="the inline error",
        )
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_editor_with_findings(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """Typing two lines into "Enable the NTP client": an unguarded ``add`` and a
    string left open. The findings under the script read "1 error, 1 warning"
    in red, checked for RouterOS 7.15 (the older Berlin site) with no command
    tree cached; the RSC201 warning wraps over three lines, then the RSC003
    error points at line 3. The script is unsaved, so the footer offers Save
    and Close but neither Request authorization nor Run test."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#scripts-table").move_to_key(
            str(fleet.scripts["ntp"])
        )
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        editor = screen.query_one(TextArea)
        editor.focus()
        editor.move_cursor(editor.document.end)
        await pilot.press(*"/ip address add address=10.0.0.1/24", "enter")
        await pilot.press(*':log info "done', "enter")
        await wait_until(
            pilot,
            lambda: len(screen.query_one(FindingsPanel).findings) == 2,
            what="the findings",
        )
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_push_agent_dialog(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """``p`` on core-berlin-1 as the admin: "Push agent to core-berlin-1", the
    site's address 10.0.13.1 filled in, port 8728 as a hint, user admin, the
    password field focused and empty, TLS off, Cancel and Push agent."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PushAgentScreen))
        await settle(pilot)

    app = make_app(fleet.desk.admin)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_launched_script_is_read_only(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """A launched script opens read-only: a notice says it can no longer be
    changed, its fields are dimmed, and Save is gone from the footer, as are
    Request authorization and Run test. Its findings are still shown ("No
    findings", for edge-paris-1's RouterOS 7.13)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#scripts-table").move_to_key(
            str(fleet.scripts["export"])
        )
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_sites_list(snap_compare: Any, make_app: AppFactory, fleet: Fleet) -> None:
    """F3 as the admin: the Sites tab is highlighted, four sites with versions,
    zones, tags and "last seen" relative to the desk clock (3 min, 2 h, 3 d,
    never); the details pane shows core-berlin-1. "a Add site" and "p Push
    agent" are offered."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)

    app = make_app(fleet.desk.admin)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sites_for_an_operator(
    snap_compare: Any, make_app: AppFactory, fleet: Fleet
) -> None:
    """An operator sees the same list with lab-1 highlighted, but no Add site
    key: only admins add sites."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("j", "j", "j")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_add_site_dialog(snap_compare: Any, make_app: AppFactory, fleet: Fleet) -> None:
    """``a`` on the Sites screen opens the Add site dialog: name (focused),
    address, RouterOS version 7.16, time zone UTC, tags, Cancel and Add site."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)

    app = make_app(fleet.desk.admin)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_for_the_scripts_screen(snap_compare: Any, make_app: AppFactory) -> None:
    """F1 on the Scripts screen explains the states, ``r`` and ``t``, and lists
    the keys that work there, from Open and New to ``^r`` Refresh, the section
    keys F2-F5 and quit. The highlighted script has failed, so neither Request
    auth nor Run test is among the keys."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_first_run(snap_compare: Any, sqlite_db: Any, settings: Settings) -> None:
    """On an empty database the desk greets the OS user (here "olivia"), and asks
    for the organisation, her name and her e-mail address; the header says
    "first run", and neither section tabs nor section keys are offered."""
    app = create_app(
        settings, database=sqlite_db, clock=lambda: FIXED_NOW, os_user="olivia"
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)

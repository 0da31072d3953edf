"""The Sites section: browsing the fleet and adding a site with its token."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Static

from sdx_tui.app import DeskApp
from sdx_tui.backend.sites import get_site, list_sites, token_matches
from sdx_tui.screens.sites import AddSiteScreen, SitesScreen
from sdx_tui.widgets.desk_table import DeskTable
from tests.tui.conftest import SIZE, AppFactory, Fleet, settle, wait_until


def table(app: DeskApp) -> DeskTable:
    return app.screen.query_one("#sites-table", DeskTable)


def details(app: DeskApp) -> str:
    return str(app.screen.query_one("#site-details-body", Static).render())


async def open_sites(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("f3")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SitesScreen))
    await settle(pilot)


async def test_add_a_site_and_copy_its_token(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_sites(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddSiteScreen))
        dialog = app.screen

        await pilot.press(*"core-rome-1", "tab", *"10.9.0.1", "tab")
        version = dialog.query_one("#site-version", Input)
        version.value = "7.14"
        dialog.query_one("#site-tags", Input).value = "core,rome"
        dialog.query_one("#site-tags", Input).focus()
        await pilot.press("enter")

        token_view = dialog.query_one("#add-site-token")
        await wait_until(pilot, lambda: token_view.display, what="the token")
        shown = str(dialog.query_one("#token-value", Static).render())
        assert dialog.check_action("save", ()) is False

        await pilot.press("c")
        assert app.clipboard == shown
        await pilot.click("#add-site-done")
        await wait_until(pilot, lambda: table(app).current_key == "core-rome-1")
        assert "10.9.0.1" in details(app)

    site = get_site(fleet.desk.db, "core-rome-1")
    assert token_matches(shown, site.token_hash)
    assert shown not in site.token_hash
    assert (site.address, site.routeros_version, site.tags) == (
        "10.9.0.1",
        "7.14",
        ["core", "rome"],
    )


async def test_a_refused_site_keeps_the_form(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_sites(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddSiteScreen))
        dialog = app.screen
        dialog.query_one("#site-name", Input).value = "lab-1"
        dialog.query_one("#site-tags", Input).value = "lab"
        await pilot.press("ctrl+s")

        error = dialog.query_one("#form-error", Static)
        await wait_until(pilot, lambda: "exists already" in str(error.render()))
        assert dialog.query_one("#add-site-form").display
        assert dialog.query_one("#site-tags", Input).value == "lab"

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, SitesScreen))

    assert len(list_sites(fleet.desk.db)) == 4


async def test_operators_cannot_add_sites(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_sites(pilot)
        assert app.screen.check_action("add_site", ()) is False
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, SitesScreen)
        assert "Add site" not in [command.title for command in app.desk_commands()]


async def test_details_follow_the_cursor_and_the_filter(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_sites(pilot)
        assert "core-berlin-1" in details(app)
        assert "3 min ago" in details(app)

        await pilot.press("j")
        await wait_until(pilot, lambda: "core-berlin-2" in details(app))
        assert "7.15" in details(app)

        await pilot.press("slash", *"paris")
        await wait_until(pilot, lambda: table(app).row_keys() == ["edge-paris-1"])
        assert "edge-paris-1" in details(app)
        assert "3 d ago" in details(app)

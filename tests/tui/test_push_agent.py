"""Pushing the polling agent from the Sites section onto a RouterOS API peer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from sdx_tui.app import DeskApp
from sdx_tui.backend.sites import get_site, token_matches
from sdx_tui.screens.sites import DeviceLogin, PushAgentScreen, SitesScreen
from sdx_tui.widgets.desk_table import DeskTable
from tests.agent_push.test_cli import pushed_token
from tests.peers.routeros_api import SCHEDULER, SCRIPT, RouterOsApiPeer
from tests.tui.conftest import SIZE, AppFactory, Fleet, settle, wait_until
from tests.tui.test_sites_screen import open_sites

USER = "noc-admin"
PASSWORD = "Pw-9k2m-never-shown"
SITE = "core-berlin-1"


@pytest.fixture
def device() -> Iterator[RouterOsApiPeer]:
    """The site's device: a RouterOS API service on 127.0.0.1."""
    with RouterOsApiPeer(username=USER, password=PASSWORD) as peer:
        yield peer


def toasts(app: DeskApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def open_push_dialog(pilot: Pilot[Any]) -> PushAgentScreen:
    await open_sites(pilot)
    assert pilot.app.screen.query_one("#sites-table", DeskTable).move_to_key(SITE)
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PushAgentScreen))
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, PushAgentScreen)
    return dialog


async def fill_and_push(
    pilot: Pilot[Any], dialog: PushAgentScreen, port: int, password: str
) -> None:
    dialog.query_one("#push-address", Input).value = "127.0.0.1"
    dialog.query_one("#push-port", Input).value = str(port)
    dialog.query_one("#push-user", Input).value = USER
    dialog.query_one("#push-password", Input).focus()
    await pilot.press(*password, "enter")


async def test_push_puts_a_new_token_on_the_device(
    make_app: AppFactory,
    fleet: Fleet,
    device: RouterOsApiPeer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    old_hash = get_site(fleet.desk.db, SITE).token_hash
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_push_dialog(pilot)
        # The site's address on record is offered; the password is asked for.
        assert dialog.query_one("#push-address", Input).value == "10.0.13.1"
        assert dialog.query_one("#push-password", Input).has_focus

        await fill_and_push(pilot, dialog, device.port, PASSWORD)
        await wait_until(
            pilot, lambda: isinstance(app.screen, SitesScreen), what="the push"
        )
        installed = f"Agent installed on {SITE} through 127.0.0.1:{device.port}"
        await wait_until(
            pilot, lambda: any(toast.startswith(installed) for toast in toasts(app))
        )
        # The desk listens on 127.0.0.1 with no public URL: the admin is told.
        await wait_until(
            pilot,
            lambda: any("endpoint.public_url is not set" in t for t in toasts(app)),
            what="the warning",
        )
        shown = "\n".join(toasts(app))

    token = pushed_token(device)
    stored = get_site(fleet.desk.db, SITE).token_hash
    assert token_matches(token, stored)
    assert stored != old_hash
    assert [row["name"] for row in device.entries(SCHEDULER)] == ["sdx-agent"]
    assert device.logins == [USER, USER]  # the login check, then the push
    for secret in (PASSWORD, token):
        assert secret not in caplog.text
        assert secret not in shown


async def test_a_wrong_password_changes_nothing(
    make_app: AppFactory, fleet: Fleet, device: RouterOsApiPeer
) -> None:
    old_hash = get_site(fleet.desk.db, SITE).token_hash
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_push_dialog(pilot)
        await fill_and_push(pilot, dialog, device.port, "not-the-password")
        error = dialog.query_one("#form-error", Static)
        await wait_until(pilot, lambda: bool(str(error.render())), what="the error")

        assert app.screen is dialog
        assert "not-the-password" not in str(error.render())
        # The password is used once: the field is empty again, ready to retype.
        password = dialog.query_one("#push-password", Input)
        assert password.value == ""
        assert password.has_focus

    assert get_site(fleet.desk.db, SITE).token_hash == old_hash
    assert device.entries(SCRIPT) == []


async def test_only_admins_are_offered_the_push(
    make_app: AppFactory, fleet: Fleet
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_sites(pilot)
        assert app.screen.check_action("push_agent", ()) is False
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, SitesScreen)


def test_the_password_stays_out_of_reprs() -> None:
    login = DeviceLogin("127.0.0.1", 8728, USER, PASSWORD)
    assert PASSWORD not in repr(login)


@pytest.mark.parametrize("port", ["70000", "-", "0"])
async def test_a_port_out_of_range_is_refused_in_the_form(
    make_app: AppFactory, fleet: Fleet, port: str
) -> None:
    old_hash = get_site(fleet.desk.db, SITE).token_hash
    app = make_app(fleet.desk.admin)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_push_dialog(pilot)
        dialog.query_one("#push-port", Input).value = port
        await pilot.click("#push-go")
        error = dialog.query_one("#form-error", Static)
        await wait_until(pilot, lambda: "1 to 65535" in str(error.render()))
        assert dialog.query_one("#push-port").has_class("-invalid")
        assert not dialog.pushing
    assert get_site(fleet.desk.db, SITE).token_hash == old_hash

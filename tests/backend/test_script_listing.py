"""What a script listing carries, for screens and commands that read it later."""

from __future__ import annotations

from sdx_tui.backend.scripts import create_script, list_scripts
from sdx_tui.backend.sites import add_site
from tests.conftest import Desk


def test_listed_scripts_carry_targets_author_and_test_site(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    add_site(desk.db, desk.admin, "lab")
    add_site(desk.db, desk.admin, "edge")
    create_script(
        desk.db,
        desk.operator,
        description="ntp",
        content=":put 1",
        targets=["edge", "lab"],
        test_site="lab",
    )

    [script] = list_scripts(desk.db)

    # The session is closed: these would raise if they were not loaded up front.
    assert [site.name for site in script.targets] == ["edge", "lab"]
    assert script.author.os_user == "olivia"
    assert script.test_site is not None
    assert script.test_site.name == "lab"

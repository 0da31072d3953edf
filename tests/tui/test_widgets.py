"""The reusable widgets, each in a tiny app of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import SelectionList
from textual.widgets.data_table import RowKey

from sdx_tui.screens.confirm import ConfirmScreen
from sdx_tui.widgets.desk_table import DeskTable
from sdx_tui.widgets.filtered_selection import FilteredSelectionList
from sdx_tui.widgets.humanize import ago, shorten_list
from sdx_tui.widgets.nav_bar import NavBar, NavItem
from sdx_tui.widgets.status_badge import StatusBadge, status_text


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DeskTable([("name", "Name"), ("state", "State")])


ROWS = [
    ("a", ["alpha", "pending"]),
    ("b", ["bravo", "pending"]),
    ("c", ["charlie", "x"]),
]


async def test_sync_rows_updates_cells_in_place() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DeskTable)
        table.sync_rows(ROWS)
        table.move_to_key("b")
        row_b = table.rows[RowKey("b")]

        table.sync_rows([ROWS[0], ("b", ["bravo", "delivered"]), ROWS[2]])
        await pilot.pause()
        assert table.get_row("b") == ["bravo", "delivered"]
        assert table.rows[RowKey("b")] is row_b
        assert table.current_key == "b"


async def test_sync_rows_follows_a_new_order_and_keeps_the_cursor() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DeskTable)
        table.sync_rows(ROWS)
        table.move_to_key("b")

        table.sync_rows([("d", ["delta", "new"]), ROWS[2], ROWS[1]])
        await pilot.pause()
        assert table.row_keys() == ["d", "c", "b"]
        assert table.current_key == "b"

        table.sync_rows([])
        assert table.current_key is None
        assert table.check_action("select_cursor", ()) is False


async def test_j_and_k_move_the_cursor() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DeskTable)
        table.sync_rows(ROWS)
        table.focus()
        await pilot.press("j", "j")
        assert table.current_key == "c"
        await pilot.press("k")
        assert table.current_key == "b"


class PickerApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FilteredSelectionList(
            [
                ("core-1 core", "core-1"),
                ("core-2 core", "core-2"),
                ("edge-1", "edge-1"),
            ],
            chosen=["core-1"],
        )


async def test_choices_survive_filtering() -> None:
    app = PickerApp()
    async with app.run_test() as pilot:
        picker = app.query_one(FilteredSelectionList)
        options = picker.query_one(SelectionList)

        picker.set_filter("edge")
        await pilot.pause()
        assert options.option_count == 1
        options.select("edge-1")
        assert picker.selected == ["core-1", "edge-1"]

        picker.set_filter("core")
        await pilot.pause()
        assert options.option_count == 2
        assert options.selected == ["core-1"]
        options.deselect("core-1")

        picker.set_filter("")
        await pilot.pause()
        assert picker.selected == ["edge-1"]


async def test_the_picker_reports_changes() -> None:
    changes: list[list[str]] = []

    class ListeningApp(PickerApp):
        def on_filtered_selection_list_changed(
            self, event: FilteredSelectionList.Changed
        ) -> None:
            changes.append(event.picker.selected)

    app = ListeningApp()
    async with app.run_test() as pilot:
        app.query_one(SelectionList).select("core-2")
        await pilot.pause()
    assert changes == [["core-1", "core-2"]]


class NavApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        items = [NavItem("scripts", "F2", "Scripts"), NavItem("sites", "F3", "Sites")]
        yield NavBar(items, active="scripts")

    def on_nav_bar_section_chosen(self, event: NavBar.SectionChosen) -> None:
        self.chosen.append(event.section)


async def test_nav_tabs_post_the_section_clicked() -> None:
    app = NavApp()
    async with app.run_test() as pilot:
        assert app.query_one("#nav-scripts").has_class("-active")
        assert not app.query_one("#nav-sites").has_class("-active")
        await pilot.click("#nav-sites")
        await pilot.pause()
    assert app.chosen == ["sites"]


class BadgeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBadge("scheduled")


async def test_badge_colours_follow_the_state() -> None:
    app = BadgeApp()
    async with app.run_test() as pilot:
        badge = app.query_one(StatusBadge)
        assert badge.has_class("-primary")
        badge.status = "timed_out"
        await pilot.pause()
        assert badge.has_class("-error") and not badge.has_class("-primary")
        assert str(badge.render()) == "timed out"
        badge.status = ""
        await pilot.pause()
        assert not badge.display


def test_status_text_uses_the_theme_colour() -> None:
    text = status_text("failed", {"error": "#B93C5B", "foreground": "#E0E0E0"})
    assert isinstance(text, Text)
    assert text.plain == "● failed"
    assert text.style.color is not None
    assert text.style.color.triplet is not None
    assert text.style.color.triplet.hex == "#b93c5b"

    unknown = status_text("odd_state", {"foreground": "#E0E0E099"})
    assert unknown.plain == "● odd state"


class ConfirmApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[bool | None] = []

    def ask(self) -> None:
        self.push_screen(
            ConfirmScreen("Really?", destructive=True), self.answers.append
        )


async def test_confirm_defaults_to_the_safe_answer() -> None:
    app = ConfirmApp()
    async with app.run_test() as pilot:
        for keys in (["enter"], ["escape"], ["n"], ["y"]):
            app.ask()
            await pilot.pause()
            assert app.focused is not None and app.focused.id == "confirm-no"
            await pilot.press(*keys)
            await pilot.pause()
        app.ask()
        await pilot.pause()
        await pilot.click("#confirm-yes")
        await pilot.pause()
    assert app.answers == [False, False, False, True, True]


def test_ago_reads_like_a_person() -> None:
    now = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
    assert ago(None, now) == "never"
    assert ago(now - timedelta(seconds=4), now) == "just now"
    assert ago(now + timedelta(seconds=30), now) == "just now"
    assert ago(now - timedelta(seconds=42), now) == "42 s ago"
    assert ago(now - timedelta(minutes=59), now) == "59 min ago"
    assert ago(now - timedelta(hours=47), now) == "47 h ago"
    assert ago(now - timedelta(days=12), now) == "12 d ago"


def test_shorten_list() -> None:
    assert shorten_list([]) == "—"
    assert shorten_list(["a", "b"]) == "a, b"
    assert shorten_list(["a", "b", "c", "d"]) == "a, b +2"
    assert shorten_list(["a", "b", "c"], keep=1) == "a +2"

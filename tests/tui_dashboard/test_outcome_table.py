"""The virtual site table: 10,000 rows, batches of changes, filter and sort."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult
from textual.strip import Strip

from sdx_tui.backend.models import OutcomeStatus
from sdx_tui.backend.monitoring import OutcomeRow
from sdx_tui.widgets.outcome_table import OutcomeTable, SortKey

O = OutcomeStatus  # noqa: E741
START = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
CYCLE = [O.PENDING, O.DELIVERED, O.COMPLETED, O.FAILED]
ROWS = 10_000
HEIGHT = 20
"""Terminal lines; the table gets all of them: a header and 19 rows."""


def fleet(count: int = ROWS) -> list[OutcomeRow]:
    return [
        OutcomeRow(
            outcome_id=n,
            site_id=n,
            site_name=f"site-{n:05d}",
            status=CYCLE[n % 4],
            attempts=n % 3,
            delivered_at=START if n % 4 else None,
            finished_at=None,
            updated_at=START + timedelta(seconds=n),
            error="no route to host\nsecond line" if n % 4 == 3 else "",
        )
        for n in range(count)
    ]


class CountingTable(OutcomeTable):
    """Records which lines the compositor asked for."""

    def __init__(self) -> None:
        super().__init__(id="table")
        self.rendered: list[int] = []

    def render_line(self, y: int) -> Strip:
        self.rendered.append(y)
        return super().render_line(y)


class TableApp(App[None]):
    CSS = "CountingTable { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[OutcomeRow] = []

    def compose(self) -> ComposeResult:
        yield CountingTable()

    def on_outcome_table_site_chosen(self, event: OutcomeTable.SiteChosen) -> None:
        self.chosen.append(event.row)

    @property
    def table(self) -> CountingTable:
        return self.query_one(CountingTable)


async def test_ten_thousand_rows_render_only_what_is_visible() -> None:
    app = TableApp()
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        table = app.table
        assert table.apply(fleet()) == ROWS
        await pilot.pause()

        assert table.row_count == len(table.shown) == ROWS
        assert table.virtual_size.height == ROWS + 1
        assert table.rendered, "the first frame was drawn"
        assert max(table.rendered) < HEIGHT

        table.focus()
        table.rendered.clear()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row is not None
        assert table.cursor_row.site_name == "site-09999"
        assert table.scroll_y == table.max_scroll_y
        # A frame or two of the screen's lines, nowhere near 10,000.
        assert 0 < len(table.rendered) <= 5 * HEIGHT


async def test_a_batch_of_changes_off_screen_repaints_nothing() -> None:
    app = TableApp()
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        table = app.table
        rows = fleet()
        table.apply(rows)
        await pilot.pause()

        # Sorted by site, a new state does not move a row: 1,000 rows far
        # below the fold change and not one line is drawn again.
        changed = [replace(row, attempts=row.attempts + 5) for row in rows[5000:6000]]
        table.rendered.clear()
        assert table.apply(changed) == 1000
        await pilot.pause()
        assert table.rendered == []
        assert table.shown[5500].attempts == rows[5500].attempts + 5

        # A change on screen repaints that one line.
        assert table.apply([replace(rows[3], status=O.COMPLETED)]) == 1
        await pilot.pause()
        assert table.rendered == [4]

        # Rows equal to what is shown are no change at all.
        assert table.apply(list(table.shown[:100])) == 0


async def test_filter_by_name_state_or_error() -> None:
    app = TableApp()
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        table = app.table
        table.apply(fleet())
        table.filter_text = "site-0012"
        await pilot.pause()
        assert [row.site_name for row in table.shown] == [
            f"site-0012{n}" for n in range(10)
        ]

        table.filter_text = "FAILED"
        assert len(table.shown) == ROWS // 4
        assert {row.status for row in table.shown} == {O.FAILED}

        table.filter_text = "route to"
        assert len(table.shown) == ROWS // 4

        # A row that stops matching leaves the view with the next batch.
        first = table.shown[0]
        table.apply([replace(first, error="")])
        assert first.outcome_id not in {row.outcome_id for row in table.shown}

        table.filter_text = "nothing like this"
        await pilot.pause()
        assert table.shown == []
        assert table.cursor_row is None


async def test_sort_keys_and_the_cursor_follows_its_site() -> None:
    app = TableApp()
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        table = app.table
        table.apply(fleet(100))
        table.focus()
        await pilot.press("down", "down", "down")
        assert table.cursor_row is not None
        chosen = table.cursor_row.outcome_id

        table.sort_key = SortKey.STATUS
        await pilot.pause()
        statuses = [row.status for row in table.shown]
        assert statuses[:25] == [O.FAILED] * 25
        assert statuses[-25:] == [O.COMPLETED] * 25
        assert table.cursor_row is not None
        assert table.cursor_row.outcome_id == chosen

        table.sort_by(SortKey.STATUS)
        assert table.sort_reverse
        assert table.shown[0].status is O.COMPLETED

        table.sort_by(SortKey.UPDATED)
        assert table.sort_key is SortKey.UPDATED
        assert [row.outcome_id for row in table.shown][:3] == [99, 98, 97]

        # A changed row moves to its new place in the order.
        table.apply([replace(table.shown[-1], updated_at=START + timedelta(days=1))])
        assert table.shown[0].outcome_id == 0


async def test_enter_and_clicks() -> None:
    app = TableApp()
    chosen = app.chosen
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        table = app.table
        table.apply(fleet(50))
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert [row.site_name for row in chosen] == ["site-00001"]

        # A click on a heading sorts by that column; a click picks a row, and
        # a second click on it opens it.
        await pilot.click(CountingTable, offset=(32, 0))
        assert table.sort_key is SortKey.STATUS
        await pilot.click(CountingTable, offset=(5, 3))
        assert table.cursor == 2
        await pilot.click(CountingTable, offset=(5, 3))
        await pilot.pause()
        assert chosen[-1].outcome_id == table.shown[2].outcome_id

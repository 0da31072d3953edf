"""A SelectionList with a filter box, whose choices survive filtering."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, SelectionList


class FilteredSelectionList(Vertical):
    """Pick several values from a long list, narrowing it by typing.

    The inner SelectionList only ever holds the items that match the filter, so
    the choices are kept here and merged back whenever the list is rebuilt.
    """

    DEFAULT_CSS = """
    FilteredSelectionList {
        height: auto;
    }
    FilteredSelectionList > Input {
        margin-bottom: 0;
    }
    FilteredSelectionList > SelectionList {
        height: auto;
        max-height: 12;
    }
    """

    class Changed(Message):
        """The chosen values changed."""

        def __init__(self, picker: FilteredSelectionList) -> None:
            super().__init__()
            self.picker = picker

        @property
        def control(self) -> FilteredSelectionList:
            """The picker whose choices changed."""
            return self.picker

    def __init__(
        self,
        items: Sequence[tuple[str, str]] = (),
        *,
        chosen: Iterable[str] = (),
        placeholder: str = "Filter",
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, classes=classes, disabled=disabled)
        self._items = list(items)
        self._chosen = set(chosen)
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder, classes="picker-filter")
        yield SelectionList[str](*self._visible_items(""), classes="picker-list")

    @property
    def selected(self) -> list[str]:
        """The chosen values, in the order of the items."""
        self._merge_visible()
        return [value for _, value in self._items if value in self._chosen]

    @property
    def filter_text(self) -> str:
        """What the filter box holds."""
        return self.query_one(Input).value

    def set_items(
        self, items: Sequence[tuple[str, str]], chosen: Iterable[str]
    ) -> None:
        """Replace the items and the choices, keeping the filter."""
        self._items = list(items)
        self._chosen = set(chosen)
        self._rebuild()

    def set_filter(self, text: str) -> None:
        """Narrow the list to items whose label holds ``text``."""
        self.query_one(Input).value = text

    def _visible_items(self, text: str) -> list[tuple[str, str, bool]]:
        needle = text.strip().casefold()
        return [
            (label, value, value in self._chosen)
            for label, value in self._items
            if needle in label.casefold()
        ]

    def _merge_visible(self) -> None:
        # Read the inner list synchronously: its messages may still be queued.
        if not self.is_mounted:
            return
        options = self.query_one(SelectionList)
        visible = {
            options.get_option_at_index(index).value
            for index in range(options.option_count)
        }
        self._chosen = (self._chosen - visible) | set(options.selected)

    def _rebuild(self) -> None:
        options = self.query_one(SelectionList)
        with options.prevent(SelectionList.SelectedChanged):
            options.clear_options()
            options.add_options(self._visible_items(self.filter_text))
        # Keep a highlight so that space ticks something straight away.
        options.highlighted = 0 if options.option_count else None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._merge_visible()
        self._rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(SelectionList).focus()

    def on_selection_list_selected_changed(
        self, event: SelectionList.SelectedChanged[str]
    ) -> None:
        event.stop()
        self._merge_visible()
        self.post_message(self.Changed(self))

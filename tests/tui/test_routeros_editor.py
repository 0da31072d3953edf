"""The RouterOS editor highlights what the operator types."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.token import Comment, Keyword, String, Whitespace
from rich.color import Color
from textual.app import App, ComposeResult
from textual.widgets.text_area import TextAreaTheme

from sdx_tui.widgets.routeros_editor import (
    HIGHLIGHT_NAMES,
    RouterOSEditor,
    line_highlights,
)

APPS = Path(__file__).parent / "apps"


class EditorApp(App[None]):
    def __init__(self, text: str = "", theme: str = "monokai") -> None:
        super().__init__()
        self.editor = RouterOSEditor(text, theme=theme)

    def compose(self) -> ComposeResult:
        yield self.editor

    def on_mount(self) -> None:
        self.editor.cursor_blink = False
        self.editor.focus()


def theme_color(name: str, theme: str = "monokai") -> Color | None:
    builtin = TextAreaTheme.get_builtin_theme(theme)
    assert builtin is not None
    return builtin.syntax_styles[name].color


def color_of(editor: RouterOSEditor, row: int, text: str) -> Color | None:
    """The colour the editor draws ``text`` in on screen row ``row``."""
    for segment in editor.render_line(row):
        if text in segment.text:
            return segment.style.color if segment.style else None
    raise AssertionError(f"{text!r} is not drawn on row {row}")


async def test_typed_text_is_highlighted() -> None:
    app = EditorApp()
    async with app.run_test(size=(70, 8)) as pilot:
        await pilot.press(*':local name "hi"', "enter", *"/ip address print")
        await pilot.pause()
        editor = app.editor
        assert editor.text == ':local name "hi"\n/ip address print'
        assert color_of(editor, 0, ":local") == theme_color("keyword")
        assert color_of(editor, 0, '"hi"') == theme_color("string")
        assert color_of(editor, 1, "print") == theme_color("function")
        assert color_of(editor, 1, "address") == theme_color("type")


async def test_an_opened_quote_colours_the_lines_below_until_it_is_closed() -> None:
    app = EditorApp(":put 1\n:put 2\n:put 3")
    async with app.run_test(size=(40, 6)) as pilot:
        editor = app.editor
        assert color_of(editor, 2, ":put") == theme_color("keyword")

        await pilot.press("end", "space", '"')
        await pilot.pause()
        assert color_of(editor, 2, ":put") == theme_color("string")

        await pilot.press("ctrl+z")
        await pilot.pause()
        assert editor.text == ":put 1\n:put 2\n:put 3"
        assert color_of(editor, 2, ":put") == theme_color("keyword")


async def test_a_new_last_line_rehighlights_the_line_before() -> None:
    app = EditorApp("/ip address \\")
    async with app.run_test(size=(40, 6)) as pilot:
        editor = app.editor
        assert color_of(editor, 0, "\\") != theme_color("constant.builtin")

        await pilot.press("end", "enter")
        await pilot.pause()
        assert color_of(editor, 0, "\\") == theme_color("constant.builtin")
        assert color_of(editor, 0, "address") == theme_color("type")


async def test_loading_a_new_script_rehighlights_it() -> None:
    app = EditorApp(":put 1")
    async with app.run_test(size=(40, 6)) as pilot:
        app.editor.load_text("/system reboot\n# done")
        await pilot.pause()
        assert color_of(app.editor, 0, "reboot") == theme_color("function")
        assert color_of(app.editor, 1, "# done") == theme_color("comment")


@pytest.mark.parametrize("theme", [t.name for t in TextAreaTheme.builtin_themes()])
async def test_every_builtin_theme_colours_variables_and_errors(theme: str) -> None:
    app = EditorApp(':local v $x\n:put "\\q"', theme=theme)
    async with app.run_test(size=(40, 6)):
        editor = app.editor
        plain = color_of(editor, 0, " ")
        assert color_of(editor, 0, "$x") not in (None, plain)
        assert color_of(editor, 1, "\\q") not in (None, plain)


async def test_a_large_script_draws_without_lexing_all_of_it() -> None:
    script = "\n".join(
        f"/ip address add address=10.0.{n % 250}.1/24" for n in range(5000)
    )
    app = EditorApp(script)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.press("end", "space", '"')
        await pilot.pause()
        assert color_of(app.editor, 5, "/ip") == theme_color("string")
        assert app.editor.document.line_count == 5000


async def test_highlights_stay_aligned_after_wide_characters() -> None:
    app = EditorApp(':put "h\u00e9llo \u2603" $x; # \u00fc')
    async with app.run_test(size=(40, 6)):
        editor = app.editor
        assert color_of(editor, 0, "$x") == theme_color("constant.builtin")
        assert color_of(editor, 0, ";") == theme_color("punctuation.bracket")
        assert color_of(editor, 0, "# \u00fc") == theme_color("comment")


def test_line_highlights_are_byte_ranges_without_the_line_break() -> None:
    tokens = [
        (0, Keyword, ":put"),
        (4, Whitespace, " "),
        (5, String.Delimiter, '"'),
        (6, String.Double, "\u00e9"),
        (7, String.Delimiter, '"'),
        (8, Comment.Single, "#\n"),
    ]
    assert line_highlights(tokens) == [
        (0, 4, "keyword"),
        (5, 9, "string"),
        (9, 10, "comment"),
    ]


def test_code_editor_constructor() -> None:
    editor = RouterOSEditor.code_editor(":put 1", id="script-content")
    assert isinstance(editor, RouterOSEditor)
    assert editor.text == ":put 1"
    assert editor.show_line_numbers
    with pytest.raises(ValueError, match="python"):
        RouterOSEditor.code_editor("", language="python")


def test_every_token_type_has_a_style_name() -> None:
    assert all(HIGHLIGHT_NAMES.values())


def test_snapshot_of_a_highlighted_script(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The sample script in the css theme: comment, menus, commands, parameters,
    addresses, strings with escapes and interpolation, variables, a time, and the
    line the operator typed at the end, all in their own colours."""
    assert snap_compare(
        APPS / "routeros_editor_app.py",
        press=[*':put "typed $x"'],
        terminal_size=(90, 14),
    )

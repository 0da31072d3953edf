"""A TextArea that highlights RouterOS script with our own lexer."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    _TokenType,
)
from rich.console import RenderableType
from rich.style import Style
from textual.content import Content
from textual.widgets import TextArea
from textual.widgets.text_area import TextAreaTheme

from sdx_tui.backend.routeros.incremental import IncrementalLexer
from sdx_tui.backend.routeros.lexer import Token

__all__ = ["HIGHLIGHT_NAMES", "Highlight", "RouterOSEditor", "line_highlights"]

Highlight = tuple[int, int | None, str]
"""What TextArea draws: start byte, end byte (None for the line end), style name."""

HIGHLIGHT_NAMES: dict[_TokenType, str] = {
    Comment: "comment",
    Keyword.Constant: "boolean",
    Keyword: "keyword",
    Name.Namespace: "type",
    Name.Function: "function",
    Name.Attribute: "property",
    Name.Variable: "variable",
    String.Escape: "string.escape",
    String.Interpol: "punctuation.special",
    String: "string",
    Number: "number",
    Operator.Word: "keyword.operator",
    Operator: "operator",
    Punctuation: "punctuation.bracket",
    Error: "error",
}
"""TextArea theme style names for our token types (a token takes its nearest
ancestor's name)."""

# Style names above that the built-in TextArea themes may lack, with the names
# whose style stands in for them, or a last resort.
_STAND_INS: dict[str, tuple[tuple[str, ...], Style]] = {
    "property": (("css.property", "json.label"), Style(color="blue")),
    "variable": (("constant.builtin",), Style(color="cyan")),
    "string.escape": (("constant.builtin", "string"), Style(bold=True)),
    "error": (("html.end_tag_error",), Style(color="red", underline=True)),
}


def _with_routeros_styles(theme: TextAreaTheme) -> TextAreaTheme:
    """``theme`` with a style for every name in HIGHLIGHT_NAMES it can give one."""
    styles = dict(theme.syntax_styles)
    for name, (stand_ins, last_resort) in _STAND_INS.items():
        if name not in styles:
            stand_in = next((styles[s] for s in stand_ins if s in styles), None)
            styles[name] = stand_in or last_resort
    return dataclasses.replace(theme, syntax_styles=styles)


_name_cache: dict[_TokenType, str | None] = {}


def _highlight_name(ttype: _TokenType) -> str | None:
    try:
        return _name_cache[ttype]
    except KeyError:
        pass
    name = None
    for ancestor in (ttype, *reversed(ttype.split()[:-1])):
        if ancestor in HIGHLIGHT_NAMES:
            name = HIGHLIGHT_NAMES[ancestor]
            break
    _name_cache[ttype] = name
    return name


def line_highlights(tokens: list[Token]) -> list[Highlight]:
    """TextArea highlights for the tokens of one line, in byte offsets."""
    highlights: list[Highlight] = []
    offset = 0
    for _, ttype, value in tokens:
        size = len(value) if value.isascii() else len(value.encode())
        name = _highlight_name(ttype)
        end = offset + size - value.endswith("\n")
        # An empty range would read as "to the end of the line" to TextArea.
        if name is not None and end > offset:
            if highlights and highlights[-1][2] == name and highlights[-1][1] == offset:
                highlights[-1] = (highlights[-1][0], end, name)
            else:
                highlights.append((offset, end, name))
        offset += size
    return highlights


class _LazyHighlights(dict[int, list[Highlight]]):
    """Highlights per line, built from the tokens when TextArea first draws a line."""

    def __init__(self, lexer: IncrementalLexer) -> None:
        super().__init__()
        self._lexer = lexer

    def __bool__(self) -> bool:
        # TextArea skips highlighting when its map is empty; ours fills on demand.
        return True

    def __missing__(self, index: int) -> list[Highlight]:
        if not 0 <= index < self._lexer.line_count:
            return []
        highlights = line_highlights(self._lexer.line_tokens(index))
        self[index] = highlights
        return highlights

    def forget_from(self, line: int) -> None:
        """Drop the highlights of ``line`` and every line after it."""
        for index in [index for index in self if index >= line]:
            del self[index]


class RouterOSEditor(TextArea):
    """A code editor for RouterOS scripts.

    Highlighting comes from the RouterOS lexer through an incremental
    highlighter, so an edit re-lexes only the lines it can change and only as far
    as the editor draws.
    """

    def __init__(
        self,
        text: str = "",
        *,
        theme: str = "css",
        soft_wrap: bool = False,
        tab_behavior: Literal["focus", "indent"] = "indent",
        read_only: bool = False,
        show_cursor: bool = True,
        show_line_numbers: bool = True,
        line_number_start: int = 1,
        max_checkpoints: int = 50,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
        tooltip: RenderableType | None = None,
        compact: bool = False,
        highlight_cursor_line: bool = True,
        placeholder: str | Content = "",
    ) -> None:
        self._routeros = IncrementalLexer()
        self._routeros_highlights = _LazyHighlights(self._routeros)
        super().__init__(
            text,
            theme=theme,
            soft_wrap=soft_wrap,
            tab_behavior=tab_behavior,
            read_only=read_only,
            show_cursor=show_cursor,
            show_line_numbers=show_line_numbers,
            line_number_start=line_number_start,
            max_checkpoints=max_checkpoints,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
            tooltip=tooltip,
            compact=compact,
            highlight_cursor_line=highlight_cursor_line,
            placeholder=placeholder,
        )
        for builtin in TextAreaTheme.builtin_themes():
            self.register_theme(_with_routeros_styles(builtin))
        self.theme = theme

    @classmethod
    def code_editor(
        cls,
        text: str = "",
        *,
        language: str | None = None,
        theme: str = "css",
        soft_wrap: bool = False,
        tab_behavior: Literal["focus", "indent"] = "indent",
        read_only: bool = False,
        show_cursor: bool = True,
        show_line_numbers: bool = True,
        line_number_start: int = 1,
        max_checkpoints: int = 50,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
        tooltip: RenderableType | None = None,
        compact: bool = False,
        highlight_cursor_line: bool = True,
        placeholder: str | Content = "",
    ) -> RouterOSEditor:
        """A RouterOS editor with code-editing defaults; the language is RouterOS."""
        if language not in (None, "routeros"):
            raise ValueError(f"a RouterOS editor cannot highlight {language!r}")
        return cls(
            text,
            theme=theme,
            soft_wrap=soft_wrap,
            tab_behavior=tab_behavior,
            read_only=read_only,
            show_cursor=show_cursor,
            show_line_numbers=show_line_numbers,
            line_number_start=line_number_start,
            max_checkpoints=max_checkpoints,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
            tooltip=tooltip,
            compact=compact,
            highlight_cursor_line=highlight_cursor_line,
            placeholder=placeholder,
        )

    def _build_highlight_map(self) -> None:
        # Hook on a TextArea internal: TextArea calls `_build_highlight_map` after
        # every change to the document (edit, undo, redo, load) to rebuild
        # `_highlights` from a tree-sitter query over the whole text, and
        # `_render_line` reads `_highlights[line]`. We replace both with the
        # incremental lexer: sync it with the document's lines, then let a lazy
        # `_highlights` build each line's highlights when it is drawn.
        self._line_cache.clear()
        change = self._routeros.sync(self.document.lines)
        if change is not None:
            # The line before an edit at the end of the text gains or loses its
            # line break, which can change its tokens.
            self._routeros_highlights.forget_from(max(0, change[0] - 1))
        self._highlights = self._routeros_highlights

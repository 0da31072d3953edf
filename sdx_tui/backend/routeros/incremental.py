"""Incremental RouterOS lexing for editors.

The document is kept as lines, each with its tokens and the lexer state it was
lexed from and ended in. An edit throws away the tokens of the lines it touched
and nothing else. Lexing is lazy: asking for the tokens of a line lexes forward
from the first line that may be stale, and stops re-lexing as soon as a line
starts in the same state as before the edit, because every line after it is then
known to be unchanged. Typing inside a command re-lexes one line; opening a
string re-lexes only as far as the editor looks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from sdx_tui.backend.routeros.lexer import INITIAL_STATE, State, Token, lex_line

__all__ = ["IncrementalLexer", "LineChange"]

LineChange = tuple[int, int, int]
"""An edit as line indices: first changed line, end before it, end after it."""


class IncrementalLexer:
    """RouterOS tokens of a document, kept per line and re-lexed only as needed.

    Lines are given without their line breaks; the document is their join with
    ``"\\n"``. Token offsets are relative to the start of their line.
    """

    def __init__(self, lines: Sequence[str] = ("",)) -> None:
        self.lines_lexed = 0
        """How many lines have been lexed so far, for measuring re-lexing work."""
        self.set_lines(lines)

    @property
    def line_count(self) -> int:
        """The number of lines in the document."""
        return len(self._lines)

    def set_lines(self, lines: Sequence[str]) -> None:
        """Replace the whole document."""
        self._lines = list(lines)
        count = len(self._lines)
        self._tokens: list[list[Token] | None] = [None] * count
        self._starts: list[State | None] = [None] * count
        self._ends: list[State | None] = [None] * count
        # Lines before the frontier are lexed from the right state. From
        # ``_chained`` on, every line has tokens and starts where the one before
        # it ended, so one line there starting right makes all the rest right.
        self._frontier = 0
        self._chained = count

    def replace_lines(self, start: int, end: int, new_lines: Sequence[str]) -> None:
        """Replace lines ``start`` to ``end`` (exclusive) with ``new_lines``."""
        old_count = len(self._lines)
        if not 0 <= start <= end <= old_count:
            raise IndexError(f"line range {start}:{end} outside 0:{old_count}")
        added = len(new_lines)
        self._lines[start:end] = new_lines
        blank: list[None] = [None] * added
        self._tokens[start:end] = blank
        self._starts[start:end] = blank
        self._ends[start:end] = blank
        self._chained = max(self._chained, end) + added - (end - start)

        first_stale = start
        new_count = len(self._lines)
        if start > 0 and start in (old_count, new_count):
            # The line before the edit gained or lost its line break.
            first_stale = start - 1
            self._tokens[first_stale] = None
        self._frontier = min(self._frontier, first_stale)

    def sync(self, lines: Sequence[str]) -> LineChange | None:
        """Bring the document to ``lines`` by replacing only the lines that differ.

        Returns the change made, or None when the lines were already the same.
        Unchanged lines are found by comparing runs of lines, which is cheap when
        the caller keeps the same string objects for lines it did not edit.
        """
        old, new = self._lines, list(lines) if not isinstance(lines, list) else lines
        limit = min(len(old), len(new))
        prefix = _matching_run(lambda lo, hi: old[lo:hi] == new[lo:hi], limit)
        if prefix == len(old) == len(new):
            return None
        old_end, new_end = len(old), len(new)
        suffix = _matching_run(
            lambda lo, hi: (
                old[old_end - hi : old_end - lo] == new[new_end - hi : new_end - lo]
            ),
            limit - prefix,
        )
        change = (prefix, old_end - suffix, new_end - suffix)
        self.replace_lines(prefix, old_end - suffix, new[prefix : new_end - suffix])
        return change

    def line_tokens(self, index: int) -> list[Token]:
        """The tokens of line ``index``, lexing up to it if needed."""
        self._advance(index)
        tokens = self._tokens[index]
        assert tokens is not None
        return tokens

    def state_at(self, index: int) -> State:
        """The lexer state at the start of line ``index``."""
        if index == 0:
            return INITIAL_STATE
        self._advance(index - 1)
        state = self._ends[index - 1]
        assert state is not None
        return state

    def tokens(self) -> Iterator[Token]:
        """Every token of the document, with offsets from the document start."""
        offset = 0
        for index in range(len(self._lines)):
            for column, ttype, value in self.line_tokens(index):
                yield offset + column, ttype, value
            offset += len(self._lines[index]) + 1

    def _advance(self, index: int) -> None:
        """Make the tokens of every line up to ``index`` right."""
        lines, tokens, starts, ends = (
            self._lines,
            self._tokens,
            self._starts,
            self._ends,
        )
        count = len(lines)
        if not 0 <= index < count:
            raise IndexError(f"line {index} outside 0:{count}")
        if index < self._frontier:
            return

        line = self._frontier
        state = ends[line - 1] if line else INITIAL_STATE
        while line <= index:
            assert state is not None, "lines before the frontier are lexed"
            if tokens[line] is not None and starts[line] == state:
                if line >= self._chained:
                    line = count
                    break
                state = ends[line]
                line += 1
                continue
            text = lines[line] + "\n" if line < count - 1 else lines[line]
            starts[line] = state
            tokens[line], state = lex_line(text, state)
            ends[line] = state
            self.lines_lexed += 1
            if line >= self._chained:
                self._chained = line + 1
            line += 1
        self._frontier = line
        if line == count:
            self._chained = 0


def _matching_run(equal: Callable[[int, int], bool], limit: int) -> int:
    """The largest ``n <= limit`` with ``equal(0, n)``, in few slice comparisons.

    ``equal(lo, hi)`` compares the items from ``lo`` to ``hi``; the run grows in
    doubling steps, then the first difference is found by halving.
    """
    matched, step = 0, 16
    while matched < limit:
        end = min(matched + step, limit)
        if equal(matched, end):
            matched, step = end, step * 2
            continue
        while end - matched > 1:
            middle = (matched + end) // 2
            if equal(matched, middle):
                matched = middle
            else:
                end = middle
        return matched
    return matched

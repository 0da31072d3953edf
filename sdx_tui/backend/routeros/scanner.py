"""A single-pass scanner of RouterOS script, tuned for linting.

It is not the highlighting lexer: it keeps only what the linter needs. One pass
over the text, driven by two compiled regular expressions (code and string
mode), yields:

- syntax problems: unclosed or stray brackets, braces and parentheses,
  unterminated strings, bad escapes, a space before ``=`` in a parameter, and a
  ``#`` comment that follows a command on the same line;
- commands: the words of every command, in source order, each with the scope
  (top level, block or ``[...]`` substitution) it belongs to and the command
  that owns that scope, so rules can follow menus and guards across blocks;
- the spans of string literals, so callers can tell code from string content.

The work is linear in the size of the input: every character is matched once,
and the bracket stack is only ever pushed and popped.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Command",
    "Problem",
    "ScanResult",
    "Scope",
    "ScopeKind",
    "Word",
    "WordKind",
    "scan",
]


class ScopeKind(Enum):
    """Where a command lives."""

    TOP = "top"
    BLOCK = "block"
    SUBSTITUTION = "substitution"


class WordKind(Enum):
    """What the value of a word is made of."""

    NONE = "none"
    """``name=`` with nothing after the ``=``."""
    PLAIN = "plain"
    STRING = "string"
    VARIABLE = "variable"
    SUBSTITUTION = "substitution"
    EXPRESSION = "expression"
    BLOCK = "block"
    ARRAY = "array"
    MIXED = "mixed"
    """Several pieces glued together, such as ``name=a$b``."""


@dataclass(slots=True)
class Word:
    """One whitespace-separated word of a command."""

    offset: int
    key: str | None
    """The name of a ``name=value`` word, else None."""
    kind: WordKind
    value: str | None
    """The text of a plain word or the raw content of a string, else None."""


@dataclass(slots=True, eq=False)
class Scope:
    """A run of commands: the top level, a ``{...}`` block or a ``[...]``."""

    kind: ScopeKind
    owner: Command | None
    """The command whose word opened this scope; None at the top level."""
    key: str | None = None
    """The parameter the block is the value of (``do``, ``else``, ...)."""
    offset: int = 0


@dataclass(slots=True, eq=False)
class Command:
    """One command: its words, where it starts and the scope it belongs to."""

    offset: int
    scope: Scope
    words: list[Word] = field(default_factory=list)
    end: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """A syntax problem found while scanning."""

    code: str
    offset: int
    message: str


@dataclass(slots=True)
class ScanResult:
    """Everything one scan found."""

    text: str
    problems: list[Problem]
    commands: list[Command]
    string_spans: list[tuple[int, int]]
    """Content spans of string literals (between the quotes)."""
    interpolation_spans: list[tuple[int, int]]
    """Spans of ``$[...]`` and ``$(...)`` inside strings."""
    closers: list[int]
    """Offsets of every ``]``, ``)``, ``}`` and ``"`` that closed something."""
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of an offset."""
        if not self._line_starts:
            self._line_starts = _line_starts(self.text)
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def is_string_content(self, offset: int) -> bool:
        """Whether the character at ``offset`` is inside a string literal's text."""
        best: tuple[int, bool] | None = None
        for spans, in_string in (
            (self.string_spans, True),
            (self.interpolation_spans, False),
        ):
            for start, end in spans:
                if start <= offset < end and (best is None or start > best[0]):
                    best = (start, in_string)
        return best is not None and best[1]


_NEWLINE = re.compile(r"\r\n|\n|\r")


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in _NEWLINE.finditer(text))]


_CODE = re.compile(
    r"""
    [ \t\f\v]*
    (?:
    (?P<cont>\\[ \t]*(?:\r\n|\n|\r))
    |(?P<nl>\r\n|\n|\r)
    |(?P<word>[^ \t\f\v\r\n;"\[\](){}$\\\#][^ \t\f\v\r\n;"\[\](){}$\\]*)
    |(?P<quote>")
    |(?P<open>[\[({])
    |(?P<close>[\])}])
    |(?P<semi>;)
    |(?P<var>\$(?:[A-Za-z0-9_]+|[\[("])?)
    |(?P<hash>\#)
    |(?P<backslash>\\)
    |(?P<end>\Z)
    )
    """,
    re.VERBOSE,
)

_STRING = re.compile(
    r"""
    (?P<text>[^"\\$]+)
    |(?P<esc>\\(?:\r\n|[\s\S])?)
    |(?P<var>\$(?:[A-Za-z0-9_]+|[\[(])?)
    |(?P<quote>")
    """,
    re.VERBOSE,
)

_REST_OF_LINE = re.compile(r"[^\r\n]*")
_HEX_PAIR = re.compile(r"[0-9A-F]{2}")
_SIMPLE_ESCAPES = frozenset('"\\nrt$?_abfv\r\n')
_KEY = re.compile(r"[A-Za-z0-9_.!-][A-Za-z0-9_.-]*")

# Parameters whose `{...}` value is code rather than an array.
_CODE_KEYS = frozenset(
    {
        "do",
        "else",
        "on-error",
        "source",
        "on-event",
        "script",
        "command",
        "up-script",
        "down-script",
        "test-script",
        "on-up",
        "on-down",
        "on-login",
        "on-logout",
        "lease-script",
    }
)
# Commands whose positional `{...}` argument is a block of code.
_BLOCK_COMMANDS = frozenset({":do", "do", ":time", "time", ":execute", "execute"})

_CLOSER_OF = {"[": "]", "(": ")", "{": "}"}
_NAME_OF = {
    "[": "bracket '['",
    "(": "parenthesis '('",
    "{": "brace '{'",
    "]": "']'",
    ")": "')'",
    "}": "'}'",
}

# Frame kinds; plain ints keep the inner loop cheap.
_TOP, _BLOCK, _ARRAY, _SUBST, _EXPR, _STRING_FRAME = range(6)
_STATEMENT_FRAMES = (_TOP, _BLOCK, _SUBST)


@dataclass(slots=True, eq=False)
class _Frame:
    kind: int
    opener: str
    offset: int
    scope: Scope | None = None
    command: Command | None = None
    word: Word | None = None
    """The word being built (no whitespace since it started)."""
    at_start: bool = True
    """No word of the current command (or array element) seen yet."""
    in_string: bool = False
    """An interpolation frame inside a string literal."""
    content_start: int = 0
    owner_word: Word | None = None
    """The word (in the enclosing frame) whose value this frame is."""
    after_where: bool = False
    """A ``where`` word was seen: the rest of the command is a condition."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[Problem] = []
        self.commands: list[Command] = []
        self.string_spans: list[tuple[int, int]] = []
        self.interpolation_spans: list[tuple[int, int]] = []
        self.closers: list[int] = []
        top_scope = Scope(ScopeKind.TOP, None)
        self.stack: list[_Frame] = [_Frame(_TOP, "", 0, scope=top_scope)]

    # -- building commands -------------------------------------------------

    def problem(self, code: str, offset: int, message: str) -> None:
        self.problems.append(Problem(code, offset, message))

    def statement_frame(self) -> _Frame | None:
        for frame in reversed(self.stack):
            if frame.kind in _STATEMENT_FRAMES:
                return frame
        return None

    def end_command(self, frame: _Frame, offset: int) -> None:
        if frame.command is not None:
            frame.command.end = offset
        frame.command = None
        frame.word = None
        frame.at_start = True
        frame.after_where = False

    def start_word(
        self,
        frame: _Frame,
        offset: int,
        key: str | None,
        kind: WordKind,
        value: str | None,
    ) -> Word:
        word = Word(offset, key, kind, value)
        if frame.kind in _STATEMENT_FRAMES:
            if frame.command is None:
                assert frame.scope is not None
                frame.command = Command(offset, frame.scope)
                self.commands.append(frame.command)
            frame.command.words.append(word)
            if key is None and value == "where" and kind is WordKind.PLAIN:
                frame.after_where = True
        frame.word = word
        frame.at_start = False
        return word

    def attach_value(
        self, frame: _Frame, offset: int, kind: WordKind, value: str | None
    ) -> Word:
        """A token that is not a plain word: a string, variable or bracket."""
        word = frame.word
        if word is None:
            return self.start_word(frame, offset, None, kind, value)
        if word.kind is WordKind.NONE:
            word.kind = kind
            word.value = value
        else:
            word.kind = WordKind.MIXED
            word.value = None
        return word

    # -- the main loop -----------------------------------------------------

    def run(self) -> None:
        text = self.text
        length = len(text)
        stack = self.stack
        match_code = _CODE.match
        pos = 0
        while pos < length:
            frame = stack[-1]
            if frame.kind == _STRING_FRAME:
                pos = self.string_step(frame, pos)
                continue

            # One token per step, with the blanks before it.
            match = match_code(text, pos)
            assert match is not None  # `end` matches when nothing else does
            kind = match.lastgroup
            start = match.start(kind)  # type: ignore[arg-type]
            pos = match.end()
            if start > match.start():
                frame.word = None
            if kind == "word":
                self.on_word(frame, start, match.group(kind))
            elif kind == "nl":
                if frame.kind in (_TOP, _BLOCK, _ARRAY):
                    self.end_command(frame, start)
                else:
                    frame.word = None
            elif kind == "cont":
                frame.word = None
            else:
                pos = self.code_token(frame, kind, start, pos)
        self.finish(length)

    def code_token(self, frame: _Frame, kind: str | None, start: int, end: int) -> int:
        """Handle the less common tokens; returns where scanning goes on."""
        if kind == "semi":
            self.end_command(frame, start)
        elif kind == "quote":
            self.open_string(frame, start, as_variable=False)
        elif kind == "open":
            self.on_open(frame, start, self.text[start])
        elif kind == "close":
            self.on_close(frame, start, self.text[start])
        elif kind == "var":
            self.on_variable(frame, start, self.text[start:end])
        elif kind == "backslash":
            self.problem(
                "RSC007",
                start,
                "a backslash outside a string: it may only end a line to continue it",
            )
            self.on_word(frame, start, "\\")
        elif kind == "hash":
            return self.on_hash(frame, start)
        return end

    def on_word(self, frame: _Frame, pos: int, token: str) -> None:
        if frame.word is not None:
            word = frame.word
            if word.kind is WordKind.NONE:
                word.kind = WordKind.PLAIN
                word.value = token
            elif word.kind is WordKind.PLAIN and word.value is not None:
                word.value += token
            else:
                word.kind = WordKind.MIXED
                word.value = None
            return

        if (
            token[0] == "="
            and frame.kind in _STATEMENT_FRAMES
            and frame.command is not None
            and not frame.after_where
            and frame.command.words
        ):
            previous = frame.command.words[-1]
            if previous.key is None and previous.kind is WordKind.PLAIN:
                self.problem(
                    "RSC005",
                    pos,
                    f"space before '=': write '{previous.value}=value' with "
                    "no space around '='",
                )

        equals = token.find("=", 1)
        if equals > 0 and _KEY.fullmatch(token, 0, equals):
            key = token[:equals]
            value = token[equals + 1 :]
            if value:
                self.start_word(frame, pos, key, WordKind.PLAIN, value)
            else:
                self.start_word(frame, pos, key, WordKind.NONE, None)
        else:
            self.start_word(frame, pos, None, WordKind.PLAIN, token)

    def on_hash(self, frame: _Frame, pos: int) -> int:
        """A ``#`` at the start of a word: a comment, or an error after a command."""
        end = _REST_OF_LINE.match(self.text, pos).end()  # type: ignore[union-attr]
        if frame.word is not None:
            # Glued to the word before it, as in `name=a#b`: part of the word.
            word_end = pos + 1
            self.on_word(frame, pos, "#")
            return word_end
        if frame.kind == _EXPR:
            self.on_word(frame, pos, "#")
            return pos + 1
        if not frame.at_start:
            self.problem(
                "RSC006",
                pos,
                "a '#' comment after a command needs a ';' before it "
                "(RouterOS reports 'expected end of command')",
            )
        return end

    def open_string(self, frame: _Frame, pos: int, *, as_variable: bool) -> None:
        kind = WordKind.VARIABLE if as_variable else WordKind.STRING
        word = self.attach_value(frame, pos, kind, None)
        string_frame = _Frame(_STRING_FRAME, '"', pos, content_start=pos + 1)
        string_frame.owner_word = word if kind is WordKind.STRING else None
        self.stack.append(string_frame)

    def on_variable(self, frame: _Frame, pos: int, token: str) -> None:
        if token == '$"':
            self.open_string(frame, pos + 1, as_variable=True)
            return
        if token in ("$[", "$("):
            self.on_open(frame, pos + 1, token[1])
            return
        self.attach_value(frame, pos, WordKind.VARIABLE, None)

    def on_open(self, frame: _Frame, pos: int, char: str) -> None:
        if char == "[":
            kind = WordKind.SUBSTITUTION
            new = _Frame(_SUBST, char, pos)
        elif char == "(":
            kind = WordKind.EXPRESSION
            new = _Frame(_EXPR, char, pos)
        else:
            new = self.brace_frame(frame, pos)
            kind = WordKind.BLOCK if new.kind == _BLOCK else WordKind.ARRAY

        owner_word = frame.word
        key = owner_word.key if owner_word is not None else None
        self.attach_value(frame, pos, kind, None)
        owner = self.owner_command()
        if new.kind == _SUBST:
            new.scope = Scope(ScopeKind.SUBSTITUTION, owner, None, pos)
        elif new.kind == _BLOCK:
            new.scope = Scope(ScopeKind.BLOCK, owner, key, pos)
        self.stack.append(new)

    def owner_command(self) -> Command | None:
        frame = self.statement_frame()
        return frame.command if frame is not None else None

    def brace_frame(self, frame: _Frame, pos: int) -> _Frame:
        block = _Frame(_BLOCK, "{", pos)
        array = _Frame(_ARRAY, "{", pos)
        if frame.kind not in _STATEMENT_FRAMES:
            return array
        command = frame.command
        if command is None or not command.words:
            return block
        word = frame.word
        if word is not None and word.kind is WordKind.NONE and word.key is not None:
            if word.key in _CODE_KEYS:
                return block
            if word.key == "in":
                is_onerror = command.words[0].value in (":onerror", "onerror")
                return block if is_onerror else array
            return array
        if word is None:
            head = command.words[0].value or ""
            if head in _BLOCK_COMMANDS:
                return block
            only_path = all(
                w.key is None and w.kind is WordKind.PLAIN for w in command.words
            )
            if only_path and head.startswith(("/", "..")):
                return block
        return array

    def on_close(self, frame: _Frame, pos: int, char: str) -> None:
        if frame.kind in (_TOP, _STRING_FRAME) or _CLOSER_OF[frame.opener] != char:
            target = self.find_opener(char)
            if target is None:
                self.problem(
                    "RSC002",
                    pos,
                    f"unexpected {_NAME_OF[char]}: nothing open to close here",
                )
                return
            while len(self.stack) - 1 > target:
                self.report_unclosed(self.stack.pop())
            frame = self.stack[-1]
        self.close_frame(frame, pos)

    def find_opener(self, char: str) -> int | None:
        """The stack index of the nearest frame ``char`` can close.

        The search stops at a string: a bracket cannot close across a quote.
        """
        for index in range(len(self.stack) - 1, 0, -1):
            candidate = self.stack[index]
            if candidate.kind == _STRING_FRAME:
                return None
            if _CLOSER_OF.get(candidate.opener) == char:
                return index
        return None

    def close_frame(self, frame: _Frame, pos: int) -> None:
        self.closers.append(pos)
        if frame.kind in _STATEMENT_FRAMES:
            self.end_command(frame, pos)
        self.stack.pop()
        if frame.in_string:
            self.interpolation_spans.append((frame.offset - 1, pos + 1))

    def report_unclosed(self, frame: _Frame) -> None:
        if frame.kind == _STRING_FRAME:
            self.problem("RSC003", frame.offset, "unterminated string: no closing '\"'")
            return
        self.problem(
            "RSC001",
            frame.offset,
            f"unclosed {_NAME_OF[frame.opener]}: no matching "
            f"'{_CLOSER_OF[frame.opener]}'",
        )

    def string_step(self, frame: _Frame, pos: int) -> int:
        text = self.text
        match = _STRING.match(text, pos)
        assert match is not None
        kind = match.lastgroup
        end = match.end()

        if kind == "text":
            pass
        elif kind == "esc":
            self.check_escape(pos, match.group())
            if match.group() != "\\" and _HEX_PAIR.match(text, pos + 1):
                end = pos + 3
        elif kind == "quote":
            self.stack.pop()
            self.closers.append(pos)
            self.string_spans.append((frame.content_start, pos))
            owner = frame.owner_word
            if owner is not None and owner.kind is WordKind.STRING:
                owner.value = text[frame.content_start : pos]
        else:
            token = match.group()
            if token in ("$[", "$("):
                new = _Frame(_SUBST if token == "$[" else _EXPR, token[1], pos + 1)
                new.in_string = True
                if new.kind == _SUBST:
                    new.scope = Scope(
                        ScopeKind.SUBSTITUTION, self.owner_command(), None, pos + 1
                    )
                self.stack.append(new)
        return end

    def check_escape(self, pos: int, token: str) -> None:
        if len(token) == 1:
            return  # a backslash at the very end: the string is unterminated
        following = token[1]
        if following in _SIMPLE_ESCAPES or token[1:] == "\r\n":
            return
        if _HEX_PAIR.match(self.text, pos + 1):
            return
        shown = "\\" + following if following.isprintable() else f"\\{following!r}"
        self.problem(
            "RSC004",
            pos,
            f"bad escape '{shown}' in a string: use \\\", \\\\, \\n, \\r, \\t, "
            "\\$, \\?, \\_, \\a, \\b, \\f, \\v or two capital hex digits",
        )

    def finish(self, length: int) -> None:
        while len(self.stack) > 1:
            self.report_unclosed(self.stack.pop())
        self.end_command(self.stack[0], length)


def scan(text: str) -> ScanResult:
    """Scan RouterOS script text once; see the module docstring."""
    scanner = _Scanner(text)
    scanner.run()
    problems = sorted(scanner.problems, key=lambda problem: problem.offset)
    return ScanResult(
        text,
        problems,
        scanner.commands,
        scanner.string_spans,
        scanner.interpolation_spans,
        scanner.closers,
    )

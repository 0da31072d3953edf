"""A Pygments lexer for RouterOS script.

The lexer is a small state machine driven by one compiled alternation per state,
which keeps it faster than a rule-by-rule ``RegexLexer``. Its state is a stack of
small integers, one per open context (block, command substitution, expression,
string), each carrying the phase of the command being read in that context. The
state can be captured at any line start as a tuple, which is what the incremental
highlighter compares to know when re-lexing can stop.

No token ever spans a line break: a newline is always the last character of the
token holding it, so lexing a text line by line gives exactly the tokens of a
whole-text lex.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

from pygments.lexer import Lexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

__all__ = [
    "ADDRESS",
    "ICE_COMMANDS",
    "INITIAL_STATE",
    "ITEM_ID",
    "MENU_COMMANDS",
    "TIME",
    "RouterOSLexer",
    "State",
    "Token",
    "lex_line",
]

State = tuple[int, ...]
"""The lexer state at a position: one integer per open context, innermost last."""

Token = tuple[int, _TokenType, str]
"""A token as Pygments gives it: offset, token type, text."""

ADDRESS: Final = Number.Address
"""IPv4 and IPv6 addresses, prefixes and ranges, and MAC addresses."""
TIME: Final = Number.Time
"""Durations and times of day: ``1d2h3m``, ``500ms``, ``00:05:00``."""
ITEM_ID: Final = Number.Id
"""Internal item numbers such as ``*1A``."""

# Context kinds (high bits of a frame) and command phases (low three bits).
_ROOT, _BLOCK, _SUBST, _ISUBST, _PAREN, _IPAREN, _STRING, _ENDED = range(8)
_START, _PATH, _ARGS, _VALUE, _VARNAME, _GVARNAME, _LOOPVAR = range(7)
_STATEMENT_KINDS: Final = frozenset({_ROOT, _BLOCK, _SUBST, _ISUBST})
# Deeper nesting is an error; it bounds the state an editor keeps per line.
_MAX_DEPTH: Final = 100

INITIAL_STATE: Final[State] = (_ROOT << 3 | _START,)
"""The state at the start of a script."""

# fmt: off
ICE_COMMANDS: Final = frozenset(
    {
        "beep", "convert", "delay", "deserialize", "do", "environment", "error",
        "execute", "find", "for", "foreach", "global", "grep", "if", "jobname", "len",
        "local", "log", "nothing", "onerror", "parse", "pick", "put", "resolve",
        "retry", "return", "rndnum", "rndstr", "serialize", "set", "terminal", "time",
        "timestamp", "toarray", "tobool", "toid", "toip", "toip6", "tonsec", "tonum",
        "tostr", "totime", "typeof", "while"
    }
)
"""Commands of the scripting language itself, written ``:name``."""

MENU_COMMANDS: Final = frozenset(
    {
        "add", "apply-changes", "bandwidth-test", "blink", "cancel",
        "check-for-updates", "clear", "comment", "debug", "disable", "downgrade",
        "download", "edit", "enable", "error", "export", "fetch", "find", "flush",
        "force-update", "generate", "get", "import", "info", "install", "ip-scan",
        "load", "mac-scan", "make-static", "monitor", "monitor-traffic", "move", "ping",
        "print", "reboot", "release", "remove", "renew", "reset", "reset-configuration",
        "reset-counters", "reset-counters-all", "run", "save", "send", "set",
        "shutdown", "sign", "sniff", "speed-test", "start", "stop", "torch",
        "traceroute", "uninstall", "unset", "upgrade", "upload", "warning", "wol"
    }
)
"""Words that end a menu path and start its arguments; other path words are menus."""
# fmt: on

_ICE_PHASE: Final = {"local": _VARNAME, "set": _VARNAME, "global": _GVARNAME} | {
    name: _LOOPVAR for name in ("foreach", "for", "onerror")
}

# Action codes of the alternatives below.
(
    _EMIT,
    _NEWLINE,
    _PATH_WORD,
    _ICE,
    _ATTRIBUTE,
    _PUSH,
    _CLOSE,
) = range(7)

_TERM = r"(?![\w.:/@%-])"
_HEX = "[0-9A-Fa-f]"
_UNIT = r"\d+(?:\.\d+)?(?:ms|us|ns|[wdhms])"
_IPV6_GROUPS = rf"{_HEX}{{1,4}}(?::{_HEX}{{1,4}})*"
_IPV6 = (
    rf"(?:(?:{_HEX}{{1,4}}:){{7}}{_HEX}{{1,4}}"
    rf"|(?:{_IPV6_GROUPS})?::(?:{_IPV6_GROUPS})?(?:\.\d{{1,3}}){{0,3}})"
    r"(?:/\d{1,3})?"
)
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}|-\d{1,3}(?:\.\d{1,3}){3})?"

# Literal values: tried before words, each must end where a word could not go on.
_LITERALS: Final = [
    (rf"{_HEX}{{2}}(?::{_HEX}{{2}}){{5}}{_TERM}", _EMIT, ADDRESS, _ARGS),
    (rf"(?:\d+[wd])*\d{{1,2}}:\d\d(?::\d\d(?:\.\d+)?)?{_TERM}", _EMIT, TIME, _ARGS),
    (rf"(?:{_UNIT})+{_TERM}", _EMIT, TIME, _ARGS),
    (rf"{_IPV6}{_TERM}", _EMIT, ADDRESS, _ARGS),
    (rf"{_IPV4}{_TERM}", _EMIT, ADDRESS, _ARGS),
    (rf"\d+(?:\.\d+){{1,2}}/\d{{1,2}}{_TERM}", _EMIT, ADDRESS, _ARGS),
    (rf"\d+(?:\.\d+)+{_TERM}", _EMIT, Number.Float, _ARGS),
    (rf"0x{_HEX}+{_TERM}", _EMIT, Number.Hex, _ARGS),
    (rf"\d+{_TERM}", _EMIT, Number.Integer, _ARGS),
    (rf"(?:yes|no|true|false){_TERM}", _EMIT, Keyword.Constant, _ARGS),
]
_SIGNED: Final = [
    (rf"-\d+{_TERM}", _EMIT, Number.Integer, _ARGS),
    (rf"\*{_HEX}+{_TERM}", _EMIT, ITEM_ID, _ARGS),
]

_LINE_END: Final = [
    (r"[ \t\r\f\v]+", _EMIT, Whitespace, None),
    (r"\n", _NEWLINE, Whitespace, None),
    (r"\\[ \t]*\r?\n", _EMIT, String.Escape, None),
]
_OPENERS: Final = [
    (r'"', _PUSH, String.Delimiter, _STRING),
    (r"\[", _PUSH, Punctuation, _SUBST),
    (r"\(", _PUSH, Punctuation, _PAREN),
    (r"\{", _PUSH, Punctuation, _BLOCK),
    (r"[\])}]", _CLOSE, Punctuation, None),
]
_VARIABLE = r'\$(?:\w+|"(?:[^"\\\n]|\\.)*")'
_ATTRIBUTE_NAME = r"\.?[\w][\w.-]*="
_OPERATORS = r"<%%|->|!=|<=|>=|&&|\|\||<<|>>|[-+*/%.!<>=~^&|]"
_OPERATOR_WORDS = rf"(?:and|or|not|in|where){_TERM}"
_FALLBACK: Final = [
    (r"\\.", _EMIT, String.Escape, None),
    (r".", _EMIT, Text, None),
]


# A command after its path: arguments, positional values and filter operators.
_ARGS_RULES: Final = [
    *_LINE_END,
    (r"#[^\n]*\n?", _NEWLINE, Comment.Single, None),
    (r";", _EMIT, Punctuation, _START),
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (_VARIABLE, _EMIT, Name.Variable, _ARGS),
    *_OPENERS,
    *_LITERALS,
    *_SIGNED,
    (_OPERATOR_WORDS, _EMIT, Operator.Word, _ARGS),
    (r"=", _EMIT, Operator, _VALUE),
    (_OPERATORS, _EMIT, Operator, _ARGS),
    (r",", _EMIT, Punctuation, _ARGS),
    (r'[^\s;\[\](){}"$=!<>~,\\&|^+*/-][^\s;\[\](){}"$=!<>~,\\&|]*', _EMIT, Text, _ARGS),
    *_FALLBACK,
]


_START_RULES: Final = [
    *_LINE_END,
    (r"#[^\n]*\n?", _NEWLINE, Comment.Single, None),
    (r";", _EMIT, Punctuation, _START),
    (r":[A-Za-z][\w-]*", _ICE, Keyword, None),
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (r"/(?:[\w.-]+/)*", _EMIT, Name.Namespace, _PATH),
    (_VARIABLE, _EMIT, Name.Variable, _ARGS),
    *_OPENERS,
    *_LITERALS,
    *_SIGNED,
    (r"(?:[\w.-]+/)+", _EMIT, Name.Namespace, _PATH),
    (r"[\w.][\w.-]*", _PATH_WORD, Name.Namespace, None),
    (_OPERATORS, _EMIT, Operator, _ARGS),
    (r",", _EMIT, Punctuation, _ARGS),
    *_FALLBACK,
]

_PATH_RULES: Final = [
    *_LINE_END,
    (r"#[^\n]*\n?", _NEWLINE, Comment.Single, None),
    (r";", _EMIT, Punctuation, _START),
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (r"(?:[\w.-]+/)+", _EMIT, Name.Namespace, _PATH),
    *_LITERALS,
    (r"[\w.][\w.-]*", _PATH_WORD, Name.Namespace, None),
    *_ARGS_RULES,
]

_VALUE_RULES: Final = [
    (r"[ \t\r\f\v]+", _EMIT, Whitespace, _ARGS),
    (r"\n", _NEWLINE, Whitespace, None),
    (r"\\[ \t]*\r?\n", _EMIT, String.Escape, _ARGS),
    (r";", _EMIT, Punctuation, _START),
    (r"!", _EMIT, Operator, None),
    (_VARIABLE, _EMIT, Name.Variable, _ARGS),
    *_OPENERS,
    *_LITERALS,
    *_SIGNED,
    (r'[^\s;\[\](){}"$,\\]+', _EMIT, Text, _ARGS),
    (r",", _EMIT, Punctuation, _ARGS),
    *_FALLBACK,
]

_VARNAME_RULES: Final = [
    *_LINE_END,
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (r'[\w-]+|"(?:[^"\\\n]|\\.)*"', _EMIT, Name.Variable, _ARGS),
    *_ARGS_RULES,
]

_GVARNAME_RULES: Final = [
    *_LINE_END,
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (r'[\w-]+|"(?:[^"\\\n]|\\.)*"', _EMIT, Name.Variable.Global, _ARGS),
    *_ARGS_RULES,
]

_LOOPVAR_RULES: Final = [
    *_LINE_END,
    (_ATTRIBUTE_NAME, _ATTRIBUTE, Name.Attribute, _VALUE),
    (r"\w+", _EMIT, Name.Variable, _LOOPVAR),
    (r",", _EMIT, Punctuation, _LOOPVAR),
    *_ARGS_RULES,
]

_PAREN_RULES: Final = [
    (r"[ \t\r\f\v]+", _EMIT, Whitespace, None),
    (r"\n", _EMIT, Whitespace, None),
    (r"\\[ \t]*\r?\n", _EMIT, String.Escape, None),
    (_VARIABLE, _EMIT, Name.Variable, None),
    *_OPENERS,
    *[(rule, action, ttype, None) for rule, action, ttype, _ in _LITERALS],
    (_OPERATOR_WORDS, _EMIT, Operator.Word, None),
    (_OPERATORS, _EMIT, Operator, None),
    (r"[;,]", _EMIT, Punctuation, None),
    (r"[A-Za-z_][\w-]*", _EMIT, Text, None),
    (r"#[^\n]*", _EMIT, Comment.Single, None),
    *_FALLBACK,
]

_STRING_RULES: Final = [
    (r'[^"\\$\n]+', _EMIT, String.Double, None),
    (r'"', _CLOSE, String.Delimiter, None),
    (rf'\\(?:["\\nrtabfv$?_]|{_HEX}{{2}})', _EMIT, String.Escape, None),
    (r"\\\r?\n", _EMIT, String.Escape, None),
    (r"\$\(", _PUSH, String.Interpol, _IPAREN),
    (r"\$\[", _PUSH, String.Interpol, _ISUBST),
    (r"\$\w+", _EMIT, Name.Variable, None),
    (r"\n", _EMIT, String.Double, None),
    (r"\$", _EMIT, String.Double, None),
    (r"\\.", _EMIT, Error, None),
    (r"\\", _EMIT, Error, None),
]


# RouterOS stops reading a script at a closing brace that closes nothing.
_ENDED_RULES: Final = [
    (r"[^\n]+", _EMIT, Comment, None),
    (r"\n", _EMIT, Whitespace, None),
]


def _compile(rules: Sequence[tuple[str, int, Any, Any]]) -> tuple[Any, list[Any]]:
    """One alternation with a capturing group per rule, and the rules by group."""
    pattern = re.compile("|".join(f"({rule})" for rule, *_ in rules))
    actions: list[Any] = [None]
    actions.extend((action, ttype, arg) for _, action, ttype, arg in rules)
    return pattern, actions


def _build_tables() -> list[tuple[Any, list[Any]]]:
    by_phase = {
        _START: _compile(_START_RULES),
        _PATH: _compile(_PATH_RULES),
        _ARGS: _compile(_ARGS_RULES),
        _VALUE: _compile(_VALUE_RULES),
        _VARNAME: _compile(_VARNAME_RULES),
        _GVARNAME: _compile(_GVARNAME_RULES),
        _LOOPVAR: _compile(_LOOPVAR_RULES),
    }
    paren = _compile(_PAREN_RULES)
    string = _compile(_STRING_RULES)
    ended = _compile(_ENDED_RULES)
    tables = []
    for frame in range(8 << 3):
        kind, phase = frame >> 3, frame & 7
        if kind in _STATEMENT_KINDS:
            tables.append(by_phase.get(phase, by_phase[_ARGS]))
        elif kind == _STRING:
            tables.append(string)
        elif kind == _ENDED:
            tables.append(ended)
        else:
            tables.append(paren)
    return tables


_TABLES: Final = _build_tables()

_CLOSER_KIND: Final = {
    "}": (_BLOCK, _BLOCK),
    "]": (_SUBST, _ISUBST),
    ")": (_PAREN, _IPAREN),
    '"': (_STRING, _STRING),
}


def _scan(text: str, pos: int, stack: list[int]) -> Iterator[Token]:
    """Yield the tokens of ``text`` from ``pos``, updating ``stack`` in place."""
    end = len(text)
    tables = _TABLES
    while pos < end:
        frame = stack[-1]
        pattern, actions = tables[frame]
        match = pattern.match(text, pos)
        if match is None:  # pragma: no cover - every table ends in a catch-all
            yield pos, Error, text[pos]
            pos += 1
            continue
        index = match.lastindex or 0
        value = match.group()
        action, ttype, arg = actions[index]

        if action == _EMIT:
            yield pos, ttype, value
            if arg is not None:
                stack[-1] = frame & ~7 | arg
        elif action == _NEWLINE:
            yield pos, ttype, value
            stack[-1] = frame & ~7 | _START
        elif action == _PATH_WORD:
            if value in MENU_COMMANDS:
                yield pos, Name.Function, value
                stack[-1] = frame & ~7 | _ARGS
            else:
                yield pos, ttype, value
                stack[-1] = frame & ~7 | _PATH
        elif action == _ATTRIBUTE:
            yield pos, ttype, value[:-1]
            yield pos + len(value) - 1, Operator, "="
            stack[-1] = frame & ~7 | _VALUE
        elif action == _PUSH:
            if len(stack) >= _MAX_DEPTH:
                yield pos, Error, value
            else:
                yield pos, ttype, value
                if frame >> 3 in _STATEMENT_KINDS:
                    stack[-1] = frame & ~7 | _ARGS
                stack.append(arg << 3)
        elif action == _CLOSE:
            yield pos, *_close(stack, value, ttype)
        elif action == _ICE:
            name = value[1:]
            yield pos, (ttype if name in ICE_COMMANDS else Name.Function), value
            stack[-1] = frame & ~7 | _ICE_PHASE.get(name, _ARGS)
        pos = match.end()


def _close(stack: list[int], value: str, ttype: _TokenType) -> tuple[_TokenType, str]:
    """Pop the innermost context if ``value`` closes it; otherwise it is an error."""
    kind = stack[-1] >> 3
    plain, interpolated = _CLOSER_KIND[value]
    if len(stack) > 1 and kind in (plain, interpolated):
        stack.pop()
        return (String.Interpol if kind != plain else ttype), value
    if value == "}" and len(stack) == 1 and kind == _ROOT:
        stack[0] = _ENDED << 3
        return ttype, value
    return Error, value


def lex_line(line: str, state: State) -> tuple[list[Token], State]:
    """Lex one line (with its newline, if any) from ``state``.

    Returns the tokens, positioned from the start of the line, and the state at
    the end of the line.
    """
    stack = list(state)
    tokens = list(_scan(line, 0, stack))
    return tokens, tuple(stack)


# Pygments ships no type information, so its Lexer base is untyped here.
class RouterOSLexer(Lexer):  # type: ignore[misc]
    """Lexer for MikroTik RouterOS scripts and configuration exports."""

    name = "RouterOS"
    aliases = ["routeros", "mikrotik", "rsc"]
    filenames = ["*.rsc"]
    mimetypes = ["text/x-routeros"]
    url = "https://help.mikrotik.com/docs/spaces/ROS/pages/47579229/Scripting"
    version_added = ""

    def get_tokens_unprocessed(self, text: str) -> Iterator[Token]:
        """Yield ``(index, token type, value)`` for the whole of ``text``."""
        yield from _scan(text, 0, list(INITIAL_STATE))

    @staticmethod
    def analyse_text(text: str) -> float:
        """Recognise exports and scripts by their RouterOS-only forms."""
        if re.search(r"^#.* by RouterOS \d", text, re.MULTILINE):
            return 0.9
        if re.search(r"^\s*:(?:local|global|foreach|put) ", text, re.MULTILINE):
            return 0.3
        return 0.0

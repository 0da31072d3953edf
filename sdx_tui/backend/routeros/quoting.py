"""Writing values into RouterOS script safely.

A value placed inside a double-quoted RouterOS string must not be able to end
the string or reach the interpreter: quotes, backslashes, ``$`` (variable
substitution) and ``?`` are escaped, and control characters become
``\\HH`` escapes with capital hex digits, as RouterOS requires.
"""

from __future__ import annotations

__all__ = ["escape", "quote"]

_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "$": "\\$",
    "?": "\\?",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_TABLE = {
    **{code: f"\\{code:02X}" for code in (*range(0x20), 0x7F)},
    **{ord(char): replacement for char, replacement in _ESCAPES.items()},
}


def escape(text: str) -> str:
    """``text`` escaped for use between the quotes of a RouterOS string."""
    return text.translate(_TABLE)


def quote(text: str) -> str:
    """``text`` as a complete RouterOS string literal, quotes included."""
    return f'"{escape(text)}"'

"""Plain-text tables and JSON for the admin commands' output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a left-aligned table with a header, columns two spaces apart."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in [list(headers), *rows]
    ]


def iso(value: datetime | None) -> str | None:
    """An ISO-8601 timestamp in UTC for JSON output, or None."""
    return value.isoformat() if value is not None else None


def json_text(value: Any) -> str:
    """Indented JSON with stable key order, as the ``--json`` options print it."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut with an ellipsis to at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"

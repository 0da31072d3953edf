"""Short, readable texts for times, as a NOC operator scans them."""

from __future__ import annotations

from datetime import datetime


def ago(moment: datetime | None, now: datetime) -> str:
    """``"never"``, ``"just now"``, ``"5 min ago"``, ``"3 h ago"`` or ``"12 d ago"``."""
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago" if seconds >= 10 else "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} d ago"


def shorten_list(names: list[str], *, keep: int = 2) -> str:
    """``"a, b +3"``: the first few names and how many more there are."""
    if not names:
        return "—"
    shown = ", ".join(names[:keep])
    rest = len(names) - keep
    return f"{shown} +{rest}" if rest > 0 else shown

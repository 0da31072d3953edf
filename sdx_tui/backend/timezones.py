"""Time-zone names and conversions for launch times."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sdx_tui.backend.errors import InvalidInput


def check_time_zone(name: str) -> ZoneInfo:
    """The zone named ``name``, or :class:`InvalidInput` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None


def known_time_zones() -> list[str]:
    """Every IANA zone name, sorted."""
    return sorted(available_timezones())


def parse_launch_at(text: str, time_zone: str) -> datetime:
    """An ISO-8601 time; one without an offset is read in ``time_zone``."""
    zone = check_time_zone(time_zone)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO-8601 time (for example 2026-12-24T02:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def in_zone(value: datetime, time_zone: str) -> datetime:
    """``value`` shown in ``time_zone``."""
    return value.astimezone(check_time_zone(time_zone))


def format_in_zone(value: datetime | None, time_zone: str) -> str:
    """``2026-12-24 02:00 CET`` style text, or an empty string."""
    if value is None:
        return ""
    local = in_zone(value, time_zone)
    return local.strftime("%Y-%m-%d %H:%M %Z")

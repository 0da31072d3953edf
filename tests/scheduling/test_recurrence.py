"""Next occurrences of a cron expression in a time zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.launch import first_launch, next_occurrence, next_occurrences

BERLIN = ZoneInfo("Europe/Berlin")


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _local(values: list[datetime]) -> list[str]:
    return [v.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") for v in values]


def test_nightly_job_keeps_its_wall_clock_time_across_the_spring_change() -> None:
    found = next_occurrences("0 1 * * *", "Europe/Berlin", _utc(2026, 3, 27, 12), 4)
    assert _local(found) == [
        "03-28 01:00 CET",
        "03-29 01:00 CET",
        "03-30 01:00 CEST",
        "03-31 01:00 CEST",
    ]
    # 23 hours between the two launches around the change, 24 otherwise.
    assert found[2] - found[1] == timedelta(hours=23)
    assert found[3] - found[2] == timedelta(hours=24)


def test_a_time_in_the_spring_forward_gap_runs_once_shifted_by_the_gap() -> None:
    found = next_occurrences("30 2 * * *", "Europe/Berlin", _utc(2026, 3, 27, 12), 4)
    # 02:30 does not exist on 29 March; the launch happens an hour later, once.
    assert _local(found) == [
        "03-28 02:30 CET",
        "03-29 03:30 CEST",
        "03-30 02:30 CEST",
        "03-31 02:30 CEST",
    ]
    assert found[1] == _utc(2026, 3, 29, 1, 30)


def test_a_time_in_the_autumn_repeat_runs_once_at_its_first_instant() -> None:
    found = next_occurrences("30 2 * * *", "Europe/Berlin", _utc(2026, 10, 23, 12), 4)
    assert _local(found) == [
        "10-24 02:30 CEST",
        "10-25 02:30 CEST",
        "10-26 02:30 CET",
        "10-27 02:30 CET",
    ]
    assert found[1] == _utc(2026, 10, 25, 0, 30)
    assert found[2] - found[1] == timedelta(hours=25)


def test_after_the_first_pass_of_a_repeated_hour_the_job_does_not_run_again() -> None:
    during_second_pass = _utc(2026, 10, 25, 1, 0)  # 02:00 CET, the repeated hour
    assert next_occurrence("30 2 * * *", "Europe/Berlin", during_second_pass) == (
        _utc(2026, 10, 26, 1, 30)
    )


def test_an_hourly_job_runs_every_real_hour_through_both_changes() -> None:
    autumn = next_occurrences("30 * * * *", "Europe/Berlin", _utc(2026, 10, 24, 23), 4)
    assert autumn == [_utc(2026, 10, 24, 23, 30)] + [
        _utc(2026, 10, 25, hour, 30) for hour in range(3)
    ]
    assert _local(autumn)[1:3] == ["10-25 02:30 CEST", "10-25 02:30 CET"]

    spring = next_occurrences("0 * * * *", "Europe/Berlin", _utc(2026, 3, 28, 23), 3)
    assert spring == [_utc(2026, 3, 29, 0), _utc(2026, 3, 29, 1), _utc(2026, 3, 29, 2)]
    assert _local(spring) == ["03-29 01:00 CET", "03-29 03:00 CEST", "03-29 04:00 CEST"]


def test_occurrences_are_strictly_after_the_given_time() -> None:
    at = _utc(2026, 5, 1, 2, 0)
    assert next_occurrences("0 2 * * *", "UTC", at, 2) == [
        _utc(2026, 5, 2, 2),
        _utc(2026, 5, 3, 2),
    ]


def test_an_expression_that_never_matches_has_no_occurrence() -> None:
    assert next_occurrences("0 0 30 2 *", "UTC", _utc(2026, 1, 1), 3) == []
    assert next_occurrence("", "UTC", _utc(2026, 1, 1)) is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput):
        next_occurrences("0 2 * * *", "Mars/Olympus", _utc(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="naive"):
        next_occurrences("0 2 * * *", "UTC", datetime(2026, 1, 1), 1)


def test_first_launch_of_a_recurring_script_approved_after_its_start() -> None:
    now = _utc(2026, 6, 1, 12)
    assert first_launch(_utc(2026, 6, 2), "0 2 * * *", "UTC", now=now) == _utc(
        2026, 6, 2
    )
    assert first_launch(_utc(2026, 5, 1), "0 2 * * *", "UTC", now=now) == _utc(
        2026, 6, 2, 2
    )
    assert first_launch(None, "0 2 * * *", "UTC", now=now) == _utc(2026, 6, 2, 2)
    assert first_launch(_utc(2026, 5, 1), "", "UTC", now=now) == _utc(2026, 5, 1)

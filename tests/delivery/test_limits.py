"""Flood control and the logging that floods cannot swamp."""

from __future__ import annotations

import logging

import pytest

from agent_endpoint.limits import QuietLog, RateLimiter, retry_after


def test_a_bucket_allows_its_rate_and_says_when_to_come_back() -> None:
    limiter = RateLimiter(6)  # one every ten seconds, bursts of six
    assert [limiter.acquire("site", 0.0) for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("site", 0.0) == pytest.approx(10.0)
    assert limiter.acquire("site", 5.0) == pytest.approx(5.0)
    assert limiter.acquire("site", 10.0) == 0.0
    assert limiter.acquire("other", 10.0) == 0.0


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after(s) for s in (0.01, 1.0, 1.2, 59.9)] == ["1", "1", "2", "60"]


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_quiet_log_says_once_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    quiet = QuietLog(logging.getLogger("quiet-test"), interval=60)
    caplog.set_level(logging.WARNING, logger="quiet-test")

    logged = [
        quiet.warning(("401", "10.0.0.1"), t, "refused %s", "x") for t in (0, 1, 2)
    ]
    logged.append(quiet.warning(("401", "10.0.0.2"), 3, "refused %s", "y"))
    logged.append(quiet.warning(("401", "10.0.0.1"), 61, "refused %s", "x"))

    assert logged == [True, False, False, True, True]
    assert [r.getMessage() for r in caplog.records] == [
        "refused x",
        "refused y",
        "refused x (2 more like it not logged)",
    ]

"""Flood control for the device endpoint, and logging that a flood cannot swamp."""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts as large.

    Buckets are small lists updated in place, so an allowed request allocates
    nothing once its key has a bucket. Keys are site ids, which the fleet bounds.
    """

    def __init__(self, per_minute: float, *, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError("the rate must be positive")
        self.per_second = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(per_minute, 1.0))
        self._buckets: dict[Hashable, list[float]] = {}

    def acquire(self, key: Hashable, now: float) -> float:
        """Take one request for ``key`` at ``now`` (seconds).

        Returns 0.0 when allowed, otherwise how many seconds until it would be.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        available = min(self.burst, bucket[0] + (now - bucket[1]) * self.per_second)
        bucket[1] = now
        if available >= 1.0:
            bucket[0] = available - 1.0
            return 0.0
        bucket[0] = available
        return (1.0 - available) / self.per_second


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))


class QuietLog:
    """Log one line per kind of event and source, then stay quiet for a while.

    The first bad request from a source is logged at once; repeats within
    ``interval`` seconds are counted and the count is reported with the next line.
    """

    def __init__(
        self, logger: logging.Logger, *, interval: float = 60.0, max_keys: int = 10_000
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._max_keys = max_keys
        self._last: dict[Hashable, list[float]] = {}

    def warning(self, key: Hashable, now: float, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``key`` was logged recently; True if logged."""
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self._interval:
            entry[1] += 1
            return False
        if entry is None and len(self._last) >= self._max_keys:
            self._last.clear()
        suppressed = int(entry[1]) if entry is not None else 0
        if suppressed:
            message += " (%d more like it not logged)"
            args = (*args, suppressed)
        self._logger.warning(message, *args)
        self._last[key] = [now, 0.0]
        return True

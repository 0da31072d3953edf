"""Batching concurrent requests into one unit of work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from agent_endpoint.batching import Batcher


async def in_thread(work: Callable[..., Any], *args: object) -> Any:
    return await asyncio.to_thread(work, *args)


async def test_requests_arriving_during_a_batch_form_the_next_one() -> None:
    batches: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def handle(requests: list[int]) -> list[int | BaseException]:
        batches.append(list(requests))
        if len(batches) == 1:
            first_started.set()
            release.wait(timeout=60)
        return [ValueError("odd") if n % 2 else n * 10 for n in requests]

    batcher: Batcher[int, int] = Batcher(handle, in_thread, max_batch=4)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.to_thread(first_started.wait, 60)
    rest = [asyncio.create_task(batcher.submit(n)) for n in range(1, 7)]
    await asyncio.sleep(0)
    release.set()

    assert await first == 0
    answers = await asyncio.gather(*rest, return_exceptions=True)
    assert batches == [[0], [1, 2, 3, 4], [5, 6]]
    assert [a if isinstance(a, int) else str(a) for a in answers] == [
        "odd",
        20,
        "odd",
        40,
        "odd",
        60,
    ]


async def test_a_failing_batch_fails_each_of_its_requests() -> None:
    def handle(requests: list[int]) -> list[int | BaseException]:
        raise RuntimeError("database gone")

    batcher: Batcher[int, int] = Batcher(handle, in_thread)
    results = await asyncio.gather(
        batcher.submit(1), batcher.submit(2), return_exceptions=True
    )
    assert [str(r) for r in results] == ["database gone", "database gone"]
    with pytest.raises(RuntimeError):
        await batcher.submit(3)

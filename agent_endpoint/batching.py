"""Group concurrent requests into one unit of database work.

A launch to thousands of sites brings thousands of hand-outs and results within
one poll interval. One transaction per request pays a commit and a dozen
statements each; handled together, a batch pays them once. Batching costs an
idle desk nothing: a request that finds no batch running starts one at once, and
requests that arrive while a batch runs go together into the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

_Request = TypeVar("_Request")
_Answer = TypeVar("_Answer")


class Batcher(Generic[_Request, _Answer]):
    """Collects requests and hands them to ``handle`` in batches, one at a time.

    ``handle`` runs through ``run_in_thread`` with the requests of a batch and
    returns one answer per request, in order; an exception instance as an
    answer is raised to that request alone, and an exception raised by
    ``handle`` to every request of the batch.
    """

    def __init__(
        self,
        handle: Callable[[list[_Request]], Sequence[_Answer | BaseException]],
        run_in_thread: Callable[..., Awaitable[Sequence[_Answer | BaseException]]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._handle = handle
        self._run_in_thread = run_in_thread
        self._max_batch = max_batch
        self._waiting: list[tuple[_Request, asyncio.Future[_Answer]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, request: _Request) -> _Answer:
        """Queue ``request`` and return its answer once its batch is handled."""
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            requests = [request for request, _ in batch]
            try:
                answers = await self._run_in_thread(self._handle, requests)
            except Exception as error:
                answers = [error] * len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

"""The scheduler: APScheduler timing launches, the database deciding them.

The database is the source of truth. On start, and every
``settings.scheduler.sync_seconds`` after, the service reads when each scheduled
script is due and keeps one APScheduler date job per due time; a job only wakes
the launcher, which asks :func:`launch.launch_due` what is due. So a script
approved, edited, cancelled or rescheduled by another desk is picked up at the
next sync, and a job left over from a change launches nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.launch import launch_due, upcoming_launches
from sdx_tui.config import Settings

log = logging.getLogger(__name__)

_LAUNCH_JOB = "launch:"
_SYNC_JOB = "sync"
_STOP_TIMEOUT = 30.0


class SchedulerService:
    """Launches scheduled scripts on time; one per backend process.

    ``clock`` gives the current time to the launch decisions (tests inject one).
    Database work runs in threads so the event loop, and the UI on it, never
    waits for it.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._launching = asyncio.Lock()
        self._syncing = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the service is started."""
        return self._scheduler is not None

    async def start(self) -> None:
        """Rebuild the jobs from the database and start timing launches."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            # A job that fires late must still run: the launcher decides whether
            # the occurrence is within its grace window or missed.
            job_defaults={"misfire_grace_time": None, "coalesce": True},
        )
        scheduler.start()
        self._scheduler = scheduler
        try:
            await self.sync()
        except BaseException:
            await self.stop()
            raise
        scheduler.add_job(
            self._wake,
            IntervalTrigger(seconds=self.settings.scheduler.sync_seconds, timezone=UTC),
            args=[self._sync_quietly],
            id=_SYNC_JOB,
        )
        log.info("scheduler started with %d launch time(s)", len(self.launch_times()))

    async def stop(self) -> None:
        """Stop timing launches; a launch under way finishes its transaction first."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.shutdown(wait=False)
        # The shutdown itself is queued on the loop; let it run.
        await asyncio.sleep(0)
        tasks = list(self._tasks)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        log.info("scheduler stopped")

    def launch_times(self) -> list[datetime]:
        """The due times that have a job waiting, earliest first."""
        if self._scheduler is None:
            return []
        return sorted(
            job.trigger.run_date
            for job in self._scheduler.get_jobs()
            if job.id.startswith(_LAUNCH_JOB)
        )

    async def sync(self) -> None:
        """Read the due times from the database, fix the jobs, launch what is due."""
        async with self._syncing:
            now = self.clock()
            due_times = await asyncio.to_thread(
                upcoming_launches, self.database, now=now
            )
            self._plan(set(due_times.values()), now)
            if any(when <= now for when in due_times.values()):
                await self.launch()

    async def launch(self, at: datetime | None = None) -> list[int]:
        """Launch every script due now (or at ``at``, if later); returns the runs."""
        now = self.clock()
        if at is not None:
            # A timer may fire a hair before its time; the job stands for `at`.
            now = max(now, at)
        scheduler = self.settings.scheduler
        async with self._launching:
            runs = await asyncio.to_thread(
                launch_due,
                self.database,
                now=now,
                grace=timedelta(seconds=scheduler.grace_seconds),
                deadline=timedelta(
                    minutes=self.settings.endpoint.delivery_deadline_minutes
                ),
            )
        if runs:
            log.info("scheduler created %d run(s)", len(runs))
        return runs

    def _plan(self, due_times: set[datetime], now: datetime) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        # Times already come are launched by the sync itself, not by a job.
        wanted = {
            _LAUNCH_JOB + when.isoformat(): when for when in due_times if when > now
        }
        for job in scheduler.get_jobs():
            if job.id.startswith(_LAUNCH_JOB) and job.id not in wanted:
                job.remove()
        for job_id, when in wanted.items():
            if scheduler.get_job(job_id) is None:
                scheduler.add_job(
                    self._wake,
                    DateTrigger(run_date=when, timezone=UTC),
                    args=[self._launch_quietly, when],
                    id=job_id,
                )

    async def _wake(
        self, work: Callable[..., Coroutine[Any, Any, None]], *args: Any
    ) -> None:
        # Jobs return at once and the work runs as our own task: APScheduler
        # cancels unfinished job futures on shutdown and logs each as a failure,
        # whereas our tasks are awaited in stop().
        if self._scheduler is None:
            return
        task = asyncio.create_task(work(*args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _launch_quietly(self, when: datetime) -> None:
        try:
            await self.launch(when)
        except Exception:
            log.exception("launch at %s failed; the next sync tries again", when)

    async def _sync_quietly(self) -> None:
        if self._syncing.locked():
            return
        try:
            await self.sync()
        except Exception:
            log.exception("scheduler sync failed; trying again at the next one")

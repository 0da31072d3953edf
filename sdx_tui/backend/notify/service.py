"""The background worker that empties the outbox.

Each cycle claims due messages by setting ``claimed_until`` (with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serialises the
claim), so two backends on one database never send the same message. A message
that fails is retried with exponential backoff and marked ``failed`` after a
number of attempts; a failed message stays in the table, visible through
:func:`failed_messages` and sent again by :func:`retry_message`. A backend that
dies while sending leaves a claim that runs out, and the message is sent by the
next cycle, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sdx_tui.backend import approvals
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import InvalidInput, NotFound
from sdx_tui.backend.models import OutboxMessage, OutboxStatus
from sdx_tui.backend.notify.errors import DeliveryError
from sdx_tui.backend.notify.messages import scrub_links
from sdx_tui.backend.notify.smtp import send_email
from sdx_tui.backend.notify.whatsapp import send_whatsapp
from sdx_tui.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a message is retried."""

    max_attempts: int = 8
    """Attempts before a message is marked failed."""
    first_delay: timedelta = timedelta(seconds=30)
    """Wait after the first failure; it doubles with each further one."""
    max_delay: timedelta = timedelta(hours=1)
    """The longest wait between two attempts."""

    def delay(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed attempts."""
        factor = 1 << max(attempts - 1, 0)
        return min(self.first_delay * factor, self.max_delay)


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    html: str
    attempts: int
    claim: datetime


class OutboxSender:
    """Sends queued notifications; one per backend process, any number per database."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        policy: RetryPolicy | None = None,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=5),
        interval: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.lease = lease
        self.interval = interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    # -- the service -------------------------------------------------------------

    async def start(self) -> None:
        """Start sending in the background of the running event loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Finish the cycle in progress and stop."""
        if self._task is None:
            return
        self._stopping = True
        self.wake()
        task, self._task = self._task, None
        await task

    def wake(self) -> None:
        """Send now rather than at the next interval; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                await asyncio.to_thread(self.cycle)
            except Exception:
                log.exception("the outbox cycle failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()

    def cycle(self, now: datetime | None = None) -> int:
        """Expire stale approval requests, then send what is due."""
        now = now or self.clock()
        approvals.expire_requests(self.database, now=now)
        return self.send_due(now)

    # -- sending -----------------------------------------------------------------

    def send_due(self, now: datetime | None = None) -> int:
        """Claim and send every due message; returns how many were sent."""
        now = now or self.clock()
        sent = 0
        while True:
            claimed = self._claim(now)
            for message in claimed:
                sent += self._send_one(message, now)
            if len(claimed) < self.batch:
                return sent

    def _claim(self, now: datetime) -> list[_Claimed]:
        claim = now + self.lease
        with self.database.session() as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.next_attempt_at <= now,
                        or_(
                            OutboxMessage.claimed_until.is_(None),
                            OutboxMessage.claimed_until < now,
                        ),
                    )
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(claimed_until=claim)
                .execution_options(synchronize_session=False)
            )
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .order_by(OutboxMessage.id)
            ).all()
            return [
                _Claimed(
                    r.id,
                    r.channel,
                    r.recipient,
                    r.subject,
                    r.body,
                    r.html,
                    r.attempts,
                    claim,
                )
                for r in rows
            ]

    def _deliver(self, message: _Claimed) -> None:
        if message.channel == "email":
            send_email(
                self.settings.smtp,
                recipient=message.recipient,
                subject=message.subject,
                text=message.body,
                html=message.html,
            )
        elif message.channel == "whatsapp":
            send_whatsapp(
                self.settings.whatsapp, recipient=message.recipient, text=message.body
            )
        else:
            raise DeliveryError(f"unknown channel {message.channel!r}")

    def _send_one(self, message: _Claimed, now: datetime) -> int:
        try:
            self._deliver(message)
        except DeliveryError as error:
            self._record_failure(message, scrub_links(str(error)), now)
            return 0
        except Exception as error:
            # A bug in a channel must not lose the message: it is retried like
            # any other failure.
            log.exception("outbox message %s: unexpected error", message.id)
            reason = scrub_links(f"{type(error).__name__}: {error}")
            self._record_failure(message, reason, now)
            return 0
        self._record_success(message, now)
        return 1

    def _record_success(self, message: _Claimed, now: datetime) -> None:
        with self.database.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.claimed_until == message.claim,
                )
                .values(
                    status=OutboxStatus.SENT,
                    attempts=message.attempts + 1,
                    sent_at=now,
                    claimed_until=None,
                    last_error="",
                    subject=scrub_links(message.subject),
                    body=scrub_links(message.body),
                    html=scrub_links(message.html),
                )
                .execution_options(synchronize_session=False)
            )
            _audit(session, message.id, "sent")
        log.info("outbox message %s sent by %s", message.id, message.channel)

    def _record_failure(self, message: _Claimed, reason: str, now: datetime) -> None:
        attempts = message.attempts + 1
        given_up = attempts >= self.policy.max_attempts
        values: dict[str, object] = {
            "attempts": attempts,
            "claimed_until": None,
            "last_error": reason[:2000],
        }
        if given_up:
            values["status"] = OutboxStatus.FAILED
        else:
            values["next_attempt_at"] = now + self.policy.delay(attempts)
        with self.database.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.claimed_until == message.claim,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            outcome = "failed, given up" if given_up else "failed, will retry"
            _audit(session, message.id, f"{outcome}: {reason}")
        log.warning(
            "outbox message %s by %s failed (attempt %d%s): %s",
            message.id,
            message.channel,
            attempts,
            ", given up" if given_up else "",
            reason,
        )


def _audit(session: Session, message_id: int, outcome: str) -> None:
    message = session.get(OutboxMessage, message_id)
    if message is not None and message.approval_token_id is not None:
        approvals.record_notification(session, message, outcome)


def failed_messages(
    database: Database, *, include_retrying: bool = True
) -> Sequence[OutboxMessage]:
    """Messages that failed for good and, by default, those failing and retrying."""
    failing = OutboxMessage.status == OutboxStatus.FAILED
    if include_retrying:
        failing = or_(
            failing,
            (OutboxMessage.status == OutboxStatus.PENDING)
            & (OutboxMessage.last_error != ""),
        )
    with database.reading() as session:
        return session.scalars(
            select(OutboxMessage).where(failing).order_by(OutboxMessage.id.desc())
        ).all()


def retry_message(
    database: Database, message_id: int, *, now: datetime | None = None
) -> None:
    """Queue a failed message again, with a fresh count of attempts."""
    with database.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound(f"outbox message {message_id} does not exist")
        if message.status != OutboxStatus.FAILED:
            raise InvalidInput(
                f"outbox message {message_id} is {message.status}; only a failed "
                "message can be retried"
            )
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = now or utcnow()
        message.claimed_until = None

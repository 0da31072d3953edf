"""What an idle poll needs, kept in memory so that answering it costs no query.

Each backend holds its own copy, refreshed from the database: which sites have
open work (every second or so, one indexed query) and which token hash belongs to
which site (reloaded every half minute, plus an indexed lookup for a token it has
not seen, so a new or rotated token works at once). The database stays the
source of truth: a hand-out or a result checks the token again in its own
transaction, so a stale entry here can only ever earn a ``204``.

Poll times are kept here too and written in batches, each site's at most about
once a minute, so an idle poll writes nothing to the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sdx_tui.backend import delivery
from sdx_tui.backend.db import Database

log = logging.getLogger(__name__)


class FleetCache:
    """Token hashes, sites with open work, and unsaved poll times of one backend.

    The ``refresh_*`` and ``flush_*`` methods touch the database and belong in a
    worker thread; the others are cheap and meant for the event loop.
    """

    def __init__(
        self,
        database: Database,
        *,
        token_reload_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_unknown: int = 10_000,
        seen_precision_seconds: float = 60.0,
    ) -> None:
        self._database = database
        self._token_reload_seconds = token_reload_seconds
        self._monotonic = monotonic
        self._max_unknown = max_unknown
        self._tokens: dict[str, int] = {}
        self._unknown: set[str] = set()
        self._open: set[int] = set()
        self._seen: dict[int, datetime] = {}
        # Touched only by flushes, which run one at a time in a worker thread.
        self._written: dict[int, float] = {}
        self._seen_precision = seen_precision_seconds
        self._tokens_loaded_at: float | None = None
        self.refreshed_at: float | None = None
        """Monotonic time of the last successful refresh, or ``None``."""

    def site_for(self, token_hash: str) -> int | None:
        """The site of a token hash this backend knows; ``None`` if unknown."""
        return self._tokens.get(token_hash)

    def known_unknown(self, token_hash: str) -> bool:
        """Whether the hash was looked up recently and belongs to no site."""
        return token_hash in self._unknown

    def has_open_work(self, site_id: int) -> bool:
        """Whether the site may have something to hand out."""
        return site_id in self._open

    def saw(self, site_id: int, at: datetime) -> None:
        """Note a poll; it reaches the database at the next flush."""
        self._seen[site_id] = at

    def mark_idle(self, site_id: int) -> None:
        """The database said the site has nothing open; skip it until the refresh."""
        self._open.discard(site_id)

    def forget_token(self, token_hash: str) -> None:
        """Drop a token the database no longer knows (rotated, or site removed)."""
        self._tokens.pop(token_hash, None)

    @property
    def site_count(self) -> int:
        """How many tokens this backend knows."""
        return len(self._tokens)

    @property
    def open_count(self) -> int:
        """How many sites have open work."""
        return len(self._open)

    def take_seen(self) -> dict[int, datetime]:
        """The poll times noted since the last call, handed over for a flush."""
        seen, self._seen = self._seen, {}
        return seen

    def give_back_seen(self, seen: dict[int, datetime]) -> None:
        """Return poll times a flush could not write, keeping any newer ones."""
        for site_id, at in seen.items():
            newer = self._seen.get(site_id)
            if newer is None or newer < at:
                self._seen[site_id] = at

    def lookup(self, token_hash: str) -> int | None:
        """Ask the database about a token hash this backend does not know."""
        with self._database.reading() as session:
            site_id = delivery.site_for_token_hash(session, token_hash)
        if site_id is None:
            if len(self._unknown) >= self._max_unknown:
                self._unknown.clear()
            self._unknown.add(token_hash)
        else:
            self._tokens[token_hash] = site_id
        return site_id

    def refresh(self, *, reload_tokens: bool | None = None) -> None:
        """Re-read the sites with open work, and every token when that is due.

        ``reload_tokens`` forces (``True``) or skips (``False``) the token reload.
        """
        now = self._monotonic()
        if reload_tokens is None:
            reload_tokens = (
                self._tokens_loaded_at is None
                or now - self._tokens_loaded_at >= self._token_reload_seconds
            )
        with self._database.reading() as session:
            open_sites = delivery.sites_with_open_work(session)
            tokens = delivery.site_tokens(session) if reload_tokens else None
        # Plain assignments: the event loop reads these while this thread runs.
        self._open = open_sites
        if tokens is not None:
            self._tokens = tokens
            self._unknown = set()
            self._tokens_loaded_at = now
        self.refreshed_at = now

    def flush_seen(self, seen: dict[int, datetime], *, everything: bool = False) -> int:
        """Write poll times taken with :meth:`take_seen`; returns how many.

        A site whose stored time is less than the precision behind is skipped
        unless ``everything`` is asked for: with devices polling every half
        minute, that turns a write per site per flush into one a minute.
        """
        written = self._written
        if not everything:
            precision = self._seen_precision
            seen = {
                site_id: at
                for site_id, at in seen.items()
                if at.timestamp() - written.get(site_id, 0.0) >= precision
            }
        if seen:
            with self._database.session() as session:
                delivery.record_last_seen(session, seen)
            written.update((site_id, at.timestamp()) for site_id, at in seen.items())
        return len(seen)

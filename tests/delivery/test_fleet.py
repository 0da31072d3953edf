"""The in-memory fleet of one backend: tokens, open work and poll times."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agent_endpoint.fleet import FleetCache
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import Site
from sdx_tui.backend.sites import hash_token
from tests.conftest import Desk
from tests.delivery.conftest import add_devices, launch, new_script


def stored_last_seen(desk: Desk, site_id: int) -> object:
    with desk.db.reading() as session:
        return session.scalar(select(Site.last_seen_at).where(Site.id == site_id))


def test_poll_times_are_written_again_only_once_they_are_stale(
    sqlite_desk: Desk,
) -> None:
    (device,) = add_devices(sqlite_desk, 1)
    fleet = FleetCache(sqlite_desk.db, seen_precision_seconds=60)
    start = utcnow()

    def poll_and_flush(after: float) -> int:
        fleet.saw(device.site_id, start + timedelta(seconds=after))
        return fleet.flush_seen(fleet.take_seen())

    assert [poll_and_flush(t) for t in (0, 30, 59, 61)] == [1, 0, 0, 1]
    assert stored_last_seen(sqlite_desk, device.site_id) == start + timedelta(
        seconds=61
    )
    fleet.saw(device.site_id, start + timedelta(seconds=70))
    assert fleet.flush_seen(fleet.take_seen(), everything=True) == 1


def test_poll_times_a_failed_flush_gave_back_keep_the_newest(
    sqlite_desk: Desk,
) -> None:
    fleet = FleetCache(sqlite_desk.db)
    now = utcnow()
    fleet.saw(1, now)
    taken = fleet.take_seen()
    fleet.saw(1, now + timedelta(seconds=5))
    fleet.saw(2, now)
    fleet.give_back_seen({**taken, 2: now - timedelta(seconds=5)})
    assert fleet.take_seen() == {1: now + timedelta(seconds=5), 2: now}


def test_refresh_reads_open_work_and_tokens(sqlite_desk: Desk) -> None:
    busy, idle = add_devices(sqlite_desk, 2)
    fleet = FleetCache(sqlite_desk.db)
    assert fleet.site_for(hash_token(busy.token)) is None

    launch(sqlite_desk, new_script(sqlite_desk), [busy])
    fleet.refresh()

    assert fleet.site_for(hash_token(idle.token)) == idle.site_id
    assert fleet.has_open_work(busy.site_id)
    assert not fleet.has_open_work(idle.site_id)
    assert fleet.refreshed_at is not None
    fleet.mark_idle(busy.site_id)
    assert not fleet.has_open_work(busy.site_id)


def test_unknown_tokens_are_remembered_until_the_next_reload(
    sqlite_desk: Desk,
) -> None:
    fleet = FleetCache(sqlite_desk.db)
    fleet.refresh()
    assert fleet.lookup(hash_token("nobody")) is None
    assert fleet.known_unknown(hash_token("nobody"))
    fleet.refresh(reload_tokens=True)
    assert not fleet.known_unknown(hash_token("nobody"))

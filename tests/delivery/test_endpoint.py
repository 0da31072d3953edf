"""The device endpoint over HTTP: idle polls from memory, results, and bad input."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import event, select

from agent_endpoint.app import (
    DeviceEndpoint,
    EndpointTiming,
    create_endpoint,
    endpoint_of,
)
from sdx_tui.backend import delivery
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import Outcome, OutcomeStatus, Script, Site
from sdx_tui.backend.sites import add_site, hash_token, rotate_token
from sdx_tui.config import Settings, load_settings
from tests.conftest import Desk
from tests.delivery.conftest import Device, add_devices, launch, new_script

RESULT = {"status": "completed", "output": "all done"}


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Harness:
    """A running endpoint, a client for it, and the desk behind it."""

    desk: Desk
    client: httpx.AsyncClient
    endpoint: DeviceEndpoint
    clock: FakeClock

    async def poll(self, token: str | None) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return await self.client.get("/agent/v1/poll", headers=headers)

    async def post(
        self, token: str, delivery_id: str, body: object = RESULT
    ) -> httpx.Response:
        return await self.client.post(
            f"/agent/v1/result/{delivery_id}",
            headers={"Authorization": f"Bearer {token}"},
            content=body if isinstance(body, bytes) else json.dumps(body).encode(),
        )

    def deliver(self, device: Device) -> delivery.Delivery:
        """Hand the device its next job directly, as a poll would."""
        with self.desk.db.session() as session:
            job = delivery.hand_out(
                session,
                site_id=device.site_id,
                token_hash=hash_token(device.token),
                now=self.clock(),
            )
        assert job is not None
        return job

    def status(self, outcome_id: int) -> OutcomeStatus:
        with self.desk.db.reading() as session:
            found = session.scalar(
                select(Outcome.status).where(Outcome.id == outcome_id)
            )
            assert found is not None
            return found


def endpoint_settings(**endpoint: object) -> Settings:
    return load_settings().with_section("endpoint", **endpoint)


async def start(desk: Desk, settings: Settings | None = None) -> AsyncIterator[Harness]:
    clock = FakeClock()
    app = create_endpoint(
        settings or endpoint_settings(),
        desk.db,
        clock=clock,
        # The upkeep never runs on its own here: tests call it when they mean to.
        timing=EndpointTiming(refresh_seconds=3600),
    )
    endpoint = endpoint_of(app)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    async with (
        endpoint.lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://desk.test") as client,
    ):
        yield Harness(desk, client, endpoint, clock)


@pytest.fixture
async def harness(sqlite_desk: Desk) -> AsyncIterator[Harness]:
    async for running in start(sqlite_desk):
        yield running


@pytest.fixture
async def strict(sqlite_desk: Desk) -> AsyncIterator[Harness]:
    """An endpoint that allows three requests a minute and 1 KB bodies."""
    settings = endpoint_settings(rate_per_minute=3, max_body_bytes=1024)
    async for running in start(sqlite_desk, settings):
        yield running


async def test_healthz_reports_the_fleet(harness: Harness) -> None:
    add_devices(harness.desk, 2)
    harness.endpoint.refresh()
    answer = await harness.client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "sites": 2, "sites_with_work": 0}


async def test_an_idle_poll_is_answered_without_touching_the_database(
    harness: Harness,
) -> None:
    devices = add_devices(harness.desk, 3)
    harness.endpoint.refresh()
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(harness.desk.db.engine, "before_cursor_execute", count)
    try:
        answers = [(await harness.poll(d.token)).status_code for d in devices * 5]
    finally:
        event.remove(harness.desk.db.engine, "before_cursor_execute", count)

    assert answers == [204] * 15
    assert statements == []


async def test_poll_times_are_written_in_batches(harness: Harness) -> None:
    one, two = add_devices(harness.desk, 2)
    harness.endpoint.refresh()
    await harness.poll(one.token)
    harness.clock.advance(seconds=30)
    await harness.poll(one.token)

    assert harness.endpoint.flush_last_seen() == 1
    assert harness.endpoint.flush_last_seen() == 0
    with harness.desk.db.reading() as session:
        seen = {s.id: s.last_seen_at for s in session.scalars(select(Site))}
    assert seen == {one.site_id: harness.clock.now, two.site_id: None}


async def test_a_new_site_and_a_rotated_token_work_at_once(harness: Harness) -> None:
    harness.endpoint.refresh()
    site, token = add_site(harness.desk.db, harness.desk.admin, "late-comer")
    assert (await harness.poll(token)).status_code == 204

    rotated = rotate_token(harness.desk.db, harness.desk.admin, site.name)
    assert (await harness.poll(rotated)).status_code == 204


async def test_a_rotated_token_gets_401_instead_of_work(harness: Harness) -> None:
    (device,) = add_devices(harness.desk, 1)
    launch(harness.desk, new_script(harness.desk), [device])
    harness.endpoint.refresh()
    rotate_token(harness.desk.db, harness.desk.admin, device.name)

    assert (await harness.poll(device.token)).status_code == 401
    assert (await harness.poll(device.token)).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token"],
)
async def test_missing_or_unknown_tokens_get_401(
    harness: Harness, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = await harness.client.get("/agent/v1/poll", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def bad_input_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "agent_endpoint.app"
    ]


async def test_each_kind_of_bad_input_is_answered_and_logged_once_without_the_token(
    strict: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    owner, other = add_devices(strict.desk, 2)
    launch(strict.desk, new_script(strict.desk), [owner, other])
    strict.endpoint.refresh()
    mine, theirs = strict.deliver(owner), strict.deliver(other)
    caplog.set_level(logging.INFO, logger="agent_endpoint")

    answers = [
        (await strict.poll("guessed-token")).status_code,
        (await strict.poll("guessed-token")).status_code,
        (await strict.post(owner.token, theirs.delivery_id)).status_code,
        (await strict.post(owner.token, "f" * 32)).status_code,
        (await strict.post(owner.token, mine.delivery_id, b"x" * 2048)).status_code,
    ]
    strict.clock.advance(minutes=1)
    answers += [
        (await strict.post(owner.token, mine.delivery_id, b"{not json")).status_code,
        (
            await strict.post(owner.token, mine.delivery_id, {"status": "fine"})
        ).status_code,
        (await strict.post(owner.token, "../../etc")).status_code,
    ]

    assert answers == [401, 401, 404, 404, 413, 400, 400, 404]
    lines = bad_input_log(caplog)
    assert len(lines) == 4, lines
    for line, kind in zip(
        lines,
        ["unknown token", "no such delivery", "over 1024 bytes", "not JSON"],
        strict=True,
    ):
        assert kind in line
    assert not any(owner.token in line or "guessed-token" in line for line in lines)

    strict.clock.advance(minutes=1)
    accepted = await strict.post(owner.token, mine.delivery_id)
    assert accepted.status_code == 200 and accepted.json()["recorded"] is True
    assert strict.status(mine.outcome_id) is OutcomeStatus.COMPLETED
    assert strict.status(theirs.outcome_id) is OutcomeStatus.DELIVERED


async def test_another_sites_delivery_looks_exactly_like_a_missing_one(
    harness: Harness,
) -> None:
    owner, other = add_devices(harness.desk, 2)
    launch(harness.desk, new_script(harness.desk), [owner])
    harness.endpoint.refresh()
    job = harness.deliver(owner)

    theirs = await harness.post(other.token, job.delivery_id)
    nobodys = await harness.post(other.token, "0" * 32)

    assert (theirs.status_code, theirs.text) == (nobodys.status_code, nobodys.text)
    assert harness.status(job.outcome_id) is OutcomeStatus.DELIVERED


async def test_a_chunked_body_over_the_limit_is_refused(strict: Harness) -> None:
    (device,) = add_devices(strict.desk, 1)
    launch(strict.desk, new_script(strict.desk), [device])
    job = strict.deliver(device)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 512

    answer = await strict.client.post(
        f"/agent/v1/result/{job.delivery_id}",
        headers={"Authorization": f"Bearer {device.token}"},
        content=chunks(),
    )
    assert answer.status_code == 413
    assert (await strict.post(device.token, job.delivery_id)).status_code == 200


async def test_a_poll_flood_gets_429_and_the_result_still_lands(
    strict: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    (device,) = add_devices(strict.desk, 1)
    launch(strict.desk, new_script(strict.desk), [device])
    job = strict.deliver(device)
    strict.endpoint.refresh()
    strict.endpoint.fleet.mark_idle(device.site_id)
    caplog.set_level(logging.INFO, logger="agent_endpoint")

    answers = [await strict.poll(device.token) for _ in range(10)]

    assert [a.status_code for a in answers] == [204] * 3 + [429] * 7
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert len(bad_input_log(caplog)) == 1
    assert (await strict.post(device.token, job.delivery_id)).status_code == 200
    assert strict.status(job.outcome_id) is OutcomeStatus.COMPLETED

    strict.clock.advance(seconds=20)
    assert (await strict.poll(device.token)).status_code == 204


async def test_a_repeated_result_is_acknowledged_and_changes_nothing(
    harness: Harness,
) -> None:
    (device,) = add_devices(harness.desk, 1)
    launch(harness.desk, new_script(harness.desk), [device])
    job = harness.deliver(device)

    first = await harness.post(device.token, job.delivery_id)
    again = await harness.post(
        device.token, job.delivery_id, {"status": "failed", "output": ""}
    )

    assert first.json() == {
        "delivery": job.delivery_id,
        "status": "completed",
        "recorded": True,
        "duplicate": False,
        "truncated": False,
    }
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert harness.status(job.outcome_id) is OutcomeStatus.COMPLETED


async def test_the_sweep_uses_the_endpoint_clock(harness: Harness) -> None:
    (device,) = add_devices(harness.desk, 1)
    launch(
        harness.desk, new_script(harness.desk), [device], deadline=timedelta(minutes=1)
    )
    job = harness.deliver(device)

    assert harness.endpoint.sweep().changed == 0
    harness.clock.advance(minutes=2)
    assert harness.endpoint.sweep().timed_out == [job.outcome_id]


async def test_a_poll_with_work_gets_the_wrapper_and_the_result_lands(
    harness: Harness,
) -> None:
    (device,) = add_devices(harness.desk, 1)
    script_id = new_script(harness.desk, ":put hello")
    launch(harness.desk, script_id, [device])
    harness.endpoint.refresh()

    first = await harness.poll(device.token)
    again = await harness.poll(device.token)

    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    delivery_id = first.headers["X-SDX-Delivery"]
    assert again.headers["X-SDX-Delivery"] == delivery_id
    wrapper = first.text
    assert f"/agent/v1/result/{delivery_id}" in wrapper
    assert f"Bearer {device.token}" in wrapper
    assert ":put hello" in wrapper and ":onerror" in wrapper

    posted = await harness.post(
        device.token, delivery_id, {"status": "completed", "output": "hello\n"}
    )
    assert posted.json()["recorded"] is True
    assert (await harness.poll(device.token)).status_code == 204
    with harness.desk.db.reading() as session:
        stored = session.scalars(select(Outcome)).one()
    assert (stored.status, stored.output, stored.attempts) == (
        OutcomeStatus.COMPLETED,
        "hello\n",
        2,
    )


async def test_an_old_routeros_gets_the_version_6_wrapper(harness: Harness) -> None:
    site, token = add_site(
        harness.desk.db, harness.desk.admin, "old-one", routeros_version="6.49.10"
    )
    launch(harness.desk, new_script(harness.desk), [Device(site.id, site.name, token)])
    harness.endpoint.refresh()
    answer = await harness.poll(token)
    assert answer.status_code == 200
    assert "on-error=" in answer.text and ":onerror" not in answer.text


@pytest.mark.parametrize("problem", ["backup", "size"])
async def test_a_job_that_cannot_be_delivered_fails_at_once(
    harness: Harness, problem: str
) -> None:
    (device,) = add_devices(harness.desk, 1)
    content = ":put big\n" * 8000 if problem == "size" else ":put hello"
    script_id = new_script(harness.desk, content)
    if problem == "backup":
        with harness.desk.db.session() as session:
            session.get_one(Script, script_id).make_backup = True
    launch(harness.desk, script_id, [device])
    harness.endpoint.refresh()

    answer = await harness.poll(device.token)

    assert answer.status_code == 204
    with harness.desk.db.reading() as session:
        stored = session.scalars(select(Outcome)).one()
    assert stored.status is OutcomeStatus.FAILED
    expected = "SFTP" if problem == "backup" else "too large"
    assert expected in stored.error


async def test_a_burst_of_polls_and_results_is_served_correctly(
    harness: Harness,
) -> None:
    devices = add_devices(harness.desk, 40)
    launch(harness.desk, new_script(harness.desk), devices)
    harness.endpoint.refresh()

    polls = await asyncio.gather(*(harness.poll(d.token) for d in devices))
    delivery_ids = [answer.headers["X-SDX-Delivery"] for answer in polls]
    posts = await asyncio.gather(
        *(
            harness.post(d.token, delivery_id)
            for d, delivery_id in zip(devices, delivery_ids, strict=True)
        )
    )

    assert {answer.status_code for answer in polls} == {200}
    assert len(set(delivery_ids)) == 40
    assert all(answer.json()["recorded"] for answer in posts)
    with harness.desk.db.reading() as session:
        statuses = set(session.scalars(select(Outcome.status)))
    assert statuses == {OutcomeStatus.COMPLETED}


async def test_healthz_is_degraded_until_the_database_answered(
    sqlite_desk: Desk,
) -> None:
    app = create_endpoint(endpoint_settings(), sqlite_desk.db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        before = await client.get("/healthz")
        endpoint_of(app).refresh()
        after = await client.get("/healthz")
    assert (before.status_code, before.json()["status"]) == (503, "degraded")
    assert (after.status_code, after.json()["status"]) == (200, "ok")


async def test_a_job_with_a_backup_carries_the_prelude_and_reports_it(
    sqlite_desk: Desk,
) -> None:
    settings = endpoint_settings().with_section(
        "backup", sftp_host="backup.example.net", sftp_user="sdx", sftp_password="pw"
    )
    async for harness in start(sqlite_desk, settings):
        (device,) = add_devices(harness.desk, 1)
        script_id = new_script(harness.desk, ":put hello")
        with harness.desk.db.session() as session:
            session.get_one(Script, script_id).make_backup = True
        launch(harness.desk, script_id, [device])
        harness.endpoint.refresh()

        answer = await harness.poll(device.token)
        delivery_id = answer.headers["X-SDX-Delivery"]
        output = "sdx-backup: uploaded sdx-x.backup and sdx-x.rsc\nhello\n"
        posted = await harness.post(
            device.token, delivery_id, {"status": "completed", "output": output}
        )

    assert "/system backup save" in answer.text and "backup.example.net" in answer.text
    assert answer.text.index("/system backup save") < answer.text.index(":put hello")
    assert posted.json()["recorded"] is True
    with sqlite_desk.db.reading() as session:
        stored = session.scalars(select(Outcome)).one()
    assert stored.backup_ok is True

"""The delivery service: hand-out, results, deadlines and settling runs and scripts."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from sdx_tui.backend import delivery
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.errors import InvalidInput, NotFound
from sdx_tui.backend.models import (
    LogEntry,
    Outcome,
    OutcomeStatus,
    Run,
    RunKind,
    RunStatus,
    Script,
    ScriptStatus,
    Site,
)
from sdx_tui.backend.scripts import ScriptChanges, edit_script
from sdx_tui.backend.sites import hash_token
from tests.conftest import Desk
from tests.delivery.conftest import Device, add_devices, launch, new_script

COMPLETED = delivery.DeviceResult(OutcomeStatus.COMPLETED, output="done")
FAILED = delivery.DeviceResult(
    OutcomeStatus.FAILED, output="boom\nfailure: no such item"
)


def hand_out(desk: Desk, device: Device, **kwargs: object) -> delivery.Delivery | None:
    now = kwargs.pop("now", utcnow())
    with desk.db.session() as session:
        return delivery.hand_out(
            session,
            site_id=device.site_id,
            token_hash=hash_token(device.token),
            now=now,  # type: ignore[arg-type]
        )


def record(
    desk: Desk, device: Device, delivery_id: str, result: delivery.DeviceResult
) -> delivery.ResultReceipt:
    with desk.db.session() as session:
        return delivery.record_result(
            session,
            site_id=device.site_id,
            delivery_id=delivery_id,
            result=result,
            now=utcnow(),
        )


def outcome(desk: Desk, outcome_id: int) -> Outcome:
    with desk.db.reading() as session:
        found = session.get(Outcome, outcome_id)
        assert found is not None
        return found


def events(desk: Desk, outcome_id: int) -> list[str]:
    with desk.db.reading() as session:
        return list(
            session.scalars(
                select(LogEntry.event)
                .where(LogEntry.outcome_id == outcome_id)
                .order_by(LogEntry.id)
            )
        )


def script_status(desk: Desk, script_id: int) -> ScriptStatus:
    with desk.db.reading() as session:
        status = session.scalar(select(Script.status).where(Script.id == script_id))
        assert status is not None
        return status


def run_status(desk: Desk, run_id: int) -> RunStatus:
    with desk.db.reading() as session:
        status = session.scalar(select(Run.status).where(Run.id == run_id))
        assert status is not None
        return status


def test_a_pending_outcome_is_handed_out_and_then_again_with_the_same_id(
    desk: Desk,
) -> None:
    (device,) = add_devices(desk, 1)
    script_id = new_script(desk, ":put hello")
    launch(desk, script_id, [device])

    first = hand_out(desk, device)
    again = hand_out(desk, device)

    assert first is not None and again is not None
    assert (first.body, first.attempt, first.wrapper_major) == (":put hello", 1, 7)
    assert again.delivery_id == first.delivery_id
    assert again.attempt == 2
    stored = outcome(desk, first.outcome_id)
    assert stored.status is OutcomeStatus.DELIVERED
    assert stored.attempts == 2
    assert events(desk, first.outcome_id) == [
        "created",
        "polled",
        "delivered",
        "polled",
        "delivered",
    ]


def test_nothing_is_handed_out_once_answered_or_past_the_deadline(desk: Desk) -> None:
    one, two = add_devices(desk, 2)
    script_id = new_script(desk)
    launch(desk, script_id, [one, two], deadline=timedelta(minutes=5))

    job = hand_out(desk, one)
    assert job is not None
    record(desk, one, job.delivery_id, COMPLETED)

    assert hand_out(desk, one) is None
    assert hand_out(desk, two, now=utcnow() + timedelta(minutes=6)) is None


def test_the_oldest_open_outcome_comes_first(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    first_run = launch(desk, new_script(desk, ":put first"), [device])
    launch(desk, new_script(desk, ":put second"), [device], kind=RunKind.TEST)

    job = hand_out(desk, device)
    assert job is not None and job.run_id == first_run
    record(desk, device, job.delivery_id, COMPLETED)
    following = hand_out(desk, device)
    assert following is not None and following.body == ":put second"


def test_a_rotated_token_gets_no_work(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device])
    stale = Device(device.site_id, device.name, "not-the-token")
    with pytest.raises(delivery.TokenRejected):
        hand_out(desk, stale)


def test_a_run_delivers_the_revision_it_was_made_from(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    script_id = new_script(desk, ":put original")
    launch(desk, script_id, [device], kind=RunKind.TEST)
    edit_script(desk.db, desk.operator, script_id, ScriptChanges(content=":put new"))

    job = hand_out(desk, device)
    assert job is not None and job.body == ":put original"


def test_a_result_completes_the_outcome_the_run_and_the_script(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    script_id = new_script(desk)
    run_id = launch(desk, script_id, [device])
    job = hand_out(desk, device)
    assert job is not None

    receipt = record(
        desk,
        device,
        job.delivery_id,
        delivery.DeviceResult(OutcomeStatus.COMPLETED, output="done", backup_ok=True),
    )

    assert receipt.applied and receipt.status is OutcomeStatus.COMPLETED
    stored = outcome(desk, job.outcome_id)
    assert (stored.status, stored.output, stored.backup_ok) == (
        OutcomeStatus.COMPLETED,
        "done",
        True,
    )
    assert stored.finished_at is not None
    assert events(desk, job.outcome_id)[-3:] == [
        "result received",
        "output",
        "backup uploaded",
    ]
    assert run_status(desk, run_id) is RunStatus.COMPLETED
    assert script_status(desk, script_id) is ScriptStatus.COMPLETED


def test_a_failure_fails_the_script_and_logs_the_error(desk: Desk) -> None:
    one, two = add_devices(desk, 2)
    script_id = new_script(desk)
    run_id = launch(desk, script_id, [one, two])
    first, second = hand_out(desk, one), hand_out(desk, two)
    assert first is not None and second is not None

    record(desk, one, first.delivery_id, FAILED)
    assert run_status(desk, run_id) is RunStatus.RUNNING
    assert script_status(desk, script_id) is ScriptStatus.LAUNCHED
    record(desk, two, second.delivery_id, COMPLETED)

    assert run_status(desk, run_id) is RunStatus.FAILED
    assert script_status(desk, script_id) is ScriptStatus.FAILED
    with desk.db.reading() as session:
        error = session.scalar(
            select(LogEntry.detail).where(
                LogEntry.outcome_id == first.outcome_id, LogEntry.event == "error"
            )
        )
    assert error == "failure: no such item"


def test_a_recurring_script_goes_back_to_scheduled(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    script_id = new_script(desk, recurrence="0 3 * * *")
    launch(desk, script_id, [device])
    job = hand_out(desk, device)
    assert job is not None
    record(desk, device, job.delivery_id, FAILED)
    assert script_status(desk, script_id) is ScriptStatus.SCHEDULED


def test_a_test_run_leaves_the_script_alone(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    script_id = new_script(desk)
    run_id = launch(desk, script_id, [device], kind=RunKind.TEST)
    job = hand_out(desk, device)
    assert job is not None
    record(desk, device, job.delivery_id, COMPLETED)
    assert run_status(desk, run_id) is RunStatus.COMPLETED
    assert script_status(desk, script_id) is ScriptStatus.UNAUTHORIZED


def test_results_are_idempotent_by_delivery_id(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device])
    job = hand_out(desk, device)
    assert job is not None
    record(desk, device, job.delivery_id, COMPLETED)
    logged = events(desk, job.outcome_id)

    repeat = record(desk, device, job.delivery_id, FAILED)

    assert repeat.duplicate and not repeat.applied
    assert repeat.status is OutcomeStatus.COMPLETED
    assert outcome(desk, job.outcome_id).status is OutcomeStatus.COMPLETED
    assert events(desk, job.outcome_id) == logged


def test_a_site_cannot_answer_another_sites_delivery(desk: Desk) -> None:
    owner, other = add_devices(desk, 2)
    launch(desk, new_script(desk), [owner])
    job = hand_out(desk, owner)
    assert job is not None

    with pytest.raises(NotFound) as theirs:
        record(desk, other, job.delivery_id, COMPLETED)
    with pytest.raises(NotFound) as nobodys:
        record(desk, other, "0" * 32, COMPLETED)

    assert str(theirs.value) == str(nobodys.value)
    assert outcome(desk, job.outcome_id).status is OutcomeStatus.DELIVERED


def test_long_output_is_stored_truncated_with_a_marker(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device])
    job = hand_out(desk, device)
    assert job is not None
    text = "é" * delivery.OUTPUT_LIMIT_BYTES

    receipt = record(
        desk,
        device,
        job.delivery_id,
        delivery.DeviceResult(OutcomeStatus.COMPLETED, output=text),
    )

    stored = outcome(desk, job.outcome_id).output
    assert receipt.truncated
    assert len(stored.encode()) <= delivery.OUTPUT_LIMIT_BYTES
    assert stored.startswith("é" * 1000)
    assert stored.endswith("kept]")
    assert f"{len(text.encode()):,} bytes received" in stored


def test_truncate_text_keeps_short_text_and_cuts_on_a_character() -> None:
    assert delivery.truncate_text("short", 100) == ("short", False)
    cut, truncated = delivery.truncate_text("€" * 200, 120)
    assert truncated and len(cut.encode()) <= 120
    assert cut.startswith("€") and "\ufffd" not in cut


def test_the_sweep_times_out_and_expires_and_settles(desk: Desk) -> None:
    polled, silent = add_devices(desk, 2)
    script_id = new_script(desk)
    run_id = launch(desk, script_id, [polled, silent], deadline=timedelta(minutes=5))
    job = hand_out(desk, polled)
    assert job is not None

    with desk.db.session() as session:
        early = delivery.sweep_deadlines(session, now=utcnow())
    with desk.db.session() as session:
        report = delivery.sweep_deadlines(session, now=utcnow() + timedelta(minutes=6))

    assert early.changed == 0
    assert report.timed_out == [job.outcome_id]
    assert len(report.expired) == 1
    assert report.settled_runs == {run_id: RunStatus.FAILED}
    assert events(desk, job.outcome_id)[-1] == "timed out"
    assert events(desk, report.expired[0])[-1] == "expired"
    assert script_status(desk, script_id) is ScriptStatus.FAILED


def test_a_late_result_is_logged_once_and_not_applied(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device], deadline=timedelta(minutes=5))
    job = hand_out(desk, device)
    assert job is not None
    with desk.db.session() as session:
        delivery.sweep_deadlines(session, now=utcnow() + timedelta(minutes=6))

    late = record(desk, device, job.delivery_id, COMPLETED)
    record(desk, device, job.delivery_id, COMPLETED)

    assert not late.applied and late.status is OutcomeStatus.TIMED_OUT
    assert outcome(desk, job.outcome_id).status is OutcomeStatus.TIMED_OUT
    assert events(desk, job.outcome_id).count("result received") == 1


def test_last_seen_is_written_in_one_batch_and_never_goes_back(desk: Desk) -> None:
    one, two = add_devices(desk, 2)
    now = utcnow()
    with desk.db.session() as session:
        delivery.record_last_seen(session, {one.site_id: now, two.site_id: now})
    with desk.db.session() as session:
        delivery.record_last_seen(session, {one.site_id: now - timedelta(minutes=1)})
    with desk.db.reading() as session:
        seen = {site.id: site.last_seen_at for site in session.scalars(select(Site))}
    assert seen[one.site_id] == now and seen[two.site_id] == now


def test_open_work_and_tokens_are_read_in_bulk(desk: Desk) -> None:
    busy, idle = add_devices(desk, 2)
    launch(desk, new_script(desk), [busy])
    with desk.db.reading() as session:
        assert delivery.sites_with_open_work(session) == {busy.site_id}
        tokens = delivery.site_tokens(session)
        assert delivery.site_for_token_hash(session, hash_token(idle.token)) == (
            idle.site_id
        )
    assert tokens[hash_token(busy.token)] == busy.site_id


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"status": "done", "output": ""}', "status"),
        (b'{"status": ["completed"], "output": ""}', "status"),
        (b'{"status": "failed", "output": 3}', "output"),
        (b'{"status": "failed"}', "output"),
    ],
)
def test_malformed_results_are_refused_with_a_reason(body: bytes, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        delivery.parse_result(body)


def test_a_result_body_gives_the_error_and_the_backup() -> None:
    body = {
        "status": "failed",
        "output": "sdx-backup: uploaded to sftp\nadded 1\nerror: no such item",
    }
    parsed = delivery.parse_result(json.dumps(body).encode())
    assert parsed == delivery.DeviceResult(
        OutcomeStatus.FAILED,
        output=body["output"],
        error="no such item",
        backup_ok=True,
    )
    failed_backup = delivery.parse_result(
        b'{"status": "failed", "output": "error: sdx-backup: failed: no file"}'
    )
    assert failed_backup.backup_ok is False
    assert failed_backup.error == "sdx-backup: failed: no file"
    assert delivery.parse_result(b'{"status":"completed","output":""}').error == ""


@pytest.mark.parametrize(
    ("version", "major"), [("7.16", 7), ("7.13", 7), ("7.12.1", 6), ("6.49.10", 6)]
)
def test_the_wrapper_flavour_follows_the_routeros_version(
    version: str, major: int
) -> None:
    job = delivery.Delivery(1, "a" * 32, 1, 1, 1, "x", version, "", False, 1)
    assert job.wrapper_major == major


def test_concurrent_polls_of_one_site_share_one_delivery(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device])
    launch(desk, new_script(desk), [device], kind=RunKind.TEST)
    jobs: list[delivery.Delivery | None] = []
    barrier = threading.Barrier(4)

    def poll() -> None:
        barrier.wait()
        jobs.append(hand_out(desk, device))

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({job.delivery_id for job in jobs if job}) == 1
    assert sorted(job.attempt for job in jobs if job) == [1, 2, 3, 4]


def test_the_last_two_results_arriving_together_settle_the_run(desk: Desk) -> None:
    devices = add_devices(desk, 6)
    script_id = new_script(desk)
    run_id = launch(desk, script_id, devices)
    jobs = [hand_out(desk, device) for device in devices]
    barrier = threading.Barrier(len(devices))

    def answer(device: Device, job: delivery.Delivery | None) -> None:
        assert job is not None
        barrier.wait()
        record(desk, device, job.delivery_id, COMPLETED)

    threads = [
        threading.Thread(target=answer, args=pair)
        for pair in zip(devices, jobs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert run_status(desk, run_id) is RunStatus.COMPLETED
    assert script_status(desk, script_id) is ScriptStatus.COMPLETED


def test_many_polls_are_answered_in_order_in_one_go(desk: Desk) -> None:
    busy, idle, other = add_devices(desk, 3)
    launch(desk, new_script(desk), [busy, other])
    polls = [
        delivery.PollRequest(busy.site_id, hash_token(busy.token)),
        delivery.PollRequest(idle.site_id, hash_token(idle.token)),
        delivery.PollRequest(other.site_id, hash_token("stale")),
        delivery.PollRequest(busy.site_id, hash_token(busy.token)),
    ]
    with desk.db.session() as session:
        first, nothing, rejected, twice = delivery.hand_out_many(
            session, polls, now=utcnow()
        )

    assert isinstance(first, delivery.Delivery) and nothing is None
    assert isinstance(rejected, delivery.TokenRejected)
    assert twice == first and first.attempt == 1
    assert outcome(desk, first.outcome_id).attempts == 1


def test_many_late_results_are_answered_in_order_in_one_go(desk: Desk) -> None:
    one, two, three = add_devices(desk, 3)
    run_id = launch(
        desk, new_script(desk), [one, two, three], deadline=timedelta(minutes=5)
    )
    jobs = [hand_out(desk, device) for device in (one, two, three)]
    assert all(jobs)
    first, second, third = (job.delivery_id for job in jobs if job)
    with desk.db.session() as session:
        delivery.sweep_deadlines(session, now=utcnow() + timedelta(minutes=6))
    results = [
        delivery.ResultRequest(one.site_id, hash_token(one.token), first, COMPLETED),
        delivery.ResultRequest(two.site_id, hash_token(two.token), first, COMPLETED),
        delivery.ResultRequest(one.site_id, hash_token(one.token), first, FAILED),
        delivery.ResultRequest(three.site_id, hash_token("stale"), third, COMPLETED),
        delivery.ResultRequest(two.site_id, hash_token(two.token), second, FAILED),
    ]
    with desk.db.session() as session:
        answers = delivery.record_results(session, results, now=utcnow())

    late, foreign, late_again, rejected, also_late = answers
    assert isinstance(late, delivery.ResultReceipt) and not late.applied
    assert late.status is OutcomeStatus.TIMED_OUT
    assert isinstance(foreign, NotFound)
    assert isinstance(late_again, delivery.ResultReceipt) and late_again.duplicate
    assert isinstance(rejected, delivery.TokenRejected)
    assert isinstance(also_late, delivery.ResultReceipt) and not also_late.applied
    assert run_status(desk, run_id) is RunStatus.FAILED


def test_a_batch_applies_the_first_of_two_results_for_one_delivery(desk: Desk) -> None:
    (device,) = add_devices(desk, 1)
    launch(desk, new_script(desk), [device])
    job = hand_out(desk, device)
    assert job is not None
    token = hash_token(device.token)
    results = [
        delivery.ResultRequest(device.site_id, token, job.delivery_id, FAILED),
        delivery.ResultRequest(device.site_id, token, job.delivery_id, COMPLETED),
    ]
    with desk.db.session() as session:
        applied, repeated = delivery.record_results(session, results, now=utcnow())

    assert isinstance(applied, delivery.ResultReceipt) and applied.applied
    assert isinstance(repeated, delivery.ResultReceipt) and repeated.duplicate
    assert repeated.status is OutcomeStatus.FAILED
    assert outcome(desk, job.outcome_id).status is OutcomeStatus.FAILED
    assert events(desk, job.outcome_id).count("result received") == 1

"""Notifications against real peers on 127.0.0.1: an SMTP server and a server
speaking the WhatsApp Cloud API."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from sdx_tui.backend import approvals
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import AuditEvent, OutboxMessage, OutboxStatus, Script
from sdx_tui.backend.notify.errors import DeliveryError
from sdx_tui.backend.notify.service import (
    OutboxSender,
    RetryPolicy,
    failed_messages,
    retry_message,
)
from sdx_tui.backend.notify.smtp import send_email
from sdx_tui.backend.notify.whatsapp import send_whatsapp
from sdx_tui.cli import main
from sdx_tui.config import Settings, save_settings
from tests.approvals.conftest import NOW, Clock, make_script, page_client
from tests.approvals.helpers import token_in
from tests.conftest import Desk
from tests.peers.smtp import SmtpPeer, smtp_peer
from tests.peers.whatsapp import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    WhatsAppPeer,
    whatsapp_peer,
)


def peer_settings(
    settings: Settings, smtp: SmtpPeer, whatsapp: WhatsAppPeer
) -> Settings:
    """Settings pointing at the two peers."""
    return settings.with_section(
        "smtp",
        host="127.0.0.1",
        port=smtp.port,
        security="none",
        username=smtp.username,
        password=smtp.password,
    ).with_section(
        "whatsapp",
        base_url=whatsapp.base_url,
        phone_number_id=PHONE_NUMBER_ID,
        access_token=ACCESS_TOKEN,
    )


def _messages(desk: Desk) -> list[OutboxMessage]:
    with desk.db.reading() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _mail_token(peer: SmtpPeer, index: int = 0) -> str:
    body = peer.messages[index].get_body(preferencelist=("plain",))
    assert body is not None
    return token_in(body.get_content())


async def test_the_emailed_link_works_when_followed(
    sqlite_desk: Desk,
    sqlite_script: Script,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = sqlite_desk
    caplog.set_level(logging.DEBUG)
    with smtp_peer(username="desk", password="s3cret") as smtp, whatsapp_peer() as wa:
        configured = peer_settings(settings, smtp, wa)
        approvals.request_authorization(
            desk.db, desk.operator, sqlite_script.id, settings=configured, now=NOW
        )
        sender = OutboxSender(configured, desk.db)
        assert sender.send_due(NOW) == 2
        received = smtp.messages
        assert smtp.logins == ["desk"]
        texts = wa.texts()
        payloads = list(wa.received)

    assert len(received) == 1
    mail = received[0]
    assert mail["To"] == "arthur@example.test"
    plain = mail.get_body(preferencelist=("plain",))
    rich = mail.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    token = token_in(plain.get_content())
    assert token == token_in(rich.get_content())
    # WhatsApp carries the same approver's link.
    assert [token_in(text) for text in texts] == [token]
    assert payloads[0]["to"] == "4915112345678"

    # Sent messages keep no token; no log line ever had one.
    for message in _messages(desk):
        assert message.status == OutboxStatus.SENT
        assert token not in message.body + message.html + message.subject
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("sdx_tui", "agent_endpoint"))
    )
    assert "outbox message" in ours
    assert token not in ours
    assert "s3cret" not in ours

    async with page_client(configured, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
        assert page.status_code == 200
        assert "Switch DNS to Quad9" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        done = await browser.post(
            f"/approve/{token}",
            data={"csrf": csrf.group(1), "request": "1", "decision": "approve"},
        )
    assert done.status_code == 200, done.text
    assert "You approved script" in done.text
    with desk.db.reading() as session:
        stored = session.get(Script, sqlite_script.id)
        actions = list(session.scalars(select(AuditEvent.action)))
    assert stored is not None and stored.status == "scheduled"
    assert actions.count("approval.notified") == 2
    assert {"approval.viewed", "approval.approved"} <= set(actions)


def test_peers_down_then_up_deliver_everything_once(
    desk: Desk, script: Script, settings: Settings
) -> None:
    with (
        smtp_peer(up=False) as smtp,
        whatsapp_peer(up=False) as wa,
    ):
        configured = peer_settings(settings, smtp, wa)
        approvals.request_authorization(
            desk.db, desk.operator, script.id, settings=configured, now=NOW
        )
        sender = OutboxSender(configured, desk.db)
        assert sender.send_due(NOW) == 0

        waiting = _messages(desk)
        assert [m.status for m in waiting] == [OutboxStatus.PENDING] * 2
        assert all(m.attempts == 1 and m.last_error for m in waiting)
        assert {m.id for m in failed_messages(desk.db)} == {m.id for m in waiting}
        # Not due again before the backoff ends.
        assert sender.send_due(NOW + timedelta(seconds=10)) == 0

        smtp.up()
        wa.up()
        assert sender.send_due(NOW + timedelta(seconds=31)) == 2
        assert sender.send_due(NOW + timedelta(hours=2)) == 0
        assert len(smtp.messages) == 1
        assert len(wa.received) == 1

    assert {m.status for m in _messages(desk)} == {OutboxStatus.SENT}
    assert failed_messages(desk.db) == []


def test_two_senders_never_send_the_same_message(
    desk: Desk, settings: Settings
) -> None:
    with smtp_peer() as smtp, whatsapp_peer() as wa:
        configured = peer_settings(settings, smtp, wa)
        for number in range(6):
            script = make_script(desk, targets=(f"site-{number}",))
            approvals.request_authorization(
                desk.db, desk.operator, script.id, settings=configured, now=NOW
            )
        senders = [OutboxSender(configured, desk.db, batch=3) for _ in range(2)]
        start = threading.Barrier(2)

        def run(sender: OutboxSender) -> None:
            start.wait(timeout=30)
            sender.send_due(NOW)

        threads = [threading.Thread(target=run, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        mail_tokens = [_mail_token(smtp, n) for n in range(len(smtp.messages))]
        wa_tokens = [token_in(text) for text in wa.texts()]

    assert len(mail_tokens) == 6 and set(Counter(mail_tokens).values()) == {1}
    assert len(wa_tokens) == 6 and set(Counter(wa_tokens).values()) == {1}
    assert {m.status for m in _messages(desk)} == {OutboxStatus.SENT}


def test_a_message_fails_for_good_after_its_attempts_and_can_be_retried(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    desk = sqlite_desk
    with smtp_peer(up=False) as smtp, whatsapp_peer(up=False) as wa:
        configured = peer_settings(settings, smtp, wa)
        approvals.request_authorization(
            desk.db, desk.operator, sqlite_script.id, settings=configured, now=NOW
        )
        policy = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=10))
        sender = OutboxSender(configured, desk.db, policy=policy)
        moment = NOW
        for _ in range(3):
            sender.send_due(moment)
            moment += timedelta(minutes=5)

        failed = failed_messages(desk.db, include_retrying=False)
        assert len(failed) == 2
        assert {m.attempts for m in failed} == {3}
        assert all("failed" in m.last_error for m in failed)
        assert sender.send_due(moment) == 0

        smtp.up()
        wa.up()
        for message in failed:
            retry_message(desk.db, message.id, now=moment)
        assert sender.send_due(moment) == 2
    assert failed_messages(desk.db) == []


def test_the_backoff_doubles_up_to_a_ceiling() -> None:
    policy = RetryPolicy(
        first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=5)
    )
    delays = [policy.delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 300, 300]


def test_the_whatsapp_api_refuses_a_wrong_token_without_echoing_it(
    settings: Settings,
) -> None:
    with whatsapp_peer() as wa:
        wrong = settings.with_section(
            "whatsapp",
            base_url=wa.base_url,
            phone_number_id=PHONE_NUMBER_ID,
            access_token="not-the-token",
        )
        with pytest.raises(DeliveryError, match="401") as error:
            send_whatsapp(wrong.whatsapp, recipient="+49 151 1", text="hi")
        assert "not-the-token" not in str(error.value)
        assert wa.refused == [(401, "Invalid OAuth access token.")]
        assert wa.received == []


def test_an_smtp_login_refused_is_a_clear_error(settings: Settings) -> None:
    with smtp_peer(username="desk", password="right") as smtp:
        wrong = settings.with_section(
            "smtp",
            host="127.0.0.1",
            port=smtp.port,
            security="none",
            username="desk",
            password="wrong",
        )
        with pytest.raises(DeliveryError, match="refused the login") as error:
            send_email(wrong.smtp, recipient="a@example.test", subject="s", text="t")
        assert "wrong" not in str(error.value).replace("wrong.", "")
        assert smtp.messages == []


def test_notify_test_checks_both_channels(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SDX_CONFIG", str(settings.config_path))
    with smtp_peer() as smtp, whatsapp_peer() as wa:
        save_settings(
            peer_settings(settings, smtp, wa).with_section(
                "smtp", sender="noc@example.test"
            )
        )
        assert main(["notify", "test", "--email", "ops@example.test"]) == 0
        assert main(["notify", "test", "--whatsapp", "+4915112345678"]) == 0
        assert len(smtp.messages) == 1
        assert smtp.messages[0]["From"] == "noc@example.test"
        assert wa.received[0]["to"] == "4915112345678"
    assert main(["notify", "test", "--email", "ops@example.test"]) == 1
    output = capsys.readouterr()
    assert "test e-mail sent to ops@example.test" in output.out
    assert "failed" in output.err


async def test_the_service_sends_in_the_background(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    desk = sqlite_desk
    with smtp_peer() as smtp, whatsapp_peer() as wa:
        configured = peer_settings(settings, smtp, wa)
        sender = OutboxSender(configured, desk.db, interval=60)
        await sender.start()
        try:
            approvals.request_authorization(
                desk.db, desk.operator, sqlite_script.id, settings=configured
            )
            sender.wake()
            deadline = asyncio.get_running_loop().time() + 60
            while len(smtp.messages) + len(wa.received) < 2:
                assert asyncio.get_running_loop().time() < deadline, "nothing sent"
                await asyncio.sleep(0.05)
        finally:
            await sender.stop()
    assert {m.status for m in _messages(desk)} == {OutboxStatus.SENT}
    assert utcnow() > NOW

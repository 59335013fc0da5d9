"""External calls of a step (webhook, SMTP) are made with no row lock held, and their effects recorded exactly once:
the intent is committed before the call, the outcome after it; a call cut off by a crash is made again with the
same idempotency key (webhook) or Message-ID (email), and its step is logged and reported once.

The receivers are real (a loopback HTTP server, an aiosmtpd server) and hold each request until the test lets it
go, so the test can look at the database while the call is in flight. "A crash" is the worker's task cancelled
in the middle of the call: what was committed stays, the rest never happens."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from bss_runtime.clock import ManualClock
from bss_testkit.receivers import SmtpInbox, free_port
from dunning.adapters import repository as repo
from dunning.service_layer.settlement import payment_received

from .support import (
    START,
    TENANT,
    add_campaign,
    add_customer,
    campaign_body,
    execution_detail,
    outbox_events,
    overdue,
    payment,
    report_overdue,
)

SECRET = "a-webhook-secret-of-some-length"
LEASE = timedelta(minutes=5)  # Settings.action_lease_seconds' default


class HeldWebhooks:
    """A webhook receiver that records each POST at once and answers it (200) only once `release` is set."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                receiver.release.wait(timeout=30)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller is gone (the test's crash)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


class HeldInbox(SmtpInbox):
    """An SMTP inbox that keeps each message at once and says 250 only once `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.arrived.set()
        await asyncio.to_thread(self.release.wait, 30)
        return answer


@pytest.fixture
def webhooks() -> Iterator[HeldWebhooks]:
    receiver = HeldWebhooks()
    yield receiver
    receiver.close()


async def _arrival(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10), "the call did not arrive"


async def _intents(service: Any, execution_id: str) -> list[Any]:
    async with service.deps.database.transaction() as session:
        return await repo.call_intents(session, TENANT, execution_id)


async def _webhook_execution(offline_dunning: Any, url: str, smtp_port: int, clock: ManualClock) -> tuple[Any, str]:
    service = await offline_dunning(smtp_port=smtp_port, clock=clock)
    hook = {"type": "webhook", "config": {"url": url, "data": {"queue": "c1"}}}
    await add_campaign(service, campaign_body("Hook", hook, {"type": "custom", "delay_days": 1}, webhook_secret=SECRET))
    await add_customer(service, "cust-1")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", balance=2500))
    assert execution_id is not None
    return service, execution_id


async def test_no_row_lock_is_held_during_a_webhook_and_it_is_delivered_once_with_its_key(
    offline_dunning, smtp, webhooks
):
    clock = ManualClock(START)
    service, execution_id = await _webhook_execution(offline_dunning, webhooks.url, smtp.port, clock)
    worker = asyncio.create_task(service.scheduler.run_due_steps())
    await _arrival(webhooks.arrived)

    # The receiver holds the call. The execution's row is not locked: another transaction takes the lock at
    # once (NOWAIT would fail on a held lock), and the intent is committed, pending, with its key.
    async with service.deps.database.transaction() as session:
        locked = await session.scalar(
            text("SELECT id FROM dunning_executions WHERE id = :id FOR UPDATE NOWAIT"), {"id": execution_id}
        )
        assert locked == execution_id
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.calls, intent.action_type, intent.outcome) == ("pending", 1, "webhook", None)
    # ... and no other worker takes the step meanwhile: the execution is leased.
    execution, logs = await execution_detail(service, execution_id)
    assert (execution.next_action_at, logs) == (START + LEASE, [])
    assert await service.scheduler.run_due_steps() == 0

    webhooks.release.set()
    assert await asyncio.wait_for(worker, timeout=10) == 1

    [(headers, body)] = webhooks.requests
    assert headers["idempotency-key"] == headers["x-dunning-delivery-id"] == intent.idempotency_key
    assert json.loads(body)["delivery_id"] == intent.idempotency_key
    execution, [log] = await execution_detail(service, execution_id)
    assert (log.step_number, log.attempt, log.status, log.external_id) == (1, 1, "succeeded", intent.idempotency_key)
    assert (execution.current_step, execution.next_action_at) == (1, START + timedelta(days=1))
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.outcome, intent.calls) == ("done", "succeeded", 1)
    [step] = await outbox_events(service, "bss.dunning.execution.step-executed")
    assert (step["data"]["step_number"], step["data"]["status"]) == (1, "succeeded")


async def test_a_webhook_cut_off_by_a_crash_is_made_again_with_the_same_key_and_recorded_once(
    offline_dunning, smtp, webhooks
):
    clock = ManualClock(START)
    service, execution_id = await _webhook_execution(offline_dunning, webhooks.url, smtp.port, clock)
    worker = asyncio.create_task(service.scheduler.run_due_steps())
    await _arrival(webhooks.arrived)
    worker.cancel()  # the process dies while the receiver has the request
    with pytest.raises(asyncio.CancelledError):
        await worker
    webhooks.release.set()

    execution, logs = await execution_detail(service, execution_id)
    assert (execution.status, execution.current_step, execution.next_action_at, logs) == (
        "pending", 0, START + LEASE, [])  # fmt: skip
    assert [i.state for i in await _intents(service, execution_id)] == ["pending"]

    clock.advance(LEASE - timedelta(seconds=1))
    assert await service.scheduler.run_due_steps() == 0  # the lease keeps it off until it ends
    clock.advance(timedelta(seconds=1))
    assert await service.scheduler.run_due_steps() == 1

    first, again = webhooks.requests
    assert first[1] == again[1]  # the same body, byte for byte
    assert first[0]["idempotency-key"] == again[0]["idempotency-key"] == json.loads(first[1])["delivery_id"]
    assert first[0]["x-signature-sha256"] == again[0]["x-signature-sha256"]
    execution, [log] = await execution_detail(service, execution_id)
    assert (log.step_number, log.attempt, log.status, log.external_id) == (
        1, 1, "succeeded", first[0]["idempotency-key"])  # fmt: skip
    assert log.executed_at == START + LEASE  # the step ran (to its end) when the call was made again
    assert (execution.current_step, execution.next_action_at) == (1, START + LEASE + timedelta(days=1))
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.outcome, intent.calls) == ("done", "succeeded", 2)
    assert len(await outbox_events(service, "bss.dunning.execution.step-executed")) == 1
    clock.advance(timedelta(days=1))
    assert await service.scheduler.run_due_steps() == 1  # the next step follows as usual
    assert len(webhooks.requests) == 2


async def test_a_worker_process_killed_during_the_call_leaves_an_intent_the_next_worker_completes(
    offline_dunning, smtp, webhooks
):
    """The same as above with a real crash: a worker process SIGKILLed while the receiver holds its call."""
    clock = ManualClock(START)
    service, execution_id = await _webhook_execution(offline_dunning, webhooks.url, smtp.port, clock)
    env = os.environ | {
        "DATABASE_URL": service.runtime.settings.database_url, "SMTP_PORT": str(smtp.port),
        "STEP_CLOCK": START.isoformat(), "WEBHOOK_BACKOFF_SECONDS": "0.01", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("step_process.py"))], env=env)
    try:
        assert await asyncio.to_thread(webhooks.arrived.wait, 60), "the worker process did not call"
        worker.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(worker.wait, 20) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    webhooks.release.set()

    execution, logs = await execution_detail(service, execution_id)
    assert (execution.current_step, execution.next_action_at, logs) == (0, START + LEASE, [])
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.calls) == ("pending", 1)

    clock.advance(LEASE)
    assert await service.scheduler.run_due_steps() == 1
    first, again = webhooks.requests
    assert first[1] == again[1]
    assert first[0]["idempotency-key"] == again[0]["idempotency-key"] == intent.idempotency_key
    execution, [log] = await execution_detail(service, execution_id)
    assert (log.status, log.external_id, execution.current_step) == ("succeeded", intent.idempotency_key, 1)
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.calls) == ("done", 2)
    assert len(await outbox_events(service, "bss.dunning.execution.step-executed")) == 1


async def test_an_email_cut_off_by_a_crash_is_sent_again_with_the_same_message_id_and_noticed_once(offline_dunning):
    clock = ManualClock(START)
    inbox = HeldInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        service = await offline_dunning(smtp_port=port, clock=clock)
        await add_campaign(service, campaign_body("Mail", {"type": "email"}))
        await add_customer(service, "cust-1", email="ada@example.net")
        execution_id = await report_overdue(service, overdue("inv-1", "cust-1"))
        assert execution_id is not None

        worker = asyncio.create_task(service.scheduler.run_due_steps())
        await _arrival(inbox.arrived)
        async with service.deps.database.transaction() as session:  # no lock held while SMTP has the message
            await session.execute(
                text("SELECT id FROM dunning_executions WHERE id = :id FOR UPDATE NOWAIT"), {"id": execution_id}
            )
        worker.cancel()  # the process dies while the SMTP server has the message
        inbox.release.set()  # (else the client's goodbye would wait for the server's answer to the message)
        with pytest.raises(asyncio.CancelledError):
            await worker

        clock.advance(LEASE)
        assert await service.scheduler.run_due_steps() == 1
    finally:
        inbox.release.set()
        controller.stop()

    first, again = inbox.messages
    assert first["Message-ID"] == again["Message-ID"]
    assert (first["Date"], first["Subject"], first.get_body().get_content()) == (
        again["Date"], again["Subject"], again.get_body().get_content())  # fmt: skip
    _, [log] = await execution_detail(service, execution_id)
    assert (log.status, log.external_id) == ("succeeded", first["Message-ID"].strip())
    [notice] = await outbox_events(service, "bss.notifications.requested")
    assert notice["data"]["recipient"] == "ada@example.net"
    assert len(await outbox_events(service, "bss.dunning.execution.step-executed")) == 1


async def test_a_payment_during_the_call_is_applied_at_once_and_the_call_still_logged(offline_dunning, smtp, webhooks):
    clock = ManualClock(START)
    service, execution_id = await _webhook_execution(offline_dunning, webhooks.url, smtp.port, clock)
    worker = asyncio.create_task(service.scheduler.run_due_steps())
    await _arrival(webhooks.arrived)

    async def pay() -> None:
        async with service.deps.database.transaction() as session:
            await payment_received(session, service.deps, TENANT, payment("inv-1", "cust-1", 2500, 0))

    await asyncio.wait_for(pay(), timeout=5)  # did not wait for the webhook
    execution, _ = await execution_detail(service, execution_id)
    assert execution.status == "completed"

    webhooks.release.set()
    assert await asyncio.wait_for(worker, timeout=10) == 1
    execution, [log] = await execution_detail(service, execution_id)
    assert (log.step_number, log.status) == (1, "succeeded")  # the call happened: it is logged
    assert (execution.status, execution.current_step, execution.next_action_at) == ("completed", 0, None)
    assert await outbox_events(service, "bss.dunning.execution.step-executed") == []
    [intent] = await _intents(service, execution_id)
    assert (intent.state, intent.outcome) == ("done", "succeeded")
    clock.advance(timedelta(days=2))
    assert await service.scheduler.run_due_steps() == 0
    assert len(webhooks.requests) == 1

"""BI schedules: due once (with two workers racing, and after downtime), then delivered by email through a real
SMTP server and by a signed webhook to a real HTTP receiver; failed deliveries recorded and retried."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reporting.bi.adapters.delivery import SmtpMailer
from reporting.bi.entrypoints.worker import BiWorker
from reporting.entrypoints.app import build_runtime

from .bi_support import BiHarness, SmtpServer, WebhookReceiver
from .reporting_support import new_tenant
from .test_aging import AS_OF, seed_receivables

SECRET = "a-long-enough-webhook-secret"


@pytest.fixture
def smtp(bi: BiHarness) -> Iterator[SmtpServer]:
    """A real SMTP server; the service's mailer is pointed at it for the test."""
    server = SmtpServer().start()
    mailer = SmtpMailer(bi.settings.model_copy(update={"smtp_port": server.port}))
    original = bi.service.bi.mailer
    object.__setattr__(bi.service.bi, "mailer", mailer)
    yield server
    object.__setattr__(bi.service.bi, "mailer", original)
    server.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(SECRET)
    yield receiver
    receiver.close()


@pytest.fixture
async def second_worker(bi: BiHarness) -> AsyncIterator[BiWorker]:
    """Another instance of the service on the same database (not started: its worker is driven by the test)."""
    other = build_runtime(bi.settings, bi_clock=bi.clock)
    yield other.bi_worker
    await other.runtime.database.close()


async def schedule(bi: BiHarness, tenant: str, template_id: str, **fields: Any) -> dict[str, Any]:
    body = {"template_id": template_id, "name": "Monday aging", "cron": "0 6 * * 1", "timezone": "Europe/Berlin"}
    result: dict[str, Any] = await bi.req(
        "POST", "/report-schedules", tenant, "finance", status=201, json=body | fields
    )
    return result


async def executions_of(bi: BiHarness, tenant: str, schedule_id: str) -> list[dict[str, Any]]:
    return [e for e in await bi.req("GET", "/report-executions", tenant) if e["schedule_id"] == schedule_id]


async def test_a_due_schedule_runs_once_with_two_workers_racing_and_once_after_downtime(
    bi: BiHarness, second_worker: BiWorker
) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", output_formats=["json"])
    created = await schedule(bi, tenant, template["template_id"], cron="30 7 * * *")
    # Next 07:30 in Berlin, in UTC.
    berlin = bi.clock.now().astimezone(ZoneInfo("Europe/Berlin"))
    slot = berlin.replace(hour=7, minute=30, second=0, microsecond=0)
    slot = slot if slot > berlin else (slot + timedelta(days=1)).replace(hour=7, minute=30)
    next_run = datetime.fromisoformat(created["next_run_at"])
    assert next_run == slot.astimezone(UTC)

    bi.clock.set(next_run - timedelta(seconds=1))
    await bi.worker.start_due_schedules()
    assert await executions_of(bi, tenant, created["schedule_id"]) == []
    bi.clock.set(next_run)
    await asyncio.gather(*[w.start_due_schedules() for w in (bi.worker, second_worker) * 4])
    assert len(await executions_of(bi, tenant, created["schedule_id"])) == 1

    # The service was down for three days and a half: one run when it comes back, then the next slot.
    bi.clock.set(next_run + timedelta(days=3, hours=12))
    await asyncio.gather(bi.worker.start_due_schedules(), second_worker.start_due_schedules())
    assert len(await executions_of(bi, tenant, created["schedule_id"])) == 2
    now = await bi.req("GET", f"/report-schedules/{created['schedule_id']}", tenant, "finance")
    assert datetime.fromisoformat(now["next_run_at"]) == next_run + timedelta(days=4)
    assert datetime.fromisoformat(now["last_run_at"]) == bi.clock.now()

    # Both executions are run once, whichever worker takes them.
    await asyncio.gather(bi.worker.run_pending_executions(), second_worker.run_pending_executions())
    statuses = [(e["status"], e["attempts"]) for e in await executions_of(bi, tenant, created["schedule_id"])]
    assert statuses == [("completed", 1), ("completed", 1)]
    # Disabled: no next run.
    off = await bi.req(
        "PATCH", f"/report-schedules/{created['schedule_id']}", tenant, "finance", json={"enabled": False}
    )
    assert (off["enabled"], off["next_run_at"]) == (False, None)


async def test_bad_schedules_are_422(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", output_formats=["json"])

    async def loc(**fields: Any) -> list[Any]:
        body = {"template_id": template["template_id"], "name": "x", "cron": "0 6 * * 1"} | fields
        response = await bi.call("POST", "/report-schedules", tenant, "finance", json=body)
        assert response.status_code == 422, response.text
        return list(response.json()["detail"][0]["loc"])

    assert await loc(cron="0 6 * *") == ["body", "cron"]
    assert await loc(cron="61 6 * * *") == ["body", "cron"]
    assert await loc(cron="0 0 30 2 *") == ["body", "cron"]
    assert await loc(timezone="Mars/Olympus") == ["body", "timezone"]
    assert await loc(output_formats=["xlsx"]) == ["body", "output_formats"]
    assert await loc(webhook_url="http://127.0.0.1:9/x") == ["body", "webhook_secret"]
    assert await loc(email_recipients=["not-an-address"]) == ["body", "email_recipients", 0]
    dated = await bi.template(tenant, "finance", name="Dated", output_formats=["json"], parameters_schema={
        "type": "object", "properties": {"as_of": {"type": "string", "format": "date"}}})  # fmt: skip
    assert await loc(template_id=dated["template_id"], parameters={"as_of": "31/03/2025"}) == [
        "body",
        "parameters",
        "as_of",
    ]
    body = {"template_id": template["template_id"], "name": "x", "cron": "0 6 * * 1"}
    forbidden = await bi.call("POST", "/report-schedules", tenant, "collections", json=body)
    assert forbidden.status_code == 403  # collections may run it, not set it to be sent out


async def test_scheduled_report_is_emailed_with_attachments_and_posted_to_a_signed_webhook(
    bi: BiHarness, smtp: SmtpServer, hook: WebhookReceiver
) -> None:
    tenant = new_tenant()
    await seed_receivables(bi, tenant)
    template = await bi.template(tenant, "finance", name="Aging by region", output_formats=["csv", "json", "xlsx"])
    created = await schedule(
        bi, tenant, template["template_id"], parameters={"as_of": AS_OF.isoformat()}, output_formats=["csv", "json"],
        email_recipients=["cfo@isp.example", "ar@isp.example"], webhook_url=hook.url, webhook_secret=SECRET,
    )  # fmt: skip
    assert created["webhook_secret_set"] is True and "webhook_secret" not in created
    hook.fail_with = [500]  # the receiver is down at first
    smtp.stop()  # so is mail

    bi.clock.set(datetime.fromisoformat(created["next_run_at"]))
    await bi.worker.start_due_schedules()
    await bi.worker.run_pending_executions()
    [execution] = await executions_of(bi, tenant, created["schedule_id"])
    assert execution["status"] == "completed" and [o["format"] for o in execution["outputs"]] == ["csv", "json"]
    await bi.worker.make_due_deliveries()

    failed = {d["channel"]: d for d in (await bi.execution(tenant, execution["execution_id"]))["deliveries"]}
    assert (failed["email"]["status"], failed["email"]["attempts"]) == ("retrying", 1)
    assert "SMTP 127.0.0.1" in failed["email"]["last_error"]
    assert (failed["webhook"]["status"], failed["webhook"]["attempts"]) == ("retrying", 1)
    assert failed["webhook"]["last_error"] == f"webhook {hook.url}: HTTP 500"
    retry_at = bi.clock.now() + timedelta(seconds=60)
    assert {datetime.fromisoformat(d["next_attempt_at"]) for d in failed.values()} == {retry_at}

    smtp.start()
    bi.clock.set(retry_at - timedelta(seconds=1))
    await bi.worker.make_due_deliveries()  # not before the backoff
    waiting = (await bi.execution(tenant, execution["execution_id"]))["deliveries"]
    assert [(d["status"], d["attempts"]) for d in waiting] == [("retrying", 1), ("retrying", 1)]
    bi.clock.set(retry_at)
    await bi.worker.make_due_deliveries()
    done = {d["channel"]: d for d in (await bi.execution(tenant, execution["execution_id"]))["deliveries"]}
    assert {(c, d["status"], d["attempts"], d["last_error"]) for c, d in done.items()} == {
        ("email", "delivered", 2, None),
        ("webhook", "delivered", 2, None),
    }

    api_json = (await bi.get("aging/by-region", tenant, "finance", as_of=AS_OF.isoformat())).content
    csv_out = (await bi.download(tenant, execution["execution_id"], "csv", "finance")).content
    [message] = smtp.inbox.messages
    assert sorted(smtp.inbox.recipients[0]) == ["ar@isp.example", "cfo@isp.example"]
    assert message["Subject"].startswith("Report 'Aging by region' of ") and message["Subject"].endswith(" is ready")
    attachments = {a.get_filename(): a.get_content() for a in message.iter_attachments()}
    stamp = f"{datetime.fromisoformat(execution['requested_at']):%Y%m%d_%H%M%S}"
    assert attachments[f"aging_by_region_{stamp}.json"] == api_json
    assert attachments[f"aging_by_region_{stamp}.csv"].encode() == csv_out

    assert len(hook.requests) == 2
    headers, body = hook.requests[-1]
    assert hook.signed(headers, body)
    assert (
        headers["x-report-delivery-id"] == done["webhook"]["delivery_id"] == hook.requests[0][0]["x-report-delivery-id"]
    )
    payload = json.loads(body)
    assert (payload["event"], payload["execution_id"], payload["schedule_id"]) == (
        "report.completed", execution["execution_id"], created["schedule_id"],
    )  # fmt: skip
    url = f"{bi.settings.bi_public_base_url}/business-intelligence/report-executions/{execution['execution_id']}"
    assert [(o["format"], o["url"], o["size_bytes"]) for o in payload["outputs"]] == [
        ("csv", f"{url}/outputs/csv", len(csv_out)),
        ("json", f"{url}/outputs/json", len(api_json)),
    ]


async def test_a_delivery_that_keeps_failing_stops_after_the_last_attempt(bi: BiHarness, hook: WebhookReceiver) -> None:
    tenant = new_tenant()
    template = await bi.template(
        tenant, "finance", name="Blocked", report_type="collections", report="blocked-customers",
        output_formats=["csv"], default_parameters={"min_days_blocked": 9, "max_days_blocked": 1},
        parameters_schema={"type": "object", "properties": {"min_days_blocked": {"type": "integer"},
                                                            "max_days_blocked": {"type": "integer"}}},
    )  # fmt: skip
    created = await schedule(bi, tenant, template["template_id"], webhook_url=hook.url, webhook_secret=SECRET)
    hook.fail_with = [503] * 10
    bi.clock.set(datetime.fromisoformat(created["next_run_at"]))
    await bi.worker.start_due_schedules()
    await bi.worker.run_pending_executions()
    [execution] = await executions_of(bi, tenant, created["schedule_id"])
    assert execution["status"] == "failed"  # the report refused max < min: the failure is delivered too
    for attempt in range(1, bi.settings.bi_delivery_max_attempts + 1):
        await bi.worker.make_due_deliveries()
        [delivery] = (await bi.execution(tenant, execution["execution_id"]))["deliveries"]
        assert delivery["attempts"] == attempt
        bi.clock.advance(timedelta(seconds=60 * 2 ** (attempt - 1)))  # 1, 2, 4, 8 minutes apart
    await bi.worker.make_due_deliveries()
    [delivery] = (await bi.execution(tenant, execution["execution_id"]))["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == ("failed", 5, None)
    assert delivery["last_error"] == f"webhook {hook.url}: HTTP 503"
    assert all(hook.signed(h, b) for h, b in hook.requests) and len(hook.requests) == 5
    payload = json.loads(hook.requests[0][1])
    assert (payload["event"], payload["outputs"]) == ("report.failed", [])
    assert "HTTP 422" in payload["error"]

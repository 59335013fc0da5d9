"""Dunning's bulk kind through HTTP (real PostgreSQL and Kafka): `executions.cancel` by a filter cancels each
selected execution as the single cancel does (`DunningCanceled` on Kafka), leaves the others, reports items
that are already over or unknown as failed, and ends with `BulkOperationCompleted`."""

from __future__ import annotations

from typing import Any

import pytest

from bss_contracts import topics
from bss_testkit.events import EventProbe, eventually

from .support import RunningDunning, add_campaign, add_customer, campaign_body, overdue, report_overdue, unique

pytestmark = pytest.mark.timeout(120)


async def _finished(dunning: RunningDunning, op_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        view: dict[str, Any] = await dunning.get(f"/dunning/bulk-operations/{op_id}")
        return view if view["state"] not in ("queued", "running") else None

    result: dict[str, Any] = await eventually(check, timeout=60, interval=0.05)
    return result


async def test_cancel_executions_by_filter(start_dunning, smtp, kafka_bootstrap, prefix):
    dunning = await start_dunning(smtp_port=smtp.port)
    service = dunning.service
    await add_campaign(service, campaign_body("Reminders", {"type": "email", "delay_days": 10}))
    late, other = unique("cust"), unique("cust")
    await add_customer(service, late)
    await add_customer(service, other)
    mine = [await report_overdue(service, overdue(unique("inv"), late)) for _ in range(3)]
    [kept] = [await report_overdue(service, overdue(unique("inv"), other))]
    assert None not in mine and kept is not None

    body = {"kind": "executions.cancel", "filter": {"customer_id": late}, "reason": "payment plan agreed"}
    path = "/dunning/bulk-operations"
    assert (await dunning.client.post(path, json=body, headers=dunning.auth("finance"))).status_code == 403
    no_reason = await dunning.client.post(path, json={**body, "reason": None}, headers=dunning.auth())
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"][-1] == "reason"

    async with EventProbe(kafka_bootstrap, prefix, topics.DUNNING, topics.DUNNING_BULK_OPERATIONS) as probe:
        accepted = await dunning.client.post(path, json=body, headers=dunning.auth("collections", subject="carol"))
        assert accepted.status_code == 202, accepted.text
        op = accepted.json()
        assert (op["kind"], op["total"]) == ("executions.cancel", 3)
        done = await _finished(dunning, op["operation_id"])
        assert (done["state"], done["succeeded"], done["failed"]) == ("completed", 3, 0)
        canceled = await probe.wait_for(lambda e: e.type == "bss.dunning.execution.canceled", count=3)
        [completed] = await probe.wait_for(lambda e: e.type == "bss.dunning.bulk-operation.completed")
    assert sorted(e.data["execution_id"] for e in canceled) == sorted(mine)
    assert {(e.data["reason"], e.data["canceled_by"]) for e in canceled} == {("payment plan agreed", "carol")}
    assert (completed.subject, completed.data["succeeded"]) == (op["operation_id"], 3)
    assert [e["status"] for e in await dunning.executions(customer_id=late)] == ["canceled"] * 3
    assert [e["id"] for e in await dunning.executions(customer_id=other, status="pending")] == [kept]

    # Again: nothing active is left for that customer; by ids, over ones and unknown ones fail alone.
    nothing = await dunning.client.post(path, json=body, headers=dunning.auth())
    assert nothing.status_code == 422 and nothing.json()["detail"][0]["loc"][-1] == "filter"
    again = await dunning.client.post(
        path, json={"kind": "executions.cancel", "ids": [mine[0], "nope", kept], "reason": "r"}, headers=dunning.auth()
    )
    done = await _finished(dunning, again.json()["operation_id"])
    assert (done["state"], done["succeeded"], done["failed"]) == ("completed_with_errors", 1, 2)
    failed = await dunning.get(f"/dunning/bulk-operations/{done['operation_id']}/items", params={"status": "failed"})
    assert [(i["ref"], "already canceled" in i["error"] or "not found" in i["error"]) for i in failed] == [
        (mine[0], True), ("nope", True)
    ]  # fmt: skip

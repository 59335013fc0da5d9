"""Bulk operations of the customers service: import, suspend, progress (API and SSE), cancel, bad input."""

from __future__ import annotations

import json

import pytest

from bss_contracts import topics
from bss_testkit.events import EventProbe, eventually

from .bulk_support import BAD_WAYS, XLSX, as_xlsx, finished, import_file, submit_import

pytestmark = pytest.mark.timeout(180)


async def test_an_import_of_10000_rows_with_37_bad_ones(service, tenant, kafka_bootstrap):
    data, expected = import_file(10_000, 37)
    assert len(expected) == 37
    accepted = await submit_import(service, tenant, data, "ops")
    assert accepted.status_code == 202, accepted.text
    op = accepted.json()
    assert (op["kind"], op["total"]) == ("customers.import", 10_000)
    done = await finished(service, tenant, op["operation_id"])
    assert (done["state"], done["succeeded"], done["failed"], done["done"]) == (
        "completed_with_errors", 9_963, 37, 10_000
    )  # fmt: skip
    assert done["rate_per_second"] > 0 and done["eta_seconds"] == 0

    headers = service.headers(tenant)
    failed = (
        await service.client.get(
            f"/bulk-operations/{op['operation_id']}/items", params={"status": "failed", "limit": 100}, headers=headers
        )
    ).json()
    assert {int(item["ref"].removeprefix("row ")): item["column"] for item in failed} == expected
    assert all(item["error"] for item in failed)
    report = await service.client.get(f"/bulk-operations/{op['operation_id']}/report.csv", headers=headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = report.text.strip().splitlines()
    assert lines[0] == "item,status,column,error,result" and len(lines) == 38

    customers = (await service.client.get("/customers", params={"limit": 1}, headers=headers)).json()
    assert customers["total"] == 9_963
    lines_now = (await service.client.get("/subscribers", params={"limit": 1}, headers=headers)).json()
    assert lines_now["total"] == 9_963
    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMERS) as probe:
        created = await probe.wait_for(lambda e: e.tenant_id == tenant, count=9_963, timeout=60)
    assert len({e.subject for e in created}) == 9_963
    async with EventProbe(
        kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMER_BULK_OPERATIONS
    ) as probe:
        [completed] = await probe.wait_for(lambda e: e.subject == op["operation_id"])
    assert completed.tenant_id == tenant and completed.type == "bss.customers.bulk-operation.completed"


async def test_a_bulk_suspend_of_2000_lines_announces_each_once_with_progress_over_sse(
    service, tenant, kafka_bootstrap
):
    data, _ = import_file(2_000, active=True, prefix="line")
    imported = await finished(service, tenant, (await submit_import(service, tenant, data)).json()["operation_id"])
    assert imported["succeeded"] == 2_000

    # finance may not suspend; collections may.
    body = {"kind": "subscribers.suspend", "filter": {"status": "active"}, "reason": "collections campaign"}
    refused = await service.client.post("/bulk-operations", json=body, headers=service.headers(tenant, "finance"))
    assert refused.status_code == 403
    engine = service.app.state.bulk
    engine.rows_per_second = 4_000  # slow enough to see progress between chunks
    try:
        accepted = await service.client.post(
            "/bulk-operations", json=body, headers=service.headers(tenant, "collections")
        )
        assert accepted.status_code == 202, accepted.text
        op_id = accepted.json()["operation_id"]
        async with service.client.stream(
            "GET", f"/bulk-operations/{op_id}/events", params={"interval": 0.05}, headers=service.headers(tenant)
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = (await stream.aread()).decode()
    finally:
        engine.rows_per_second = service.settings.bulk_rows_per_second
    progress = [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]
    assert text.count("event: progress") == len(progress) >= 2
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones) and dones[-1] == 2_000 and dones[0] < 2_000
    assert progress[-1]["state"] == "completed" and progress[-1]["succeeded"] == 2_000

    again = await service.client.post(
        "/bulk-operations", json={"kind": "subscribers.suspend", "ids": [progress[-1]["operation_id"], "nope"]},
        headers=service.headers(tenant, "collections"),
    )  # fmt: skip
    assert (await finished(service, tenant, again.json()["operation_id"]))["failed"] == 2

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.SUBSCRIBERS) as probe:
        suspended = await probe.wait_for(
            lambda e: e.tenant_id == tenant and e.type == "bss.customers.subscriber.suspended", count=2_000
        )
        await probe.settle(1.0)
    suspended = [e for e in probe.seen if e.tenant_id == tenant and e.type == "bss.customers.subscriber.suspended"]
    assert len(suspended) == 2_000 and len({e.subject for e in suspended}) == 2_000


async def test_cancel_stops_an_operation(service, tenant):
    data, _ = import_file(3_000, prefix="cancel")
    engine = service.app.state.bulk
    engine.rows_per_second = 1_000
    try:
        op_id = (await submit_import(service, tenant, data, "support")).json()["operation_id"]

        async def started() -> bool:
            view = (await service.client.get(f"/bulk-operations/{op_id}", headers=service.headers(tenant))).json()
            return bool(view["done"] > 0)

        await eventually(started, timeout=30, interval=0.05)
        canceled = await service.client.post(f"/bulk-operations/{op_id}/cancel", headers=service.headers(tenant))
    finally:
        engine.rows_per_second = service.settings.bulk_rows_per_second
    assert canceled.status_code == 200, canceled.text
    view = canceled.json()
    assert view["state"] == "canceled" and view["canceled"] > 0
    assert view["succeeded"] + view["failed"] + view["canceled"] == 3_000
    later = await finished(service, tenant, op_id)
    assert later == view  # nothing moved after the cancel
    customers = (await service.client.get("/customers", params={"limit": 1}, headers=service.headers(tenant))).json()
    assert customers["total"] == view["succeeded"]


async def test_bad_requests_answer_4xx_naming_the_problem(service, tenant):
    headers = service.headers(tenant)
    unknown = await service.client.post(
        "/bulk-operations", json={"kind": "customers.explode", "ids": ["a"]}, headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"][-1] == "kind" and "customers.explode" in unknown.text

    empty = await submit_import(service, tenant, b"")
    assert empty.status_code == 422 and "empty" in empty.text and empty.json()["detail"][0]["loc"][-1] == "file"
    wrong = await submit_import(service, tenant, b"name,emial\nAda,ada@example.org\n")
    assert wrong.status_code == 422 and "'emial'" in wrong.text
    no_name = await submit_import(service, tenant, b"email\nada@example.org\n")
    assert no_name.status_code == 422 and "'name'" in no_name.text

    limit = service.settings.bulk_max_upload_bytes
    big = b"name\n" + b"x" * (limit + 1)
    too_big = await submit_import(service, tenant, big)
    assert too_big.status_code == 413 and str(limit) in too_big.text

    missing = await service.client.get("/bulk-operations/nope", headers=headers)
    assert missing.status_code == 404
    neither = await service.client.post("/bulk-operations", json={"kind": "subscribers.suspend"}, headers=headers)
    assert neither.status_code == 422 and neither.json()["detail"][0]["loc"][-1] == "ids"
    # Another tenant's operation is invisible.
    data, _ = import_file(3, prefix="mine")
    op_id = (await submit_import(service, tenant, data)).json()["operation_id"]
    assert (
        await service.client.get(f"/bulk-operations/{op_id}", headers=service.headers("isp-other"))
    ).status_code == 404


async def test_an_xlsx_import_is_checked_row_by_row_like_a_csv_one(service, tenant, kafka_bootstrap):
    csv_file, expected = import_file(120, len(BAD_WAYS))
    accepted = await submit_import(service, tenant, as_xlsx(csv_file), "support", content_type=XLSX)
    assert accepted.status_code == 202, accepted.text
    op_id = accepted.json()["operation_id"]
    done = await finished(service, tenant, op_id)
    assert (done["total"], done["succeeded"], done["failed"]) == (120, 120 - len(BAD_WAYS), len(BAD_WAYS))
    failed = (
        await service.client.get(
            f"/bulk-operations/{op_id}/items", params={"status": "failed"}, headers=service.headers(tenant)
        )
    ).json()
    assert {int(item["ref"].removeprefix("row ")): item["column"] for item in failed} == expected
    customers = (await service.client.get("/customers", params={"limit": 1}, headers=service.headers(tenant))).json()
    assert customers["total"] == 120 - len(BAD_WAYS)
    async with EventProbe(
        kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMER_BULK_OPERATIONS
    ) as probe:
        [completed] = await probe.wait_for(lambda e: e.subject == op_id)
    assert completed.data["succeeded"] == 120 - len(BAD_WAYS)


async def test_a_bad_xlsx_answers_4xx_naming_the_problem(service, tenant):
    async def refused(data: bytes) -> str:
        answer = await submit_import(service, tenant, data, content_type=XLSX)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"][-1] == "file"
        return str(answer.json()["detail"][0]["msg"])

    assert "empty" in await refused(b"")
    assert "not an XLSX workbook" in await refused(b"name\nAda\n")  # a CSV sent as a workbook
    assert "'emial'" in await refused(as_xlsx(b"name,emial\nAda,ada@example.org\n"))
    assert "no rows" in await refused(as_xlsx(b"name,email\n"))
    sent_as_csv = await submit_import(service, tenant, as_xlsx(b"name\nAda\n"))
    assert sent_as_csv.status_code == 422 and XLSX in sent_as_csv.text
    limit = service.settings.bulk_max_upload_bytes
    too_big = await submit_import(service, tenant, b"PK\x03\x04" + b"x" * limit, content_type=XLSX)
    assert too_big.status_code == 413 and str(limit) in too_big.text

"""The BI module of the demo ISP: report templates finance and collections use, their schedules (emailed to the
local mail catcher), and one execution run now so that its outputs can be downloaded from the banner."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from demo.api import Api

AS_OF = {"type": "object", "properties": {"as_of": {"type": "string", "format": "date"}}}
BLOCKED = {
    "type": "object",
    "properties": {"min_days_blocked": {"type": "integer", "minimum": 0}, "max_days_blocked": {"type": "integer"}},
}
TEMPLATES = (
    {
        "name": "Receivables aging by region",
        "description": "Open receivables per country and currency, in aging buckets",
        "report_type": "financial",
        "report": "aging/by-region",
        "output_formats": ["xlsx", "csv", "html", "json"],
        "parameters_schema": AS_OF,
        "is_public": True,
        "schedule": {"name": "Month-end aging for finance", "cron": "0 6 1 * *", "timezone": "Europe/Berlin",
                     "email_recipients": ["finance@demo-isp.example"]},
    },
    {
        "name": "Blocked customers for the collections team",
        "description": "Suspended lines that still owe money, by priority",
        "report_type": "collections",
        "report": "blocked-customers",
        "output_formats": ["xlsx", "csv"],
        "parameters_schema": BLOCKED,
        "is_public": True,
        "schedule": {"name": "Monday call list", "cron": "0 7 * * 1", "timezone": "Europe/Berlin",
                     "email_recipients": ["collections@demo-isp.example"]},
    },
)  # fmt: skip


class ExecutionFailed(Exception):
    """The demo's first BI execution did not complete."""


async def set_up(api: Api, *, timeout: float = 120.0) -> dict[str, Any]:
    """Templates and schedules, and the first template run once now; returns the ids the banner shows."""
    template_ids = []
    for spec in TEMPLATES:
        body = {k: v for k, v in spec.items() if k != "schedule"}
        template = await api.post("/business-intelligence/report-templates", body)
        template_ids.append(template["template_id"])
        schedule = {"template_id": template["template_id"], **spec["schedule"]}  # type: ignore[dict-item]
        await api.post("/business-intelligence/report-schedules", schedule)
    execution = await api.post("/business-intelligence/report-executions", {"template_id": template_ids[0]})
    path = f"/business-intelligence/report-executions/{execution['execution_id']}"
    deadline = time.monotonic() + timeout
    while execution["status"] in ("pending", "running"):
        if time.monotonic() > deadline:
            raise ExecutionFailed(f"{path} is still {execution['status']} after {timeout:.0f} s")
        await asyncio.sleep(1)
        execution = await api.get(path)
    if execution["status"] != "completed":
        raise ExecutionFailed(f"{path} failed: {execution['error']}")
    return {"templates": template_ids, "execution_id": execution["execution_id"]}

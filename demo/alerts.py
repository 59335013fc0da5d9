"""Business alerts of the demo ISP: each BNG's capacity (sessions it is built for), seed 003's default rules, and
a capacity rule for the network team, all notified to the local mail catcher. One BNG was sized for fewer
sessions than it now carries: its alert fires within a minute (the reporting service's alerts worker) and the
banner shows it."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from demo.api import Api, ApiError

NOC = "noc@demo-isp.example"
FINANCE = "finance@demo-isp.example"
NEAR_FULL_PERCENT = 85
CAPACITY_RULE = {
    "name": "BNG near capacity",
    "kind": "nas_concurrency",
    "parameters": {"threshold_percent": NEAR_FULL_PERCENT},
    "severity": "high",
    "interval_seconds": 60,
    "repeat_seconds": 4 * 3600,
    "email_to": [NOC],
}


def capacities(online: dict[str, int]) -> dict[str, int]:
    """Every BNG sized for twice its sessions (rounded up to 50), except the busiest: sized years ago for
    about 90 % of what it carries now, so it is over the capacity rule's threshold."""
    if not online:
        return {}
    busiest = max(sorted(online), key=lambda nas: online[nas])
    sized = {nas: max(50, math.ceil(n * 2 / 50) * 50) for nas, n in online.items()}
    sized[busiest] = max(1, math.floor(online[busiest] / 0.9))
    return sized


async def set_up(api: Api, *, timeout: float = 120.0) -> dict[str, Any]:
    """Capacities, default and capacity rules; waits until an alert fires. Returns what the banner shows."""
    online = {str(n["nas_id"]): int(n["online"]) for n in (await api.get("/analytics/network/online"))["by_nas"]}
    for nas_id, max_sessions in capacities(online).items():
        await api.request("PUT", f"/alerts/nas-capacities/{nas_id}", json={"max_sessions": max_sessions})
    defaults = await api.post("/alerts/rules/defaults", {"email_to": [FINANCE]})
    await api.post("/alerts/rules", CAPACITY_RULE)
    deadline = time.monotonic() + timeout
    firing: list[dict[str, Any]] = []
    while not firing:
        if time.monotonic() > deadline:
            raise ApiError("GET", "/alerts?state=firing", 0, f"no alert fired within {timeout:.0f} s")
        await asyncio.sleep(2)
        firing = await api.get("/alerts", state="firing")
    return {"capacities": len(online), "rules": len(defaults) + 1, "firing": firing}

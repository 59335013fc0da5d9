"""What `make up` prints at the end: where the gateway is, a token, and curl commands that show each report."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from demo.api import Api, ApiError

REPORTS = (
    ("blocked customers (suspended, with what they owe)", "/billing/reports/blocked-customers"),
    ("receivables aging by partner", "/billing/reports/aging/by-partner"),
    ("receivables aging by region", "/billing/reports/aging/by-region"),
    ("services export: csv, json, xlsx or parquet",
     "/billing/reports/services/export?format=csv&include_suspended=true"),
    ("SLA breaches and their credits", "/billing/reports/sla-breaches"),
    ("session history (RADIUS accounting)", "/billing/reports/sessions/history?limit=5"),
)  # fmt: skip


ANALYTICS = (
    ("MRR, paying customers and ARPU per currency (as_of=YYYY-MM-DD for any past day)", "/analytics/revenue/mrr"),
    ("MRR movements per month: new, expansion, contraction, churn, reactivation",
     "/analytics/revenue/movements?interval=month"),
    ("this month's KPIs: churn, NRR, ARPU, LTV, DSO, collected vs invoiced", "/analytics/revenue/kpis"),
    ("support against its SLAs: response and resolution times, breach rate, backlog, per region and NAS",
     "/analytics/support/sla"),
    ("peak concurrent sessions per hour (nas_id=, interval=day, tz=)", "/analytics/network/concurrency"),
    ("sessions online now, per NAS", "/analytics/network/online"),
)  # fmt: skip


ALERTS = (
    ("alerts firing now (state=pending|firing|resolved)", "/alerts?state=firing"),
    ("alert rules: seed 003's defaults and the BNG capacity rule", "/alerts/rules"),
    ("each BNG's capacity (sessions it is built for)", "/alerts/nas-capacities"),
)


def service_calls(sample_username: str | None) -> tuple[tuple[str, str], ...]:
    return (
        ("customers: customers, partners, subscribers", "/customers?limit=3"),
        ("customers: suspended subscribers", "/subscribers?status=suspended&limit=3"),
        ("billing: open invoices", "/billing/invoices?status=open&limit=3"),
        ("billing: SLA breaches", "/billing/sla/breaches"),
        ("dunning: collections statistics", "/dunning/stats"),
        ("dunning: campaigns", "/dunning/campaigns"),
        ("radius-ingest: NAS clients", "/radius/nas-clients"),
        ("support: tickets whose SLA breached", "/support/tickets?breached=true&limit=3"),
        ("support: tickets the outage policy opened", "/support/tickets?channel=monitoring&limit=3"),
        ("one subscriber's sessions", f"/billing/reports/sessions/history?username={sample_username}&limit=3")
        if sample_username
        else ("radius-ingest: open sessions", "/radius/sessions/open"),
    )


def bi_calls(execution_id: str | None) -> tuple[tuple[str, str], ...]:
    calls = [
        ("report templates (finance, collections)", "/business-intelligence/report-templates"),
        ("their schedules: emailed to the mail catcher", "/business-intelligence/report-schedules"),
        ("executions with their outputs and deliveries", "/business-intelligence/report-executions"),
        ("usage analytics", "/business-intelligence/analytics/usage"),
    ]
    if execution_id:
        calls.append(("download one output (add -OJ to save it under its file name)",
                      f"/business-intelligence/report-executions/{execution_id}/outputs/csv"))  # fmt: skip
    return tuple(calls)


def render(gateway: str, tenant: str, token: str, expires: datetime, summary: dict[str, Any],
           sample_username: str | None, mail_dir: str, bi_execution: str | None = None,
           firing_alert: str | None = None) -> str:  # fmt: skip
    def curl(path: str) -> str:
        return f'curl -s -H "Authorization: Bearer $TOKEN" "{gateway}{path}"'

    facts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.items())
    lines = [
        "",
        "=" * 100,
        f"ISP BSS is up. One entry point: {gateway}   (API pages: {gateway}/docs)",
        f"Demo ISP, tenant {tenant!r}: {facts}",
        "",
        f"Operator console: {gateway}/console/",
        f"  sign in (local mode) with tenant {tenant!r} and a role: admin sees every page; finance, collections,"
        " ops and support see theirs",
        "",
        f"Token (admin of the demo tenant, valid until {expires:%Y-%m-%d %H:%M} UTC):",
        f"  export TOKEN={token}",
        "",
        "Reports:",
    ]
    for title, path in REPORTS:
        lines += [f"  # {title}", f"  {curl(path)}"]
    lines += ["", "Analytics (revenue, network):"]
    for title, path in ANALYTICS:
        lines += [f"  # {title}", f"  {curl(path)}"]
    lines += ["", "Business intelligence (templates, schedules, outputs):"]
    for title, path in bi_calls(bi_execution):
        lines += [f"  # {title}", f"  {curl(path)}"]
    lines += ["", "Business alerts (notified to the mail catcher):"]
    if firing_alert:
        lines.append(f"  FIRING: {firing_alert}")
    for title, path in ALERTS:
        lines += [f"  # {title}", f"  {curl(path)}"]
    lines += ["", "Each service's API:"]
    for title, path in service_calls(sample_username):
        lines += [f"  # {title}", f"  {curl(path)}"]
    lines += [
        "",
        f"Notices dunning emailed: {mail_dir}/new (Maildir)   Logs: {mail_dir.rsplit('/', 1)[0]}/*.log",
        "Everything keeps running until `make down`.",
        "=" * 100,
        "",
    ]
    return "\n".join(lines)


async def check_reports(api: Api) -> list[str]:
    """Every printed report answers 200; returns the failures."""
    failures = []
    for _, path in REPORTS:
        try:
            response = await api.client.get(path)
            if response.status_code != 200:
                failures.append(f"{path}: {response.status_code} {response.text[:200]}")
        except Exception as exc:
            failures.append(f"{path}: {exc}")
    return failures


async def wait_for_reports(api: Api, expected: dict[str, int], *, timeout: float = 240.0) -> dict[str, int]:
    """Until the reporting service's read models have caught up with what was loaded (they are built from
    events, a little behind the services that own the data)."""
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 10
    seen: dict[str, int] = {}
    while True:
        try:
            seen = await _report_counts(api)
        except ApiError as exc:
            print(f"    reports: {exc}", flush=True)
        behind = {k: f"{seen.get(k, 0)}/{v}" for k, v in expected.items() if seen.get(k, 0) < v}
        if not behind:
            print(f"    reports: {', '.join(f'{k} {v}' for k, v in seen.items())}", flush=True)
            return seen
        if time.monotonic() > next_note:
            print(f"    reports: catching up ({', '.join(f'{k} {v}' for k, v in behind.items())})", flush=True)
            next_note = time.monotonic() + 15
        if time.monotonic() > deadline:
            print(f"    reports: still catching up ({', '.join(f'{k} {v}' for k, v in behind.items())})", flush=True)
            return seen
        await asyncio.sleep(3)


async def _report_counts(api: Api) -> dict[str, int]:
    sessions = await api.get("/billing/reports/sessions/history", limit=1)
    blocked = await api.get("/billing/reports/blocked-customers", include_zero_balance="true")
    breaches = await api.get("/billing/reports/sla-breaches", limit=1)
    partners = await api.get("/billing/reports/aging/by-partner")
    return {
        "sessions": sessions["summary"]["total_sessions"],
        "blocked_subscribers": len(blocked),
        "sla_breaches": breaches["summary"]["total_breaches"],
        "open_invoices": sum(row["invoice_count"] for row in partners),
    }

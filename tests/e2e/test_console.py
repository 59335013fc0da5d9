"""The operator console in a real browser: Debian's Chromium (/usr/bin/chromium, driven by Playwright; no browser
is downloaded) against a private copy of the whole system (`bss_testkit.system.local_stack`: its own PostgreSQL,
Kafka, five services and the gateway that serves the console at /console/), loaded with a small demo ISP by
`python -m demo.load` through the gateway.

What a user sees is checked against what the public API answers for the same query and the same token: the KPI
cards, the aging chart (and that its `as_of` picker changes it), the blocked list before and after a reinstate,
the SLA summary, a BI run and its download, the firing alerts (acknowledged and silenced from the page), the Ops
page's lag, dead-letter counts, outbox backlogs and health (from the ops API, `bssctl serve`) and a dead letter's
redrive, dry run first; another tenant's token sees none of it; a support token gets no finance page. The stack
also verifies the tokens of a loopback OpenID Connect provider (`bss_testkit.oidc.OidcProvider`), and a user signs
in with it (authorization code + PKCE). Every page must load without a console error. A screenshot of every page
goes to docs/console/.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from bss_testkit.oidc import OidcProvider, OidcUser
from bss_testkit.system import ROOT, Stack

from .conftest import OIDC_CLIENT, System

pytestmark = pytest.mark.timeout(600)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs/console"
DEMO_CUSTOMERS = "60"  # a small demo ISP: every page has data, the load takes under a minute
PAGES = ("overview", "receivables", "collections", "network", "reports", "sla", "alerts", "ops")
FINANCE_PAGES = ("overview", "receivables", "sla")
BERLIN = ZoneInfo("Europe/Berlin")  # the browser's time zone (sign_in)


@dataclass
class Console:
    stack: Stack
    browser: Browser
    tenant: str
    http: httpx.AsyncClient
    oidc: OidcProvider
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    async def token(self, tenant: str, role: str) -> str:
        """A token from the dev sign-in, through the gateway, as the console gets it."""
        if (tenant, role) not in self.tokens:
            answer = await self.http.post("/dev/token", json={"tenant_id": tenant, "role": role})
            assert answer.status_code == 200, answer.text
            self.tokens[tenant, role] = answer.json()["access_token"]
        return self.tokens[tenant, role]

    async def api(self, path: str, *, role: str = "admin", tenant: str | None = None, **query: Any) -> Any:
        token = await self.token(tenant or self.tenant, role)
        answer = await self.http.get(path, params=query, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()


@dataclass
class Tab:
    """One signed-in browser tab, with the console errors it logged."""

    page: Page
    errors: list[str]

    async def open(self, name: str, ready: str) -> None:
        """Go to a page and wait until `ready` (a selector of data) shows and nothing is loading."""
        await self.page.goto(f"{self.page.url.split('#')[0]}#/{name}")
        await self.page.wait_for_selector(f"main[data-page={name}]")
        await self.page.wait_for_selector(ready, timeout=30_000)
        await self.page.wait_for_function("() => !document.querySelector('[data-testid=loading]')", timeout=30_000)

    async def value(self, test_id: str) -> str:
        got = await self.page.get_attribute(f"[data-testid={test_id}]", "data-value")
        assert got is not None, f"{test_id} has no value"
        return got

    async def text(self, selector: str) -> str:
        return await self.page.inner_text(selector)

    async def nav(self) -> list[str]:
        return await self.page.eval_on_selector_all("nav a[data-page]", "els => els.map(e => e.dataset.page)")

    async def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.wait_for_timeout(600)  # the charts' entry animation
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return await check()


@pytest.fixture(scope="module")
async def console(system: System) -> AsyncIterator[Console]:
    stack = system.stack
    started = time.monotonic()
    env = dict(stack.env, DEMO_CUSTOMERS=DEMO_CUSTOMERS)
    load = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "demo.load", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await load.communicate()
    assert load.returncode == 0, out.decode()[-4000:]
    print(f"\ndemo.load ({DEMO_CUSTOMERS} customers): {time.monotonic() - started:.1f} s", flush=True)
    state = json.loads((stack.state / "services/demo-state.json").read_text())
    banner = (stack.state / "services/demo-banner.txt").read_text()  # what `make up` prints
    assert f"Operator console: {stack.gateway}/console/" in banner
    assert f"sign in (local mode) with tenant {state['tenant_id']!r}" in banner
    async with (
        async_playwright() as playwright,
        httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Console(stack, browser, state["tenant_id"], http, system.oidc)
        finally:
            await browser.close()


async def sign_in(console: Console, tenant: str, role: str) -> AsyncIterator[Tab]:
    context = await console.browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="en-US", timezone_id="Europe/Berlin", accept_downloads=True
    )
    page = await context.new_page()
    page.set_default_timeout(90_000)  # waits for what must appear; `make test` runs beside other tests on 2 cores
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{console.stack.gateway}/console/")
    await page.fill("input[name=tenant]", tenant)
    await page.select_option("select[name=role]", role)
    await page.click("form[data-testid=signin] button[type=submit]")
    await page.wait_for_selector("nav[data-testid=nav]")
    try:
        yield Tab(page, errors)
    finally:
        await context.close()


@pytest.fixture
async def admin(console: Console) -> AsyncIterator[Tab]:
    async for tab in sign_in(console, console.tenant, "admin"):
        yield tab


def digits(minor: int) -> str:
    """How en-US shows an amount of a two-decimal currency, without its symbol: 1,567.70."""
    return f"{abs(minor) / 100:,.2f}"


READY = {
    "overview": "[data-testid=kpi-mrr][data-value]",
    "receivables": "[data-testid=aging-total][data-value]",
    "collections": "[data-testid=blocked-table] tbody tr[data-key]",
    "network": "[data-testid=online-now][data-value]",
    "reports": "[data-testid=templates-table] tbody tr[data-key]",
    "sla": "[data-testid=sla-total][data-value]",
    "alerts": "[data-testid=alerts-table] tbody tr[data-key]",
    "ops": "[data-testid=ops-ready][data-value]",
}


async def test_every_page_loads_with_data_and_no_console_error(console: Console, admin: Tab) -> None:
    assert await admin.nav() == list(PAGES)
    for name in PAGES:
        await admin.open(name, READY[name])
        assert not await admin.page.query_selector("[data-testid=error]"), await admin.text("main")
        await admin.shoot(name)
    await admin.page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await admin.open("overview", READY["overview"])
    await admin.shoot("overview-phone")
    assert admin.errors == []


async def test_numbers_shown_equal_the_api(console: Console, admin: Tab) -> None:
    await admin.open("overview", READY["overview"])
    mrr = await console.api("/analytics/revenue/mrr")
    kpis = await console.api("/analytics/revenue/kpis")
    first = mrr["currencies"][0]
    assert int(await admin.value("kpi-mrr")) == first["mrr_minor"] > 0
    assert digits(first["mrr_minor"]) in await admin.text("[data-testid=kpi-mrr]")
    assert int(await admin.value("kpi-arpu")) == first["arpu_minor"]
    kpi = next(k for k in kpis["currencies"] if k["currency"] == first["currency"])
    assert await admin.value("kpi-nrr") == kpi["net_revenue_retention"]
    assert int(await admin.value("kpi-receivables")) == kpi["receivables_end_minor"]
    firing = await console.api("/alerts", state="firing", limit=1000)
    assert int(await admin.value("kpi-alerts")) == len(firing) > 0
    # Another currency's tab shows that currency's figures.
    other = mrr["currencies"][-1]
    await admin.page.click(f"[data-testid=currency-tabs] button:text-is('{other['currency']}')")
    await admin.page.wait_for_selector(f"[data-testid=kpi-mrr][data-value='{other['mrr_minor']}']")

    await admin.open("receivables", READY["receivables"])
    aging = await console.api("/billing/reports/aging/by-partner")
    currency = await admin.page.get_attribute("[data-testid=aging-total]", "data-currency")
    expected = sum(r["total_outstanding_minor"] for r in aging if r["currency"] == currency)
    assert int(await admin.value("aging-total")) == expected > 0
    assert digits(expected) in await admin.text("[data-testid=aging-total]")
    # A bucket of a partner lists its open invoices: their balances add up to the bucket.
    row = next(r for r in aging if r["currency"] == currency and r["total_outstanding_minor"] > 0)
    bucket = next(b for b, v in row["buckets_minor"].items() if v > 0)
    cell = f"[data-testid=aging-partner-cell][data-key='{row['partner_id'] or '(none)'}'][data-bucket='{bucket}']"
    assert int(await admin.page.get_attribute(cell, "data-value") or -1) == row["buckets_minor"][bucket]
    await admin.page.click(cell)
    await admin.page.wait_for_selector("[data-testid=bar-invoices-total][data-value]")
    assert int(await admin.value("bar-invoices-total")) == row["buckets_minor"][bucket]
    count = int(await admin.page.get_attribute("[data-testid=bar-invoices-total]", "data-count") or -1)
    shown_rows = await admin.page.query_selector_all("[data-testid=bar-invoices-table] tbody tr[data-key]")
    assert count > 0
    assert len(shown_rows) == min(count, 20)  # a page
    await admin.shoot("receivables-invoices")

    await admin.open("collections", READY["collections"])
    blocked = await console.api("/billing/reports/blocked-customers", include_zero_balance="true")
    shown = await admin.page.eval_on_selector_all(
        "[data-testid=blocked-table] tbody tr[data-key]",
        "rows => rows.map(r => [r.dataset.key,"
        " r.querySelector('[data-col=outstanding_balance_minor] span').dataset.value])",
    )
    assert shown == [
        [f"{b['subscriber_id']}:{b['currency'] or ''}", str(b["outstanding_balance_minor"])] for b in blocked
    ]
    # The first customer's timeline: every issued invoice, each dunning step, the suspension.
    first = blocked[0]
    await admin.page.click("[data-testid=blocked-table] tbody tr[data-key] button:text-is('Timeline')")
    await admin.page.wait_for_selector("[data-testid=timeline] li")
    await admin.page.wait_for_function("() => !document.querySelector('[data-testid=loading]')")
    timeline = await admin.text("[data-testid=timeline]")
    invoices = (await console.api("/billing/invoices", customer_id=first["customer_id"], limit=100))["items"]
    issued = [i["number"] for i in invoices if i["issued_at"]]
    assert issued and all(f"invoice {n} " in timeline for n in issued), timeline
    executions = (await console.api("/dunning/executions", customer_id=first["customer_id"]))["items"]
    steps = [len((await console.api(f"/dunning/executions/{e['id']}"))["logs"]) for e in executions]
    assert timeline.count("dunning step") == sum(steps)
    assert f"line {first['username']} suspended" in timeline
    await admin.shoot("collections-timeline")

    # Online now moves as sessions go stale: read the page between two equal answers of the API.
    for _ in range(3):
        before = (await console.api("/analytics/network/online"))["online"]
        await admin.open("network", READY["network"])
        shown_online = int(await admin.value("online-now"))
        if before == (await console.api("/analytics/network/online"))["online"]:
            break
    assert shown_online == before
    top = await console.api("/analytics/usage/top", by="bytes", limit=20)
    first_user = next(u for u in top if u["subscriber_id"])
    row = f"[data-testid=top-table] tr[data-key='{first_user['username']}']"
    assert (
        int(await admin.page.get_attribute(f"{row} [data-col=total_bytes] span", "data-value") or -1)
        == (first_user["total_bytes"])
    )
    await admin.page.click(f"{row} button:text-is('Usage')")
    await admin.page.wait_for_selector("[data-testid=usage-total][data-value]")
    usage = await console.api(f"/analytics/usage/subscribers/{first_user['subscriber_id']}")
    assert int(await admin.value("usage-total")) == usage["total_bytes"] > 0
    await admin.page.fill("[data-testid=session-who]", first_user["username"])
    await admin.page.click("[data-testid=session-search]")
    history = await console.api("/billing/reports/sessions/history", username=first_user["username"], limit=1)
    total = history["summary"]["total_sessions"]
    await admin.page.wait_for_selector(f"[data-testid=session-summary][data-value='{total}']")
    rows = await admin.page.eval_on_selector_all(
        "[data-testid=sessions-table] tbody tr[data-key] [data-col=username]", "cells => cells.map(c => c.innerText)"
    )
    assert rows == [first_user["username"]] * min(total, 20)
    await admin.shoot("network-subscriber")

    await admin.open("sla", READY["sla"])
    sla = await console.api("/billing/reports/sla-breaches", limit=1)
    assert int(await admin.value("sla-total")) == sla["summary"]["total_breaches"] > 0
    for credit in sla["summary"]["total_credits_issued"]:
        assert int(await admin.value(f"sla-credits-{credit['currency']}")) == credit["amount_minor"]
    assert admin.errors == []


async def chart_series(tab: Tab, test_id: str) -> list[list[float]]:
    option = json.loads(await tab.page.get_attribute(f"[data-testid={test_id}]", "data-option") or "{}")
    return [series["data"] for series in option.get("series", [])]


async def test_aging_as_of_picker_changes_the_chart(console: Console, admin: Tab) -> None:
    await admin.open("receivables", READY["receivables"])
    currency = await admin.page.get_attribute("[data-testid=aging-total]", "data-currency")
    today_series = await chart_series(admin, "aging-partner-chart")
    earlier = (date.today() - timedelta(days=75)).isoformat()
    await admin.page.fill("[data-testid=as-of]", earlier)

    async def changed() -> bool:
        return await chart_series(admin, "aging-partner-chart") != today_series

    assert await eventually(changed), "the chart did not change with as_of"
    await admin.page.wait_for_function("() => !document.querySelector('[data-testid=loading]')")
    currency = await admin.page.get_attribute("[data-testid=aging-total]", "data-currency")
    aging = [
        r for r in await console.api("/billing/reports/aging/by-partner", as_of=earlier) if r["currency"] == currency
    ]
    buckets = ("current", "1_30_days", "31_60_days", "61_90_days", "over_90_days")
    expected = [[r["buckets_minor"][b] / 100 for r in aging] for b in buckets]
    assert await chart_series(admin, "aging-partner-chart") == expected
    await admin.shoot("receivables-as-of")
    assert admin.errors == []


async def test_a_bi_run_appears_and_downloads(console: Console, admin: Tab) -> None:
    await admin.open("reports", READY["reports"])
    before = {e["execution_id"] for e in await console.api("/business-intelligence/report-executions")}
    template = (await console.api("/business-intelligence/report-templates"))[0]
    await admin.page.click(f"[data-testid=run-{template['template_id']}]")
    await admin.page.click("[data-testid=run-submit]")
    await admin.page.wait_for_selector("[data-testid=notice]:has-text('completed')", timeout=30_000)
    executions = await console.api("/business-intelligence/report-executions")
    new = [e for e in executions if e["execution_id"] not in before]
    assert len(new) == 1 and new[0]["status"] == "completed"
    execution = new[0]
    output = next(o for o in execution["outputs"] if o["format"] == "csv")
    link = f"[data-testid=download-{execution['execution_id']}-csv]"
    await admin.page.wait_for_selector(link)
    async with admin.page.expect_download() as waiting:
        await admin.page.click(link)
    download = await waiting.value
    assert download.suggested_filename == output["filename"]
    saved = Path(await download.path())
    token = await console.token(console.tenant, "admin")
    direct = await console.http.get(output["download_path"], headers={"Authorization": f"Bearer {token}"})
    assert await asyncio.to_thread(saved.read_bytes) == direct.content and len(direct.content) == output["size_bytes"]
    assert admin.errors == []


async def test_finance_resolves_an_sla_breach(console: Console) -> None:
    report = await console.api("/billing/reports/sla-breaches", limit=500)
    breach = next(b for b in report["breaches"] if not b["resolved"])
    async for tab in sign_in(console, console.tenant, "finance"):
        tab.page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("credited; fibre repaired")))
        await tab.open("sla", READY["sla"])
        await tab.page.click(f"[data-testid=resolve-{breach['breach_id']}]")
        resolved = f"[data-testid=resolved-{breach['breach_id']}]"
        await tab.page.wait_for_selector(resolved, timeout=45_000)
        assert await tab.text(resolved) == "resolved: credited; fibre repaired"
        assert int(await tab.value("sla-unresolved")) == report["summary"]["unresolved_breaches"] - 1
        assert tab.errors == []
    after = await console.api("/billing/reports/sla-breaches", limit=500)
    assert next(b for b in after["breaches"] if b["breach_id"] == breach["breach_id"])["resolution"] == (
        "credited; fibre repaired"
    )


async def test_another_tenants_token_sees_none_of_the_first_tenants_data(console: Console) -> None:
    names = {b["customer_name"] for b in await console.api("/billing/reports/blocked-customers") if b["customer_name"]}
    users = {u["username"] for u in await console.api("/analytics/usage/top", limit=20)}
    assert names and users
    async for tab in sign_in(console, f"{console.tenant}-other", "admin"):
        await tab.open("overview", "[data-testid=kpi-mrr]")
        assert await tab.page.get_attribute("[data-testid=kpi-mrr]", "data-value") is None
        await tab.open("receivables", "[data-testid=aging-total][data-value='0']")
        await tab.open("collections", "[data-testid=blocked-table] td.empty")
        await tab.open("network", "[data-testid=online-now][data-value='0']")
        await tab.open("reports", "[data-testid=templates-table] td.empty")
        await tab.open("sla", "[data-testid=sla-total][data-value='0']")
        await tab.shoot("other-tenant-sla")
        for name in PAGES:
            await tab.open(name, "main")
            text = await tab.text("main")
            assert not [n for n in names | users if n in text], f"{name} shows the first tenant's data"
        assert tab.errors == []


async def test_a_support_token_sees_no_finance_page(console: Console) -> None:
    async for tab in sign_in(console, console.tenant, "support"):
        shown = await tab.nav()
        assert shown == ["collections", "network", "reports"]
        for name in FINANCE_PAGES:  # asked for by address: the first page of the role instead
            await tab.page.goto(f"{console.stack.gateway}/console/#/{name}")
            await tab.page.wait_for_selector("main[data-page=collections]")
        assert tab.errors == []
    token = await console.token(console.tenant, "support")  # and the APIs behind them refuse it
    for path in ("/analytics/revenue/mrr", "/billing/reports/aging/by-partner", "/billing/reports/sla-breaches"):
        answer = await console.http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403, (path, answer.status_code)


async def test_collections_cancels_a_dunning_execution(console: Console) -> None:
    blocked = await console.api("/billing/reports/blocked-customers", include_zero_balance="true")
    target = blocked[-1]  # the reinstate test takes the first
    running = [
        e
        for e in (await console.api("/dunning/executions", customer_id=target["customer_id"]))["items"]
        if e["status"] in ("pending", "in_progress")
    ]
    assert running, "the demo leaves dunning running on a blocked customer"
    async for tab in sign_in(console, console.tenant, "collections"):
        tab.page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await tab.open("collections", READY["collections"])
        row = f"[data-testid=blocked-table] tr[data-key='{target['subscriber_id']}:{target['currency'] or ''}']"
        assert not await tab.page.query_selector(f"{row} [data-testid^=reinstate-]")  # a write of support, ops
        await tab.page.click(f"{row} button:text-is('Timeline')")
        button = f"[data-testid=cancel-{running[0]['id']}]"
        await tab.page.click(button)
        await tab.page.wait_for_selector(button, state="detached")
        await tab.page.wait_for_selector("[data-testid=timeline] li:has-text('dunning canceled')")
        assert tab.errors == []
    execution = await console.api(f"/dunning/executions/{running[0]['id']}")
    assert execution["status"] == "canceled" and execution["canceled_reason"] == "canceled from the console"


async def test_reinstate_goes_through_and_the_blocked_list_updates(console: Console) -> None:
    blocked = await console.api("/billing/reports/blocked-customers", include_zero_balance="true")
    assert blocked, "the demo has blocked customers"
    target = blocked[0]
    async for tab in sign_in(console, console.tenant, "support"):
        await tab.open("collections", READY["collections"])
        row = f"[data-testid=blocked-table] tr[data-key='{target['subscriber_id']}:{target['currency'] or ''}']"
        await tab.page.click(f"{row} [data-testid=reinstate-{target['subscriber_id']}]")
        await tab.page.wait_for_selector("[data-testid=confirm]")
        await tab.shoot("collections-reinstate")
        await tab.page.click("[data-testid=confirm-yes]")
        await tab.page.wait_for_selector(row, state="detached", timeout=45_000)
        await tab.page.wait_for_selector("[data-testid=notice]:has-text('Reinstated')")
        assert tab.errors == []
    subscriber = await console.api(f"/subscribers/{target['subscriber_id']}")
    assert subscriber["status"] == "active"
    after = await console.api("/billing/reports/blocked-customers", include_zero_balance="true")
    assert {b["subscriber_id"] for b in after} == {b["subscriber_id"] for b in blocked} - {target["subscriber_id"]}


async def test_ops_acknowledges_and_silences_a_firing_alert(console: Console) -> None:
    firing = await console.api("/alerts", state="firing", limit=1000, role="ops")
    rules = await console.api("/alerts/rules", role="ops")
    assert firing, "the demo makes a BNG's capacity alert fire"
    alert = firing[0]
    async for tab in sign_in(console, console.tenant, "ops"):
        assert await tab.nav() == ["network", "reports", "sla", "alerts", "ops"]
        await tab.open("alerts", READY["alerts"])
        assert int(await tab.value("alerts-firing")) == len(firing)
        shown = await tab.page.eval_on_selector_all("[data-testid=alerts-table] tbody tr[data-key]", ROW_KEYS)
        assert sorted(shown) == sorted(a["alert_id"] for a in firing)[:20]
        shown_rules = await tab.page.eval_on_selector_all("[data-testid=rules-table] tbody tr[data-key]", ROW_KEYS)
        assert sorted(shown_rules) == sorted(r["rule_id"] for r in rules)

        await tab.page.click(f"[data-testid=ack-{alert['alert_id']}]")
        await tab.page.wait_for_selector(f"[data-testid=acked-{alert['alert_id']}]")
        acked = await console.api(f"/alerts/{alert['alert_id']}", role="ops")
        assert acked["acknowledged_by"] == "console-dev" and acked["acknowledged_at"]

        # Silence it until a time the user picks in their own time zone (the browser's: Europe/Berlin).
        until = (datetime.now(BERLIN) + timedelta(hours=2)).replace(second=0, microsecond=0)
        await tab.page.click(f"[data-testid=silence-{alert['alert_id']}]")
        await tab.page.fill("[data-testid=silence-ends]", until.strftime("%Y-%m-%dT%H:%M"))
        await tab.page.fill("[data-testid=silence-form] input[name=comment]", "BNG upgrade ordered")
        await tab.page.click("[data-testid=silence-submit]")
        await tab.page.wait_for_selector(f"[data-testid=silenced-{alert['alert_id']}]")
        [silence] = await console.api("/alerts/silences", role="ops")
        assert (silence["rule_id"], silence["subject"], silence["comment"]) == (
            alert["rule_id"],
            alert["subject"],
            "BNG upgrade ordered",
        )
        assert datetime.fromisoformat(silence["ends_at"]) == until
        assert int(await tab.value("alerts-silences")) == 1
        await tab.shoot("alerts")

        # Ending the silence from the list: the API has none in force any more.
        await tab.page.click(f"[data-testid=end-silence-{silence['silence_id']}]")
        await tab.page.wait_for_selector("[data-testid=silences-table] td.empty")
        assert await console.api("/alerts/silences", role="ops") == []
        assert tab.errors == []
    # Collections (no alerts role) does not see the page, and the API refuses it.
    async for tab in sign_in(console, console.tenant, "collections"):
        assert "alerts" not in await tab.nav() and "ops" not in await tab.nav()
    token = await console.token(console.tenant, "collections")
    answer = await console.http.get("/alerts", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


ROW_KEYS = "rows => rows.map(r => r.dataset.key)"


async def dead_letter_a_record(console: Console, topic: str) -> str:
    """A record the reporting service's consumer rejects (a subscription start whose payload lacks every field): it
    is dead-lettered at once, with the demo tenant's id. Reporting is the topic's only consumer, so there is one
    dead letter per delivery."""
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "test_console",
        "type": "bss.billing.subscription.started",
        "time": datetime.now(UTC).isoformat(),
        "subject": "broken-subscription",
        "schema_version": 1,
        "tenant_id": console.tenant,
        "correlation_id": event_id,
        "data": {},
    }
    producer = AIOKafkaProducer(bootstrap_servers=console.stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            json.dumps(envelope).encode(),
            key=b"broken-subscription",
            headers=[("ce_type", b"bss.billing.subscription.started"), ("tenant_id", console.tenant.encode())],
        )
    finally:
        await producer.stop()
    return event_id


async def test_ops_page_numbers_equal_the_api_and_a_dead_letter_is_redriven(console: Console) -> None:
    topic = "bss.billing.subscription"
    event_id = await dead_letter_a_record(console, topic)

    async def dead_lettered() -> bool:
        return any(d["event_id"] == event_id for d in await console.api(f"/ops/dead-letters/{topic}", role="ops"))

    assert await eventually(dead_lettered), "the broken record was not dead-lettered"
    async for tab in sign_in(console, console.tenant, "ops"):
        # Lag moves while the services consume: compare the page with two equal answers of the API around it.
        for attempt in range(4):
            before = await console.api("/ops/lag", role="ops")
            if attempt == 0:
                await tab.open("ops", READY["ops"])
            else:
                await tab.page.click("[data-testid=ops-refresh]")
                await tab.page.wait_for_function("() => !document.querySelector('[data-testid=loading]')")
            shown_lag = await tab.value("ops-lag")
            shown_groups = await tab.page.eval_on_selector_all(
                "[data-testid=groups-table] tbody tr[data-key]",
                "rows => rows.map(r => [r.dataset.key, r.querySelector('[data-col=lag] span').dataset.value])",
            )
            if before == await console.api("/ops/lag", role="ops"):
                break
        assert int(shown_lag) == before["total_lag"]
        assert shown_groups == [[g["group"], str(g["lag"])] for g in before["groups"]]
        assert {g["group"] for g in before["groups"]} >= {"customers", "billing", "dunning", "reporting"}
        dlq = await console.api("/ops/dead-letters", role="ops")
        shown_dlq = await tab.page.eval_on_selector_all(
            "[data-testid=dlq-table] tbody tr[data-key]",
            "rows => rows.map(r => [r.dataset.key, r.querySelector('[data-col=count] span').dataset.value])",
        )
        assert shown_dlq[:20] == [[t["topic"], str(t["count"])] for t in dlq["topics"]][:20]
        assert int(await tab.value("ops-dlq")) == dlq["total"] >= 1
        outbox = await console.api("/ops/outbox", role="ops")
        assert int(await tab.value("ops-outbox")) == sum(o.get("backlog", 0) for o in outbox)
        assert all(o["configured"] and "error" not in o for o in outbox), outbox  # reporting's is in `readmodel`
        health = await console.api("/ops/health", role="ops")
        assert [h["service"] for h in health] == [
            "customers",
            "billing",
            "dunning",
            "reporting",
            "radius-ingest",
            "support",
        ]
        assert all(h["ready"] for h in health)
        assert await tab.value("ops-ready") == str(len(health))

        # Trace an invoice of the demo data: the page lists the API's tree, depth first (causation order).
        [invoice] = (await console.api("/billing/invoices", limit=1))["items"]
        flow = await console.api(f"/ops/trace/{invoice['id']}", role="ops")

        def depth_first(nodes: list[dict[str, Any]]) -> list[str]:
            return [i for n in nodes for i in [n["id"], *depth_first(n["caused"])]]

        await tab.page.fill("[data-testid=trace-id]", invoice["id"])
        await tab.page.click("[data-testid=trace-run]")
        await tab.page.wait_for_selector("[data-testid=trace-tree] li")
        shown_trace = await tab.page.eval_on_selector_all(
            "[data-testid=trace-tree] li", "rows => rows.map(r => r.dataset.id)"
        )
        assert shown_trace == depth_first(flow) and len(shown_trace) >= 2

        # Redrive, dry run first: nothing is republished until confirmed.
        await tab.page.click(f"[data-testid='dlq-open-{topic}']")
        await tab.page.wait_for_selector("[data-testid=letters-table] tbody tr[data-key]")
        letters = await console.api(f"/ops/dead-letters/{topic}", role="ops")
        shown_refs = await tab.page.eval_on_selector_all("[data-testid=letters-table] tbody tr[data-key]", ROW_KEYS)
        assert sorted(shown_refs) == sorted(d["ref"] for d in letters)
        await tab.page.click("[data-testid=redrive-dry-run]")
        await tab.page.wait_for_selector("[data-testid=redrive-plan] li")
        assert "would redrive" in await tab.text("[data-testid=redrive-plan]")
        assert all(not d["redriven"] for d in await console.api(f"/ops/dead-letters/{topic}", role="ops"))
        await tab.shoot("ops")
        await tab.page.click("[data-testid=redrive-confirm]")
        await tab.page.wait_for_selector("[data-testid=redrive-done]")
        assert f"{topic}:" in await tab.text("[data-testid=redrive-done]")
        assert tab.errors == []
    after = await console.api(f"/ops/dead-letters/{topic}", role="ops")
    redriven = [d for d in after if d["event_id"] == event_id and d["redriven"]]
    assert redriven and "console-dev" in redriven[0]["redriven"][0]["by"]

    # Republished unchanged, the record is still broken: the consumer dead-letters it a second time.
    async def again() -> bool:
        rows = await console.api(f"/ops/dead-letters/{topic}", role="ops")
        return sum(1 for d in rows if d["event_id"] == event_id) == 2

    assert await eventually(again), "the redriven record did not come back to its topic's consumer"
    # Only ops and admin reach the ops API.
    for role in ("support", "finance"):
        token = await console.token(console.tenant, role)
        answer = await console.http.get("/ops/lag", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403, (role, answer.status_code)
    assert (await console.http.get("/ops/outbox")).status_code == 401


async def test_oidc_sign_in_round_trip(console: Console) -> None:
    """Authorization code + PKCE against the provider the services verify tokens of: the browser goes to its login
    form and back, the console exchanges the code and calls the APIs with the provider's RS256 token."""
    provider = console.oidc
    # Two roles (and one the console does not know): the pages of both show.
    provider.users["fiona"] = OidcUser("fiona-pass-1", console.tenant, ("finance", "support", "auditor"))
    context = await console.browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The console's errors (not the provider's login page's: its missing favicon is the provider's business).
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and page.url.startswith(console.stack.gateway) else None,
    )
    try:
        await page.goto(f"{console.stack.gateway}/console/")
        await page.wait_for_selector("[data-testid=oidc-signin]")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "signin.png"))
        await page.click("[data-testid=oidc-signin]")
        await page.wait_for_url(f"{provider.url}/authorize?*")
        query = dict(parse_qsl(urlsplit(page.url).query))
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["client_id"] == OIDC_CLIENT and query["redirect_uri"] == f"{console.stack.gateway}/console/"
        await page.fill("input[name=username]", "fiona")
        await page.fill("input[name=password]", "wrong")
        await page.click("button[type=submit]")
        await page.wait_for_selector("text=Wrong username or password")
        await page.fill("input[name=username]", "fiona")
        await page.fill("input[name=password]", "fiona-pass-1")
        await page.click("button[type=submit]")
        await page.wait_for_selector("nav[data-testid=nav]")
        assert page.url == f"{console.stack.gateway}/console/"  # the code is not left in the address
        assert provider.token_requests == {"issued": 1}
        tab = Tab(page, errors)
        assert await tab.nav() == ["overview", "receivables", "collections", "network", "reports", "sla", "alerts"]
        who = await tab.text("[data-testid=who]")
        assert "fiona" in who and "finance, support" in who and "OIDC" in who, who
        session = json.loads(await page.evaluate("sessionStorage.getItem('ispbss.console.session')"))
        token = session["token"]
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == provider.url
        # The pages work with the provider's token: the MRR card equals the API's answer.
        await tab.open("overview", READY["overview"])
        mrr = await console.api("/analytics/revenue/mrr")
        assert int(await tab.value("kpi-mrr")) == mrr["currencies"][0]["mrr_minor"]
        answer = await console.http.get("/analytics/revenue/mrr", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json() == mrr
        assert errors == []
    finally:
        await context.close()
    # PKCE: a code is worth nothing without its verifier, and is used once.
    async with httpx.AsyncClient(base_url=provider.url) as idp:
        params = {
            "response_type": "code", "client_id": OIDC_CLIENT, "redirect_uri": f"{console.stack.gateway}/console/",
            "state": "s", "code_challenge": "x" * 43, "code_challenge_method": "S256",
        }  # fmt: skip
        login = await idp.post("/authorize", data=params | {"username": "fiona", "password": "fiona-pass-1"})
        assert login.status_code == 302
        code = dict(parse_qsl(urlsplit(login.headers["location"]).query))["code"]
        exchange = {"grant_type": "authorization_code", "code": code, "client_id": OIDC_CLIENT}
        refused = await idp.post(
            "/token", data=exchange | {"redirect_uri": params["redirect_uri"], "code_verifier": "y" * 43}
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

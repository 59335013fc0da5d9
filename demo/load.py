"""`python -m demo.load`: load a demo ISP into the running system through its public APIs and real RADIUS
packets, wait until the reports show it, and write the banner `make up` prints.

Idempotent per state directory: a finished load is not repeated (the banner is rewritten with a fresh
token); a load that was interrupted is not resumed but started again under a new tenant (`demo-isp-2`, ...),
so no half-loaded data is mixed in. `--fresh` loads a new tenant even after a finished load.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from bss_runtime.auth import JwtConfig, issue_token
from demo import alerts, banner, bi, collections, money, onboarding, people, revenue, sla, support, traffic
from demo.api import Api, ApiError
from demo.config import Config, State
from demo.dataset import Generator
from demo.radius import NoAnswer

TOKEN_TTL = timedelta(hours=24)


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0

    def __call__(self, title: str) -> None:
        self.step += 1
        print(f"[{time.monotonic() - self.started:6.1f} s] {self.step}. {title}", flush=True)


async def wait_for_gateway(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the gateway at {url} does not answer; run deploy/local/services.sh start")
            await asyncio.sleep(0.5)


def token_for(config: Config, tenant: str) -> tuple[str, datetime]:
    expires = datetime.now(UTC) + TOKEN_TTL
    signer = JwtConfig(config.jwt_secret, issuer=config.jwt_issuer, audience=config.jwt_audience)
    token = issue_token(signer, subject="demo-admin", tenant_id=tenant, roles=["admin"],
                        ttl=TOKEN_TTL)  # fmt: skip
    return token, expires


async def tenant_has_data(config: Config, tenant: str) -> bool:
    api = Api(config.gateway_url, token_for(config, tenant)[0])
    try:
        return bool((await api.get("/customers", limit=1))["total"])
    finally:
        await api.close()


async def load(config: Config, state: State) -> tuple[dict[str, object], str | None]:
    """Everything the demo ISP is made of; returns the summary and one username to show sessions of."""
    progress = Progress()
    now = datetime.now(UTC)
    today = now.date()
    token, _ = token_for(config, state.tenant_id)
    api = Api(config.gateway_url, token, concurrency=config.concurrency)
    try:
        customers = Generator(config.seed, now).customers(config.customers)
        lines = [s for c in customers for s in c.subscribers]
        progress(f"tenant {state.tenant_id}: {len(customers)} customers with {len(lines)} lines in 4 countries")

        progress("catalogue: partners, plans, dunning campaigns, NAS clients")
        partner_ids = await people.create_partners(api)
        plan_ids = await money.create_plans(api)
        await collections.create_campaigns(api)
        fleet = traffic.nas_fleet(state.generation)
        await traffic.register_nas(api, fleet)
        print(f"    dunning campaigns: {len(collections.CAMPAIGNS)}; NAS clients: {len(fleet)}")

        progress("customers: sign-up, payments over the months, lines, contracts, activation (all services)")
        closer = money.CycleCloser(api)
        payments = await onboarding.onboard(api, customers, partner_ids, plan_ids, now, config.seed, closer)

        progress("support: customers call in; the desk answers, resolves, one fix does not hold (support)")
        await support.configure(api)
        tickets = await support.open_calls(api, support.draw_calls(customers, config.seed))
        desk = await support.work(api, tickets)
        urgent_waiting = sum(1 for t in tickets if t["priority"] == "urgent")
        print(f"    calls: {len(tickets)}; answered {desk['answered']}, resolved {desk['resolved']}, reopened "
              f"{desk['reopened']}; {urgent_waiting} urgent calls left waiting (their SLA will breach)")  # fmt: skip

        progress("billing the past cycles: one invoice per line and month, settled from what was paid (billing)")
        invoice_count = await closer.wait_for(money.expected_invoices(customers))

        progress("revenue moves: upgrades, downgrades, cancellations, churn and win-backs (billing)")
        moves = await revenue.apply_moves(api, revenue.draw_moves(customers, config.seed), plan_ids, today)
        print("    " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in moves.items()), flush=True)

        progress("RADIUS accounting of the last days: Start, Interim-Update, Stop over UDP (radius-ingest)")
        sessions = traffic.sessions_for(customers, now, config.seed)
        sent = await traffic.send_sessions(sessions, fleet, (config.radius_host, config.radius_port))

        progress("SLA contracts of business lines and the outages monitoring reported (billing)")
        sla_counts = await sla.create_slas(api, customers, now, config.seed)
        await api.post("/billing/sla/evaluate")  # billing's scheduler would, within a minute
        resolved = await sla.resolve_past_breaches(api, now)
        print(f"    outages reported: {sla_counts['outages']}; breaches of past months resolved: {resolved}")
        breaches_now = len(await api.get_all("/billing/sla/breaches"))
        outage_tickets = await support.outage_tickets(api, breaches_now)
        print(f"    fault tickets the outage policy opened (support): {outage_tickets}")

        progress("overdue invoices go to collections; dunning reminds and suspends (billing -> dunning -> customers)")
        await api.post("/billing/invoices/overdue-scan")  # billing's scheduler would, within a minute
        open_invoices = await money.all_pages(api, "/billing/invoices", status="open")
        overdue = sum(1 for i in open_invoices if i["due_date"] < str(today))
        print(f"    open invoices: {len(open_invoices)}, of which overdue: {overdue}")
        dunning = await collections.wait_for_dunning(api, overdue)

        suspended_lines = await _all_subscribers(api, "suspended")
        payers = await collections.some_pay_up(
            api, open_invoices, {str(s["customer_id"]) for s in suspended_lines}, config.seed
        )
        reinstating = sum(1 for s in suspended_lines if s["customer_id"] in payers)
        left = await collections.wait_for_reinstatements(api, len(suspended_lines) - reinstating)
        print(f"    {len(payers)} customers paid up after the suspension: {len(suspended_lines) - left} lines "
              f"reinstated, {left} still suspended")  # fmt: skip

        progress("the NAS disconnects the lines still suspended (RADIUS Stop, Admin-Reset)")
        suspended = {str(s["username"]) for s in await _all_subscribers(api, "suspended")}
        stopped = await traffic.disconnect(sessions, suspended, fleet, (config.radius_host, config.radius_port),
                                           datetime.now(UTC))  # fmt: skip
        print(f"    sessions stopped: {stopped}")

        progress("waiting for the reports (reporting builds them from the events)")
        breach_count = len(await api.get_all("/billing/sla/breaches"))
        await banner.wait_for_reports(
            api,
            {"sessions": len(sessions), "blocked_subscribers": len(suspended), "sla_breaches": breach_count},
        )
        progress("BI: report templates, their schedules (emailed), and one report run now (reporting)")
        bi_setup = await bi.set_up(api)
        print(f"    templates: {len(bi_setup['templates'])}; execution {bi_setup['execution_id']} completed")
        progress("alerts: BNG capacities, default rules (seed 003), a capacity rule; one BNG's alert fires (reporting)")
        alert_setup = await alerts.set_up(api)
        firing = alert_setup.get("firing", [])
        print(f"    NAS capacities: {alert_setup.get('capacities', 0)}; rules: {alert_setup.get('rules', 0)}; "
              f"firing: {len(firing)}")  # fmt: skip
        breached_tickets = await support.wait_for_breaches(api, urgent_waiting)
        print(f"    support tickets with a breached SLA: {breached_tickets}")
        summary: dict[str, object] = {
            "customers": len(customers), "subscribers": len(lines), "partners": len(partner_ids),
            "invoices": invoice_count, "payments": payments,
            "plan_changes": moves["upgrades"] + moves["downgrades_now"] + moves["downgrades_at_cycle_end"],
            "churned_subscriptions": moves["churned"], "win_backs": moves["win_backs"], "overdue_invoices": overdue,
            "dunning_executions": dunning["executions"], "suspended_subscribers": len(suspended),
            "sla_contracts": sla_counts["instances"], "outages": sla_counts["outages"], "sla_breaches": breach_count,
            "sessions": len(sessions), "radius_packets": sent["packets"] + stopped,
            "report_templates": len(bi_setup["templates"]), "bi_execution": bi_setup["execution_id"],
            "support_tickets": len(tickets) + outage_tickets, "tickets_from_outages": outage_tickets,
            "tickets_breached": breached_tickets, "tickets_resolved": desk["resolved"],
            "tickets_reopened": desk["reopened"],
            "alerts_firing": len(firing), "firing_alert": firing[0]["summary"] if firing else None,
        }  # fmt: skip
        sample = next((s.identity.username for s in sessions if len(s.reports) > 2), None)
        print(f"    done in {time.monotonic() - progress.started:.0f} s, {api.requests} HTTP requests")
        return summary, sample
    finally:
        await api.close()


async def _all_subscribers(api: Api, status: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    while True:
        page = await api.get("/subscribers", status=status, limit=200, offset=len(items))
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="load a new demo tenant even if one is loaded")
    args = parser.parse_args(argv)
    config = Config.from_env()
    await wait_for_gateway(config.gateway_url)
    state = State.read(config.state_file)

    loaded = state.complete and await tenant_has_data(config, state.tenant_id)
    if loaded and not args.fresh:
        print(f"demo: tenant {state.tenant_id!r} is loaded already (python -m demo.load --fresh loads another)")
        summary, sample = state.summary, state.summary.get("sample_username")
    else:
        state = State(generation=state.generation + 1)
        while await tenant_has_data(config, state.tenant_id):  # left by an interrupted load: take the next
            state.generation += 1
        state.write(config.state_file)  # incomplete until the end: an interruption is noticed next time
        try:
            summary, sample = await load(config, state)
        except (ApiError, NoAnswer, bi.ExecutionFailed, httpx.HTTPError) as exc:
            print(f"\ndemo: the load stopped: {exc}\n      the services' logs are in {config.state_dir}/*.log; "
                  f"`make up` again loads a new tenant", file=sys.stderr)  # fmt: skip
            return 1
        state.complete, state.summary = True, dict(summary, sample_username=sample)
        state.write(config.state_file)

    token, expires = token_for(config, state.tenant_id)
    api = Api(config.gateway_url, token)
    try:
        failures = await banner.check_reports(api)
    finally:
        await api.close()
    shown = {k: v for k, v in summary.items() if k not in ("sample_username", "bi_execution", "firing_alert")}
    execution = summary.get("bi_execution")
    firing_alert = summary.get("firing_alert")
    text = banner.render(config.gateway_url, state.tenant_id, token, expires, shown,
                         str(sample) if sample else None, str(config.state_dir / "mail"),
                         str(execution) if execution else None,
                         str(firing_alert) if firing_alert else None)  # fmt: skip
    config.banner_file.write_text(text)
    if failures:
        print("demo: some reports do not answer yet:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

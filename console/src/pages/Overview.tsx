import { useMemo, useState } from "react";
import { get, type Session } from "../api";
import { hasRole } from "../roles";
import { Card, Chart, Status, Tabs } from "../components";
import { useLoad } from "../hooks";
import { major, money, num } from "../format";

interface Mrr {
  as_of: string;
  currencies: { currency: string; mrr_minor: number; paying_customers: number; arpu_minor: number }[];
}

interface Kpi {
  currency: string;
  ending_mrr_minor: number;
  arpu_minor: number;
  logo_churn_rate: string | null;
  net_revenue_retention: string | null;
  dso_days: string | null;
  receivables_end_minor: number;
  mrr_growth: string | null;
}

interface Kpis {
  month: string;
  currencies: Kpi[];
}

interface MovementRow {
  currency: string;
  starting_mrr_minor: number;
  new_mrr_minor: number;
  expansion_mrr_minor: number;
  contraction_mrr_minor: number;
  churn_mrr_minor: number;
  reactivation_mrr_minor: number;
  ending_mrr_minor: number;
}

interface Movements {
  periods: { start: string; currencies: MovementRow[] }[];
}

interface Online {
  online: number;
}

const MOVES: [keyof MovementRow, string][] = [
  ["new_mrr_minor", "New"],
  ["expansion_mrr_minor", "Expansion"],
  ["reactivation_mrr_minor", "Reactivation"],
  ["contraction_mrr_minor", "Contraction"],
  ["churn_mrr_minor", "Churn"],
];

/** A ratio as the API gives it (a decimal string, 0.987403) in percent. */
function ratio(value: string | null | undefined): string {
  return value === null || value === undefined ? "—" : `${num(Number(value) * 100, 2)} %`;
}

export function Overview({ session }: { session: Session }) {
  const mrr = useLoad(() => get<Mrr>(session, "/analytics/revenue/mrr"), [session.token]);
  const kpis = useLoad(() => get<Kpis>(session, "/analytics/revenue/kpis"), [session.token]);
  const movements = useLoad(
    () => get<Movements>(session, "/analytics/revenue/movements", { interval: "month" }),
    [session.token],
  );
  // Online now is the network's figure (ops, support): shown to those who may read it.
  const seesNetwork = hasRole(session.roles, "ops", "support");
  const online = useLoad(
    () => (seesNetwork ? get<Online>(session, "/analytics/network/online") : Promise.resolve(null)),
    [session.token],
  );
  // Firing alerts: the alerts API is finance's and ops' (both see this page's admin and finance).
  const firing = useLoad(
    () => get<unknown[]>(session, "/alerts", { state: "firing", limit: 1000 }).then((rows) => rows.length),
    [session.token],
  );
  const currencies = (mrr.data?.currencies ?? []).map((c) => c.currency);
  const [picked, setPicked] = useState<string | null>(null);
  const currency = picked && currencies.includes(picked) ? picked : (currencies[0] ?? "");
  const m = mrr.data?.currencies.find((c) => c.currency === currency);
  const k = kpis.data?.currencies.find((c) => c.currency === currency);
  const rows = useMemo(
    () =>
      (movements.data?.periods ?? []).map((p) => ({
        month: p.start.slice(0, 7),
        row: p.currencies.find((c) => c.currency === currency),
      })),
    [movements.data, currency],
  );
  const trend = useMemo(
    () => ({
      grid: { left: 60, right: 20, top: 30, bottom: 30, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => r.month) },
      yAxis: { type: "value", name: currency },
      series: [
        { name: "MRR", type: "line", data: rows.map((r) => (r.row ? major(r.row.ending_mrr_minor, currency) : 0)) },
      ],
    }),
    [rows, currency],
  );
  const waterfall = useMemo(
    () => ({
      legend: { top: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 30, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => r.month) },
      yAxis: { type: "value", name: currency },
      series: MOVES.map(([key, name]) => ({
        name,
        type: "bar",
        stack: "moves",
        data: rows.map((r) => (r.row ? major(r.row[key] as number, currency) : 0)),
      })),
    }),
    [rows, currency],
  );
  const thisMonth = rows.length ? rows[rows.length - 1].row : undefined;
  const net = thisMonth ? thisMonth.ending_mrr_minor - thisMonth.starting_mrr_minor : undefined;
  return (
    <section>
      <h1>Overview</h1>
      <Tabs tabs={currencies} current={currency} onChange={setPicked} testId="currency-tabs" />
      <Status loading={mrr.loading || kpis.loading} error={mrr.error ?? kpis.error ?? movements.error ?? firing.error} />
      <div className="cards">
        <Card title="MRR" testId="kpi-mrr" raw={m?.mrr_minor} value={money(m?.mrr_minor, currency)} hint={`${num(m?.paying_customers)} paying customers`} />
        <Card title="Net movement this month" testId="kpi-movement" raw={net} value={money(net, currency)} />
        <Card title="ARPU" testId="kpi-arpu" raw={m?.arpu_minor} value={money(m?.arpu_minor, currency)} />
        <Card title="Logo churn (month)" testId="kpi-churn" raw={k?.logo_churn_rate ?? ""} value={ratio(k?.logo_churn_rate)} />
        <Card title="NRR (month)" testId="kpi-nrr" raw={k?.net_revenue_retention ?? ""} value={ratio(k?.net_revenue_retention)} />
        <Card title="DSO" testId="kpi-dso" raw={k?.dso_days ?? ""} value={k?.dso_days ? `${num(Number(k.dso_days), 1)} days` : "—"} />
        <Card title="Receivables" testId="kpi-receivables" raw={k?.receivables_end_minor} value={money(k?.receivables_end_minor, currency)} />
        <Card
          title="Firing alerts"
          testId="kpi-alerts"
          raw={firing.data ?? undefined}
          value={<a href="#/alerts">{num(firing.data)}</a>}
        />
        {seesNetwork ? (
          <Card title="Online now" testId="kpi-online" raw={online.data?.online} value={num(online.data?.online)} />
        ) : null}
      </div>
      <div className="grid2">
        <div className="panel">
          <h2>MRR per month ({currency})</h2>
          <Chart option={trend} testId="mrr-chart" />
        </div>
        <div className="panel">
          <h2>MRR movements per month ({currency})</h2>
          <Chart option={waterfall} testId="movements-chart" />
        </div>
      </div>
    </section>
  );
}

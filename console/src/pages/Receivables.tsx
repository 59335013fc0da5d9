import { useMemo, useState } from "react";
import { get, type Session } from "../api";
import { Chart, DataTable, Status, Tabs } from "../components";
import { useLoad } from "../hooks";
import { major, money, todayUtc } from "../format";

interface AgingRow {
  partner_id?: string | null;
  region?: string | null;
  currency: string;
  invoice_count: number;
  total_outstanding_minor: number;
  buckets_minor: Record<string, number>;
}

interface Invoice {
  id: string;
  number: string | null;
  customer_id: string;
  partner_id: string | null;
  billing_country: string | null;
  currency: string;
  due_date: string | null;
  issue_date: string | null;
  balance_minor: number;
}

const BUCKETS = ["current", "1_30_days", "31_60_days", "61_90_days", "over_90_days"];
const BUCKET_TITLES: Record<string, string> = {
  current: "Current",
  "1_30_days": "1–30 days",
  "31_60_days": "31–60 days",
  "61_90_days": "61–90 days",
  over_90_days: "Over 90 days",
};

function AgingChart(props: {
  session: Session;
  group: "partner" | "region";
  asOf: string;
  currency: string;
  rows: AgingRow[];
  names: Record<string, string>;
  onBar: (group: string, bucket: string) => void;
}) {
  const rows = props.rows.filter((r) => r.currency === props.currency);
  const key = (r: AgingRow) => (props.group === "partner" ? r.partner_id : r.region) ?? "(none)";
  const label = (r: AgingRow) => props.names[key(r)] ?? key(r);
  const option = useMemo(
    () => ({
      legend: { top: 0 },
      grid: { left: 70, right: 20, top: 40, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: rows.map(label), axisLabel: { rotate: rows.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", name: props.currency },
      series: BUCKETS.map((b) => ({
        name: BUCKET_TITLES[b],
        type: "bar",
        stack: "aging",
        data: rows.map((r) => major(r.buckets_minor[b] ?? 0, r.currency)),
      })),
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [props.rows, props.currency, props.group, props.names],
  );
  return (
    <>
      <Chart
        option={option}
        testId={`aging-${props.group}-chart`}
        onBarClick={(series, category) => {
          const bucket = BUCKETS.find((b) => BUCKET_TITLES[b] === series) ?? "";
          const row = rows.find((r) => label(r) === category);
          props.onBar(row ? key(row) : category, bucket);
        }}
      />
      <div className="table-wrap">
        <table data-testid={`aging-${props.group}-table`}>
          <thead>
            <tr>
              <th>{props.group}</th>
              {BUCKETS.map((b) => (
                <th key={b} className="num">
                  {BUCKET_TITLES[b]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={key(r)}>
                <td>{label(r)}</td>
                {BUCKETS.map((b) => (
                  <td key={b} className="num">
                    <button
                      className="link"
                      data-testid={`aging-${props.group}-cell`}
                      data-key={key(r)}
                      data-bucket={b}
                      data-value={r.buckets_minor[b] ?? 0}
                      onClick={() => props.onBar(key(r), b)}
                    >
                      {money(r.buckets_minor[b] ?? 0, r.currency)}
                    </button>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function Receivables({ session }: { session: Session }) {
  const [asOf, setAsOf] = useState(todayUtc());
  const [currency, setCurrency] = useState<string | null>(null);
  const [selected, setSelected] = useState<{ group: "partner" | "region"; key: string; bucket: string } | null>(null);
  const partners = useLoad(
    () => get<AgingRow[]>(session, "/billing/reports/aging/by-partner", { as_of: asOf }),
    [session.token, asOf],
  );
  const regions = useLoad(
    () => get<AgingRow[]>(session, "/billing/reports/aging/by-region", { as_of: asOf }),
    [session.token, asOf],
  );
  // Partners by name (customers' /partners), for the chart's labels.
  const partnerNames = useLoad(async () => {
    const list = await get<{ partner_id: string; name: string }[]>(session, "/partners", { limit: 200 });
    return Object.fromEntries(list.map((p) => [p.partner_id, p.name])) as Record<string, string>;
  }, [session.token]);
  const currencies = useMemo(
    () => [...new Set([...(partners.data ?? []), ...(regions.data ?? [])].map((r) => r.currency))].sort(),
    [partners.data, regions.data],
  );
  const shownCurrency = currency && currencies.includes(currency) ? currency : (currencies[0] ?? "");
  const totals = (partners.data ?? []).filter((r) => r.currency === shownCurrency);
  const total = totals.reduce((s, r) => s + r.total_outstanding_minor, 0);
  const count = totals.reduce((s, r) => s + r.invoice_count, 0);
  return (
    <section>
      <h1>Receivables</h1>
      <div className="toolbar">
        <label>
          As of (UTC){" "}
          <input
            type="date"
            data-testid="as-of"
            value={asOf}
            max={todayUtc()}
            onChange={(e) => e.target.value && setAsOf(e.target.value)}
          />
        </label>
        <Tabs tabs={currencies} current={shownCurrency} onChange={setCurrency} testId="currency-tabs" />
      </div>
      <Status loading={partners.loading || regions.loading} error={partners.error ?? regions.error} />
      {currencies.length === 0 && !partners.loading ? <p className="empty">No open receivables as of {asOf}.</p> : null}
      <p data-testid="aging-total" data-value={total} data-currency={shownCurrency}>
        Outstanding: <strong>{money(total, shownCurrency)}</strong> in {count} open invoices
      </p>
      <div className="grid2">
        <div className="panel">
          <h2>By partner</h2>
          <AgingChart
            session={session}
            group="partner"
            asOf={asOf}
            currency={shownCurrency}
            rows={partners.data ?? []}
            names={partnerNames.data ?? {}}
            onBar={(key, bucket) => setSelected({ group: "partner", key, bucket })}
          />
        </div>
        <div className="panel">
          <h2>By region</h2>
          <AgingChart
            session={session}
            group="region"
            asOf={asOf}
            currency={shownCurrency}
            rows={regions.data ?? []}
            names={{}}
            onBar={(key, bucket) => setSelected({ group: "region", key, bucket })}
          />
        </div>
      </div>
      {selected ? <BarInvoices session={session} partnerNames={partnerNames.data ?? {}} selection={selected} currency={shownCurrency} asOf={asOf} /> : null}
    </section>
  );
}

/** The aging bucket of an invoice due on `due` (a date), as of `asOf`: days past due. */
function bucketOf(due: string | null, asOf: string): string {
  if (!due) return "current";
  const days = Math.round((Date.parse(asOf) - Date.parse(due)) / 86_400_000);
  if (days <= 0) return "current";
  if (days <= 30) return "1_30_days";
  if (days <= 60) return "31_60_days";
  if (days <= 90) return "61_90_days";
  return "over_90_days";
}

async function openInvoices(session: Session, currency: string): Promise<Invoice[]> {
  const items: Invoice[] = [];
  for (let offset = 0; offset < 5000; offset += 200) {
    const page = await get<{ items: Invoice[]; total: number }>(session, "/billing/invoices", {
      status: "open",
      currency,
      limit: 200,
      offset,
    });
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= page.total) break;
  }
  return items;
}

function BarInvoices(props: {
  session: Session;
  partnerNames: Record<string, string>;
  selection: { group: "partner" | "region"; key: string; bucket: string };
  currency: string;
  asOf: string;
}) {
  const { group, key, bucket } = props.selection;
  const partnerNames = props.partnerNames;
  const invoices = useLoad(() => openInvoices(props.session, props.currency), [props.session.token, props.currency]);
  const rows = (invoices.data ?? []).filter((i) => {
    const owner = (group === "partner" ? i.partner_id : i.billing_country) ?? "(none)";
    return owner === key && bucketOf(i.due_date, props.asOf) === bucket;
  });
  return (
    <div className="panel" data-testid="bar-invoices">
      <h2>
        Open invoices of {group} {group === "partner" ? (partnerNames[key] ?? key) : key}, {BUCKET_TITLES[bucket] ?? bucket} past due as of {props.asOf}
      </h2>
      <Status loading={invoices.loading} error={invoices.error} />
      {invoices.data ? (
        <p
          data-testid="bar-invoices-total"
          data-value={rows.reduce((sum, r) => sum + r.balance_minor, 0)}
          data-count={rows.length}
        >
          {rows.length} invoices, {money(rows.reduce((sum, r) => sum + r.balance_minor, 0), props.currency)}
        </p>
      ) : null}
      <DataTable
        testId="bar-invoices-table"
        rows={rows}
        rowKey={(r) => r.id}
        columns={[
          { key: "number", title: "Invoice", render: (r) => r.number ?? r.id.slice(0, 8) },
          { key: "customer_id", title: "Customer", render: (r) => r.customer_id.slice(0, 8) },
          { key: "issue_date", title: "Issued" },
          { key: "due_date", title: "Due" },
          {
            key: "balance_minor",
            title: "Balance",
            numeric: true,
            render: (r) => <span data-value={r.balance_minor}>{money(r.balance_minor, r.currency)}</span>,
          },
        ]}
      />
    </div>
  );
}

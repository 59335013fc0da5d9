import { useState } from "react";
import { get, post, type Session } from "../api";
import { hasRole } from "../roles";
import { Card, DataTable, Status } from "../components";
import { useLoad } from "../hooks";
import { dateTime, money, num } from "../format";

interface Breach {
  breach_id: string;
  breach_type: string | null;
  severity: string | null;
  detected_at: string;
  resolved: boolean;
  resolution: string | null;
  target_value: number | null;
  actual_value: number | null;
  currency: string | null;
  credit_amount_minor: number;
  customer_name: string | null;
  service_name: string | null;
}

interface Report {
  summary: {
    total_breaches: number;
    resolved_breaches: number;
    unresolved_breaches: number;
    total_credits_issued: { currency: string; amount_minor: number }[];
  };
  breaches: Breach[];
}

export function Sla({ session }: { session: Session }) {
  const report = useLoad(() => get<Report>(session, "/billing/reports/sla-breaches", { limit: 500 }), [session.token]);
  const [message, setMessage] = useState<string | null>(null);
  const resolve = async (b: Breach) => {
    const resolution = window.prompt(`Resolve the breach of ${b.service_name ?? b.breach_id}: how was it resolved?`);
    if (!resolution) return;
    try {
      await post(session, `/billing/sla/breaches/${b.breach_id}/resolve`, { resolution });
      setMessage("Breach resolved; the report shows it once it has caught up.");
      // The report is a read model built from billing's events: ask again until it shows the resolution.
      for (let i = 0; i < 30; i += 1) {
        const now = await get<Report>(session, "/billing/reports/sla-breaches", { limit: 500 });
        if (now.breaches.some((x) => x.breach_id === b.breach_id && x.resolved)) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      report.reload();
    } catch (err) {
      setMessage(`Resolving failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const s = report.data?.summary;
  return (
    <section>
      <h1>SLA</h1>
      <Status loading={report.loading} error={report.error} />
      {message ? <div className="notice">{message}</div> : null}
      <div className="cards">
        <Card title="Breaches" testId="sla-total" raw={s?.total_breaches} value={num(s?.total_breaches)} />
        <Card title="Unresolved" testId="sla-unresolved" raw={s?.unresolved_breaches} value={num(s?.unresolved_breaches)} />
        {(s?.total_credits_issued ?? []).map((c) => (
          <Card
            key={c.currency}
            title={`Credits issued (${c.currency})`}
            testId={`sla-credits-${c.currency}`}
            raw={c.amount_minor}
            value={money(c.amount_minor, c.currency)}
          />
        ))}
      </div>
      <DataTable
        testId="sla-table"
        rows={report.data?.breaches ?? []}
        rowKey={(r) => r.breach_id}
        columns={[
          { key: "detected_at", title: "Detected", render: (r) => dateTime(r.detected_at) },
          { key: "customer_name", title: "Customer" },
          { key: "service_name", title: "Service" },
          { key: "breach_type", title: "Type" },
          { key: "severity", title: "Severity" },
          { key: "target_value", title: "Target", numeric: true, render: (r) => num(r.target_value, 3) },
          { key: "actual_value", title: "Actual", numeric: true, render: (r) => num(r.actual_value, 3) },
          { key: "credit_amount_minor", title: "Credit", numeric: true, render: (r) => money(r.credit_amount_minor, r.currency) },
          {
            key: "resolved",
            title: "Status",
            render: (r) =>
              r.resolved ? (
                <span data-testid={`resolved-${r.breach_id}`}>resolved: {r.resolution ?? ""}</span>
              ) : hasRole(session.roles, "finance", "ops") ? (
                <button data-testid={`resolve-${r.breach_id}`} onClick={() => void resolve(r)}>
                  Resolve
                </button>
              ) : (
                "open"
              ),
          },
        ]}
      />
    </section>
  );
}

import { useState } from "react";
import { get, post, type Session } from "../api";
import { DataTable, Status } from "../components";
import { useLoad } from "../hooks";
import { dateTime, money } from "../format";
import { canReinstate, hasRole } from "../roles";

interface Blocked {
  subscriber_id: string;
  username: string | null;
  customer_id: string | null;
  customer_name: string | null;
  suspended_at: string;
  suspension_reason: string | null;
  days_blocked: number;
  overdue_invoices: number;
  open_invoices: number;
  currency: string | null;
  outstanding_balance_minor: number;
  next_action: string;
  priority: string;
  in_dunning: boolean;
}

interface Invoice {
  id: string;
  number: string | null;
  status: string;
  currency: string;
  issued_at: string | null;
  due_date: string | null;
  overdue_reported_at: string | null;
  paid_at: string | null;
  total_minor: number;
  balance_minor: number;
}

interface Execution {
  id: string;
  campaign_name: string;
  invoice_id: string;
  status: string;
  current_step: number;
  total_steps: number;
  started_at: string;
  completed_at: string | null;
  canceled_reason: string | null;
}

interface ExecutionDetail extends Execution {
  logs: { step_number: number; action_type: string; status: string; executed_at: string; result: Record<string, unknown> }[];
}

interface TimelineEvent {
  at: string;
  what: string;
}

const PRIORITY_ORDER: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export function Collections({ session }: { session: Session }) {
  const blocked = useLoad(
    () => get<Blocked[]>(session, "/billing/reports/blocked-customers", { include_zero_balance: true }),
    [session.token],
  );
  const [selected, setSelected] = useState<Blocked | null>(null);
  const [confirming, setConfirming] = useState<Blocked | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const reinstate = async (row: Blocked) => {
    setConfirming(null);
    try {
      await post(session, `/subscribers/${row.subscriber_id}/reinstate`, { reason: "reinstated from the console" });
      setMessage(`Reinstated ${row.username ?? row.subscriber_id}; the list updates as the reports catch up.`);
      // The blocked list is a read model built from events: ask again until the line has left it.
      for (let i = 0; i < 30; i += 1) {
        const rows = await get<Blocked[]>(session, "/billing/reports/blocked-customers", { include_zero_balance: true });
        if (!rows.some((r) => r.subscriber_id === row.subscriber_id)) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      blocked.reload();
    } catch (err) {
      setMessage(`Reinstating failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return (
    <section>
      <h1>Collections</h1>
      <p className="hint">Suspended lines, ranked by priority then by days blocked, with what their customer owes.</p>
      <Status loading={blocked.loading} error={blocked.error} />
      {message ? (
        <div className="notice" data-testid="notice">
          {message}
        </div>
      ) : null}
      <DataTable
        testId="blocked-table"
        rows={blocked.data ?? []}
        rowKey={(r) => `${r.subscriber_id}:${r.currency ?? ""}`}
        columns={[
          {
            key: "priority",
            title: "Priority",
            sortValue: (r) => PRIORITY_ORDER[r.priority] ?? 9,
            render: (r) => <span className={`badge ${r.priority}`}>{r.priority}</span>,
          },
          { key: "customer_name", title: "Customer" },
          { key: "username", title: "Line" },
          { key: "days_blocked", title: "Days blocked", numeric: true },
          { key: "overdue_invoices", title: "Overdue", numeric: true },
          {
            key: "outstanding_balance_minor",
            title: "Balance",
            numeric: true,
            render: (r) => (
              <span data-value={r.outstanding_balance_minor} data-currency={r.currency ?? ""}>
                {money(r.outstanding_balance_minor, r.currency)}
              </span>
            ),
          },
          { key: "next_action", title: "Next action", render: (r) => r.next_action.replaceAll("_", " ") },
          {
            key: "actions",
            title: "",
            render: (r) => (
              <span className="actions">
                <button onClick={() => setSelected(r)}>Timeline</button>
                {canReinstate(session.roles) ? (
                  <button data-testid={`reinstate-${r.subscriber_id}`} onClick={() => setConfirming(r)}>
                    Reinstate
                  </button>
                ) : null}
              </span>
            ),
          },
        ]}
        empty="No blocked customers."
      />
      {confirming ? (
        <div className="modal" role="dialog" data-testid="confirm">
          <div className="modal-box">
            <p>
              Reinstate line <strong>{confirming.username}</strong> of {confirming.customer_name}? It goes back online
              although {money(confirming.outstanding_balance_minor, confirming.currency)} is still owed.
            </p>
            <button data-testid="confirm-yes" onClick={() => void reinstate(confirming)}>
              Reinstate
            </button>
            <button onClick={() => setConfirming(null)}>Cancel</button>
          </div>
        </div>
      ) : null}
      {selected ? <Timeline session={session} row={selected} /> : null}
    </section>
  );
}

function Timeline({ session, row }: { session: Session; row: Blocked }) {
  const data = useLoad(async () => {
    const customer = row.customer_id ?? "";
    const [invoices, executions] = await Promise.all([
      get<{ items: Invoice[] }>(session, "/billing/invoices", { customer_id: customer, limit: 100 }),
      get<{ items: Execution[] }>(session, "/dunning/executions", { customer_id: customer, limit: 50 }),
    ]);
    const details = await Promise.all(
      executions.items.map((e) => get<ExecutionDetail>(session, `/dunning/executions/${e.id}`)),
    );
    const events: TimelineEvent[] = [];
    for (const i of invoices.items) {
      const label = `invoice ${i.number ?? i.id.slice(0, 8)} (${money(i.total_minor, i.currency)})`;
      if (i.issued_at) events.push({ at: i.issued_at, what: `${label} issued, due ${i.due_date ?? "—"}` });
      if (i.overdue_reported_at) events.push({ at: i.overdue_reported_at, what: `${label} overdue` });
      if (i.paid_at) events.push({ at: i.paid_at, what: `${label} paid` });
    }
    for (const e of details) {
      events.push({ at: e.started_at, what: `dunning "${e.campaign_name}" started` });
      for (const log of e.logs) {
        const to = typeof log.result.to === "string" ? ` to ${log.result.to}` : "";
        events.push({ at: log.executed_at, what: `dunning step ${log.step_number}: ${log.action_type}${to} (${log.status})` });
      }
      if (e.completed_at) {
        events.push({ at: e.completed_at, what: `dunning ${e.status}${e.canceled_reason ? `: ${e.canceled_reason}` : ""}` });
      }
    }
    events.push({ at: row.suspended_at, what: `line ${row.username ?? ""} suspended (${row.suspension_reason ?? "—"})` });
    events.sort((a, b) => a.at.localeCompare(b.at));
    return { events, executions: executions.items };
  }, [session.token, row.subscriber_id]);
  const [message, setMessage] = useState<string | null>(null);
  const cancel = async (execution: Execution) => {
    if (!window.confirm(`Cancel the dunning execution "${execution.campaign_name}"?`)) return;
    try {
      await post(session, `/dunning/executions/${execution.id}/cancel`, { reason: "canceled from the console" });
      setMessage("Dunning execution canceled.");
      data.reload();
    } catch (err) {
      setMessage(`Cancel failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return (
    <div className="panel" data-testid="timeline">
      <h2>Timeline of {row.customer_name ?? row.customer_id}</h2>
      <Status loading={data.loading} error={data.error} />
      {message ? <div className="notice">{message}</div> : null}
      <ol className="timeline">
        {(data.data?.events ?? []).map((e, i) => (
          <li key={i}>
            <time>{dateTime(e.at)}</time> {e.what}
          </li>
        ))}
      </ol>
      {(data.data?.executions ?? [])
        .filter((e) => e.status === "pending" || e.status === "in_progress")
        .map((e) =>
          hasRole(session.roles, "collections") ? (
            <button key={e.id} data-testid={`cancel-${e.id}`} onClick={() => void cancel(e)}>
              Cancel dunning “{e.campaign_name}”
            </button>
          ) : null,
        )}
    </div>
  );
}

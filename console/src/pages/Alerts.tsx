import { useState } from "react";
import { get, post, request, type Session } from "../api";
import { Card, DataTable, Status, Tabs } from "../components";
import { useLoad } from "../hooks";
import { dateTime, num } from "../format";
import { canManageAlerts } from "../roles";

// The reporting service's business alerts (GET /alerts?state=..., /alerts/rules, /alerts/silences): firing and
// pending alerts, acknowledge (firing only), silence a rule's subject until a chosen time, end a silence.

export interface Alert {
  alert_id: string;
  rule_id: string;
  rule_name: string | null;
  kind: string | null;
  severity: string | null;
  subject: string;
  state: string;
  value: number | null;
  threshold: number;
  summary: string;
  started_at: string;
  fired_at: string | null;
  resolved_at: string | null;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

interface Rule {
  rule_id: string;
  name: string;
  kind: string;
  parameters: Record<string, unknown>;
  severity: string;
  for_seconds: number;
  interval_seconds: number;
  enabled: boolean;
  email_to: string[];
  last_evaluated_at: string | null;
}

interface Silence {
  silence_id: string;
  rule_id: string;
  subject: string | null;
  ends_at: string;
  comment: string | null;
  created_by: string;
}

const STATES = ["firing", "pending", "resolved"];
const SEVERITY_ORDER: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** A `datetime-local` input's value (the browser's time zone) some hours from now. */
function localInput(hoursAhead: number): string {
  const d = new Date(Date.now() + hoursAhead * 3600_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function Alerts({ session }: { session: Session }) {
  const [state, setState] = useState("firing");
  const counts = useLoad(async () => {
    const [firing, pending] = await Promise.all([
      get<Alert[]>(session, "/alerts", { state: "firing", limit: 1000 }),
      get<Alert[]>(session, "/alerts", { state: "pending", limit: 1000 }),
    ]);
    return { firing: firing.length, pending: pending.length };
  }, [session.token]);
  const alerts = useLoad(() => get<Alert[]>(session, "/alerts", { state, limit: 1000 }), [session.token, state]);
  const rules = useLoad(() => get<Rule[]>(session, "/alerts/rules"), [session.token]);
  const silences = useLoad(() => get<Silence[]>(session, "/alerts/silences"), [session.token]);
  const [message, setMessage] = useState<string | null>(null);
  const [silencing, setSilencing] = useState<Alert | null>(null);
  const [endsAt, setEndsAt] = useState(localInput(4));
  const [comment, setComment] = useState("");
  const manage = canManageAlerts(session.roles);
  const ruleName = (id: string) => rules.data?.find((r) => r.rule_id === id)?.name ?? id;
  const silenced = (a: Alert) =>
    (silences.data ?? []).some((s) => s.rule_id === a.rule_id && (s.subject === null || s.subject === a.subject));
  const reloadAll = () => {
    alerts.reload();
    counts.reload();
    silences.reload();
  };
  const act = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
      setMessage(what);
      reloadAll();
    } catch (err) {
      setMessage(`Failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const acknowledge = (a: Alert) =>
    act(`Acknowledged: ${a.rule_name ?? a.rule_id} on ${a.subject}.`, () =>
      post(session, `/alerts/${a.alert_id}/acknowledge`),
    );
  const silence = (a: Alert) => {
    setSilencing(null);
    const ends = new Date(endsAt);
    return act(`Silenced ${a.rule_name ?? a.rule_id} on ${a.subject} until ${dateTime(ends.toISOString())}.`, () =>
      post(session, "/alerts/silences", {
        rule_id: a.rule_id,
        subject: a.subject,
        ends_at: ends.toISOString(),
        comment: comment || null,
      }),
    );
  };
  const endSilence = (s: Silence) =>
    act(`Silence on ${ruleName(s.rule_id)} ended.`, () =>
      request(session, "DELETE", `/alerts/silences/${s.silence_id}`),
    );
  return (
    <section>
      <h1>Alerts</h1>
      <Status
        loading={alerts.loading || counts.loading}
        error={alerts.error ?? counts.error ?? rules.error ?? silences.error}
      />
      {message ? (
        <div className="notice" data-testid="notice">
          {message}
        </div>
      ) : null}
      <div className="cards">
        <Card title="Firing" testId="alerts-firing" raw={counts.data?.firing} value={num(counts.data?.firing)} />
        <Card title="Pending" testId="alerts-pending" raw={counts.data?.pending} value={num(counts.data?.pending)} />
        <Card
          title="Silences in force"
          testId="alerts-silences"
          raw={silences.data?.length}
          value={num(silences.data?.length)}
        />
        <Card title="Rules" testId="alerts-rules" raw={rules.data?.length} value={num(rules.data?.length)} />
      </div>
      <Tabs tabs={STATES} current={state} onChange={setState} testId="alert-states" />
      <DataTable
        testId="alerts-table"
        rows={alerts.data ?? []}
        rowKey={(a) => a.alert_id}
        columns={[
          {
            key: "severity",
            title: "Severity",
            sortValue: (a) => SEVERITY_ORDER[a.severity ?? ""] ?? 9,
            render: (a) => <span className={`badge ${a.severity ?? ""}`}>{a.severity ?? "—"}</span>,
          },
          { key: "rule_name", title: "Rule" },
          { key: "subject", title: "Subject" },
          { key: "summary", title: "Summary" },
          { key: "value", title: "Value", numeric: true, render: (a) => num(a.value, 2) },
          { key: "threshold", title: "Threshold", numeric: true, render: (a) => num(a.threshold, 2) },
          { key: "started_at", title: "Since", render: (a) => dateTime(a.fired_at ?? a.started_at) },
          {
            key: "acknowledged_at",
            title: "Acknowledged",
            render: (a) =>
              a.acknowledged_at ? (
                <span data-testid={`acked-${a.alert_id}`}>
                  {a.acknowledged_by} · {dateTime(a.acknowledged_at)}
                </span>
              ) : (
                "—"
              ),
          },
          {
            key: "actions",
            title: "",
            render: (a) => (
              <span className="actions">
                {silenced(a) ? (
                  <span className="badge" data-testid={`silenced-${a.alert_id}`}>
                    silenced
                  </span>
                ) : null}
                {manage && a.state === "firing" && !a.acknowledged_at ? (
                  <button data-testid={`ack-${a.alert_id}`} onClick={() => void acknowledge(a)}>
                    Acknowledge
                  </button>
                ) : null}
                {manage && a.state !== "resolved" && !silenced(a) ? (
                  <button data-testid={`silence-${a.alert_id}`} onClick={() => setSilencing(a)}>
                    Silence…
                  </button>
                ) : null}
              </span>
            ),
          },
        ]}
        empty={`No ${state} alerts.`}
      />
      {silencing ? (
        <div className="modal" role="dialog" data-testid="silence-form">
          <form
            className="modal-box"
            onSubmit={(e) => {
              e.preventDefault();
              void silence(silencing);
            }}
          >
            <p>
              Silence <strong>{silencing.rule_name}</strong> on <strong>{silencing.subject}</strong>: no notifications
              for it until the silence ends.
            </p>
            <label>
              Until{" "}
              <input
                type="datetime-local"
                name="ends_at"
                data-testid="silence-ends"
                value={endsAt}
                onChange={(e) => setEndsAt(e.target.value)}
                required
              />
            </label>
            <label>
              Comment{" "}
              <input name="comment" maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />
            </label>
            <button type="submit" data-testid="silence-submit">
              Silence
            </button>
            <button type="button" onClick={() => setSilencing(null)}>
              Cancel
            </button>
          </form>
        </div>
      ) : null}
      <div className="panel">
        <h2>Silences in force</h2>
        <DataTable
          testId="silences-table"
          rows={silences.data ?? []}
          rowKey={(s) => s.silence_id}
          columns={[
            { key: "rule_id", title: "Rule", render: (s) => ruleName(s.rule_id) },
            { key: "subject", title: "Subject", render: (s) => s.subject ?? "every subject" },
            {
              key: "ends_at",
              title: "Until",
              render: (s) => <span data-value={s.ends_at}>{dateTime(s.ends_at)}</span>,
            },
            { key: "comment", title: "Comment" },
            { key: "created_by", title: "By" },
            {
              key: "actions",
              title: "",
              render: (s) =>
                manage ? (
                  <button data-testid={`end-silence-${s.silence_id}`} onClick={() => void endSilence(s)}>
                    End now
                  </button>
                ) : null,
            },
          ]}
          empty="No silence in force."
        />
      </div>
      <div className="panel">
        <h2>Rules</h2>
        <DataTable
          testId="rules-table"
          rows={rules.data ?? []}
          rowKey={(r) => r.rule_id}
          columns={[
            { key: "name", title: "Name" },
            { key: "kind", title: "Kind", render: (r) => r.kind.replaceAll("_", " ") },
            { key: "severity", title: "Severity", render: (r) => <span className={`badge ${r.severity}`}>{r.severity}</span> },
            { key: "parameters", title: "Parameters", render: (r) => JSON.stringify(r.parameters) },
            { key: "for_seconds", title: "For (s)", numeric: true },
            { key: "interval_seconds", title: "Every (s)", numeric: true },
            { key: "enabled", title: "Enabled", render: (r) => (r.enabled ? "yes" : "no") },
            { key: "email_to", title: "Notify", render: (r) => r.email_to.join(", ") || "—" },
            { key: "last_evaluated_at", title: "Last evaluated", render: (r) => dateTime(r.last_evaluated_at) },
          ]}
          empty="No rules."
        />
      </div>
    </section>
  );
}

import { useMemo, useState } from "react";
import { get, post, type Session } from "../api";
import { Card, Chart, DataTable, Status } from "../components";
import { useLoad } from "../hooks";
import { dateTime, num } from "../format";

// The ops API (bssctl serve, at /ops/ through the gateway): consumer lag per service and partition, dead-letter
// topics with their counts and a redrive (dry run first), outbox backlogs, each service's readiness.

interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
  oldest_age_s: number | null;
}

interface GroupLag {
  group: string;
  service: string;
  state: string;
  members: number;
  lag: number;
  oldest_age_s: number | null;
  partitions: PartitionLag[];
}

interface DlqTopic {
  topic: string;
  dead_letter_topic: string;
  count: number;
  tenant: number;
}

interface DeadLetter {
  ref: string;
  dead_lettered_at: string;
  reason: string | null;
  group: string | null;
  source: string;
  event_id: string | null;
  event_type: string | null;
  error: string | null;
  redriven: { at: string; by: string }[];
}

interface RedriveResult {
  ref: string;
  event_id: string | null;
  to: string;
  action: string;
}

interface Backlog {
  service: string;
  configured: boolean;
  backlog?: number;
  oldest_unsent?: string | null;
  oldest_age_s?: number | null;
  max_attempts?: number | null;
  last_error?: string | null;
  error?: string;
}

interface Health {
  service: string;
  url: string;
  ready: boolean;
  status: number | null;
  checks?: { checks?: Record<string, string> } | null;
  error?: string;
}

export function Ops({ session }: { session: Session }) {
  const lag = useLoad(() => get<{ groups: GroupLag[]; total_lag: number }>(session, "/ops/lag"), [session.token]);
  const dlq = useLoad(() => get<{ topics: DlqTopic[]; total: number }>(session, "/ops/dead-letters"), [session.token]);
  const outbox = useLoad(() => get<Backlog[]>(session, "/ops/outbox"), [session.token]);
  const health = useLoad(() => get<Health[]>(session, "/ops/health"), [session.token]);
  const [topic, setTopic] = useState<string | null>(null);
  const partitions = useMemo(
    () => (lag.data?.groups ?? []).flatMap((g) => g.partitions.map((p) => ({ ...p, service: g.service }))),
    [lag.data],
  );
  const byService = useMemo(() => {
    const sums = new Map<string, number>();
    for (const g of lag.data?.groups ?? []) sums.set(g.service, (sums.get(g.service) ?? 0) + g.lag);
    return [...sums.entries()];
  }, [lag.data]);
  const lagChart = useMemo(
    () => ({
      grid: { left: 60, right: 20, top: 20, bottom: 30, containLabel: true },
      xAxis: { type: "category", data: byService.map(([s]) => s) },
      yAxis: { type: "value", name: "events" },
      series: [{ name: "lag", type: "bar", data: byService.map(([, v]) => v) }],
    }),
    [byService],
  );
  const backlog = (outbox.data ?? []).reduce((sum, row) => sum + (row.backlog ?? 0), 0);
  const ready = (health.data ?? []).filter((h) => h.ready).length;
  const reload = () => {
    lag.reload();
    dlq.reload();
    outbox.reload();
    health.reload();
  };
  return (
    <section>
      <h1>Ops</h1>
      <p className="hint">
        The deployment as bssctl sees it: counts are the whole deployment&apos;s (the broker is shared); dead letters are
        listed and redriven for your tenant only.{" "}
        <button data-testid="ops-refresh" onClick={reload}>
          Refresh
        </button>
      </p>
      <Status
        loading={lag.loading || dlq.loading || outbox.loading || health.loading}
        error={lag.error ?? dlq.error ?? outbox.error ?? health.error}
      />
      <div className="cards">
        <Card title="Consumer lag" testId="ops-lag" raw={lag.data?.total_lag} value={num(lag.data?.total_lag)} />
        <Card title="Dead letters" testId="ops-dlq" raw={dlq.data?.total} value={num(dlq.data?.total)} />
        <Card title="Outbox backlog" testId="ops-outbox" raw={outbox.data ? backlog : undefined} value={num(outbox.data ? backlog : null)} />
        <Card
          title="Services ready"
          testId="ops-ready"
          raw={health.data ? ready : undefined}
          value={health.data ? `${ready} / ${health.data.length}` : "—"}
        />
      </div>
      <div className="grid2">
        <div className="panel">
          <h2>Service health (/readyz)</h2>
          <DataTable
            testId="health-table"
            rows={health.data ?? []}
            rowKey={(h) => h.service}
            columns={[
              { key: "service", title: "Service" },
              {
                key: "ready",
                title: "Ready",
                render: (h) => (
                  <span className={`badge ${h.ready ? "" : "critical"}`} data-value={String(h.ready)}>
                    {h.ready ? "ready" : `not ready${h.status ? ` (${h.status})` : ""}`}
                  </span>
                ),
              },
              {
                key: "checks",
                title: "Checks",
                render: (h) =>
                  h.error ??
                  Object.entries(h.checks?.checks ?? {})
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(", "),
              },
            ]}
          />
        </div>
        <div className="panel">
          <h2>Consumer lag per service</h2>
          <Chart option={lagChart} testId="lag-chart" height={240} />
        </div>
      </div>
      <div className="panel">
        <h2>Consumer groups</h2>
        <DataTable
          testId="groups-table"
          rows={lag.data?.groups ?? []}
          rowKey={(g) => g.group}
          columns={[
            { key: "group", title: "Group" },
            { key: "service", title: "Service" },
            { key: "state", title: "State" },
            { key: "members", title: "Members", numeric: true },
            { key: "lag", title: "Lag", numeric: true, render: (g) => <span data-value={g.lag}>{num(g.lag)}</span> },
            { key: "oldest_age_s", title: "Oldest waiting (s)", numeric: true, render: (g) => num(g.oldest_age_s, 1) },
          ]}
        />
        <h2>Per partition</h2>
        <DataTable
          testId="partitions-table"
          rows={partitions}
          rowKey={(p) => `${p.group}:${p.topic}:${p.partition}`}
          columns={[
            { key: "service", title: "Service" },
            { key: "group", title: "Group" },
            { key: "topic", title: "Topic" },
            { key: "partition", title: "Partition", numeric: true },
            { key: "committed", title: "Committed", numeric: true, render: (p) => num(p.committed) },
            { key: "end", title: "End", numeric: true, render: (p) => num(p.end) },
            { key: "lag", title: "Lag", numeric: true, render: (p) => <span data-value={p.lag}>{num(p.lag)}</span> },
          ]}
        />
      </div>
      <div className="grid2">
        <div className="panel">
          <h2>Dead-letter topics</h2>
          <DataTable
            testId="dlq-table"
            rows={dlq.data?.topics ?? []}
            rowKey={(t) => t.topic}
            columns={[
              { key: "dead_letter_topic", title: "Topic" },
              { key: "count", title: "Records", numeric: true, render: (t) => <span data-value={t.count}>{num(t.count)}</span> },
              { key: "tenant", title: "Yours", numeric: true, render: (t) => <span data-value={t.tenant}>{num(t.tenant)}</span> },
              {
                key: "actions",
                title: "",
                render: (t) =>
                  t.tenant > 0 ? (
                    <button data-testid={`dlq-open-${t.topic}`} onClick={() => setTopic(t.topic)}>
                      Dead letters
                    </button>
                  ) : null,
              },
            ]}
          />
        </div>
        <div className="panel">
          <h2>Outbox backlog per service</h2>
          <DataTable
            testId="outbox-table"
            rows={outbox.data ?? []}
            rowKey={(o) => o.service}
            columns={[
              { key: "service", title: "Service" },
              {
                key: "backlog",
                title: "Unsent",
                numeric: true,
                render: (o) =>
                  o.configured ? <span data-value={o.backlog ?? ""}>{o.error ? "error" : num(o.backlog)}</span> : "not configured",
              },
              { key: "oldest_age_s", title: "Oldest (s)", numeric: true, render: (o) => num(o.oldest_age_s, 1) },
              { key: "max_attempts", title: "Attempts", numeric: true, render: (o) => num(o.max_attempts) },
              { key: "last_error", title: "Last error", render: (o) => o.error ?? o.last_error ?? "—" },
            ]}
          />
        </div>
      </div>
      {topic ? <DeadLetters session={session} topic={topic} onRedriven={() => dlq.reload()} /> : null}
      <Trace session={session} />
    </section>
  );
}

function DeadLetters(props: { session: Session; topic: string; onRedriven: () => void }) {
  const { session, topic } = props;
  const letters = useLoad(
    () => get<DeadLetter[]>(session, `/ops/dead-letters/${encodeURIComponent(topic)}`),
    [session.token, topic],
  );
  const [plan, setPlan] = useState<RedriveResult[] | null>(null);
  const [done, setDone] = useState<RedriveResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (dryRun: boolean) => {
    setError(null);
    try {
      const answer = await post<{ results: RedriveResult[] }>(session, "/ops/dead-letters/redrive", {
        topic,
        all: true,
        dry_run: dryRun,
      });
      if (dryRun) {
        setPlan(answer.results);
        setDone(null);
      } else {
        setDone(answer.results);
        setPlan(null);
        letters.reload();
        props.onRedriven();
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <div className="panel" data-testid="dead-letters">
      <h2>Dead letters of {topic} (your tenant&apos;s)</h2>
      <Status loading={letters.loading} error={letters.error ?? error} />
      <DataTable
        testId="letters-table"
        rows={letters.data ?? []}
        rowKey={(d) => d.ref}
        columns={[
          { key: "dead_lettered_at", title: "When", render: (d) => dateTime(d.dead_lettered_at) },
          { key: "reason", title: "Reason" },
          { key: "group", title: "Group" },
          { key: "event_type", title: "Event" },
          { key: "event_id", title: "Id" },
          { key: "error", title: "Error", render: (d) => (d.error ?? "—").slice(0, 120) },
          { key: "redriven", title: "Redriven", render: (d) => (d.redriven.length ? `${d.redriven.length}×` : "—") },
        ]}
      />
      <div className="actions">
        <button data-testid="redrive-dry-run" onClick={() => void run(true)}>
          Redrive all: dry run
        </button>
        {plan ? (
          <button data-testid="redrive-confirm" onClick={() => void run(false)}>
            Redrive {plan.filter((p) => p.action === "would redrive").length} now
          </button>
        ) : null}
      </div>
      {plan ? (
        <ul data-testid="redrive-plan">
          {plan.map((p) => (
            <li key={p.ref} data-ref={p.ref}>
              {p.ref} → {p.to}: {p.action}
            </li>
          ))}
        </ul>
      ) : null}
      {done ? (
        <div className="notice" data-testid="redrive-done">
          {done.map((p) => `${p.ref} → ${p.to}: ${p.action}`).join("; ")}
        </div>
      ) : null}
    </div>
  );
}

interface TraceNode {
  id: string;
  type: string;
  time: string;
  topic: string;
  subject: string;
  caused: TraceNode[];
}

// The flow of an event, correlation or aggregate id (GET /ops/trace/{id}): depth-first, each event under the one
// that caused it, so the rows read in causation order. The service is the topic's owner (bss.<service>.<name>).
function flatten(nodes: TraceNode[], depth = 0): { node: TraceNode; depth: number }[] {
  return nodes.flatMap((node) => [{ node, depth }, ...flatten(node.caused, depth + 1)]);
}

function Trace({ session }: { session: Session }) {
  const [ident, setIdent] = useState("");
  const [rows, setRows] = useState<{ node: TraceNode; depth: number }[] | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setError(null);
    setRows(null);
    setLoading(true);
    try {
      setRows(flatten(await get<TraceNode[]>(session, `/ops/trace/${encodeURIComponent(ident.trim())}`)));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setLoading(false);
    }
  };
  return (
    <div className="panel" data-testid="trace">
      <h2>Trace</h2>
      <div className="actions">
        <input
          data-testid="trace-id"
          placeholder="event or correlation id"
          value={ident}
          onChange={(e) => setIdent(e.target.value)}
          onKeyDown={(e) => (e.key === "Enter" ? void run() : undefined)}
        />
        <button data-testid="trace-run" disabled={!ident.trim() || loading} onClick={() => void run()}>
          Trace
        </button>
      </div>
      <Status loading={loading} error={error} />
      {rows ? (
        <ol data-testid="trace-tree">
          {rows.map(({ node, depth }) => (
            <li key={node.id} data-id={node.id} style={{ paddingLeft: `${depth * 1.5}em` }}>
              {depth ? "└─ " : ""}
              {node.type} · {node.topic} · {dateTime(node.time)} · {node.topic.split(".")[1] ?? "?"} · {node.subject}
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}

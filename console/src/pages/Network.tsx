import { useMemo, useState } from "react";
import { get, type Session } from "../api";
import { Card, Chart, DataTable, Status, Tabs } from "../components";
import { useLoad } from "../hooks";
import { bytes, dateTime, num } from "../format";

interface Online {
  as_of: string;
  online: number;
  by_nas: { nas_id: string; online: number }[];
}

interface Concurrency {
  nas_id: string | null;
  interval: string;
  time_zone: string;
  peaks: { period_start: string; peak_sessions: number; peak_at: string }[];
  highest: { period_start: string; peak_sessions: number; peak_at: string } | null;
}

interface TopUser {
  username: string;
  subscriber_id: string | null;
  plan_id: string | null;
  customer_name: string | null;
  sessions: number;
  total_bytes: number;
  session_time_seconds: number;
}

interface SessionRecord {
  session_key: string;
  username: string;
  subscriber_id: string | null;
  nas_id: string;
  framed_ip_address: string | null;
  session_start_time: string;
  session_stop_time: string | null;
  session_duration_seconds: number;
  total_bytes: number;
  terminate_cause: string | null;
}

interface History {
  summary: { total_sessions: number; total_bytes: number; total_duration_seconds: number };
  sessions: SessionRecord[];
}

interface Usage {
  subscriber_id: string | null;
  usernames: string[];
  time_zone: string;
  sessions: number;
  total_bytes: number;
  peak_hour: number | null;
  daily: { day: string; total_bytes: number; sessions: number }[];
}

const userZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function Network({ session }: { session: Session }) {
  const online = useLoad(() => get<Online>(session, "/analytics/network/online"), [session.token]);
  const [interval, setInterval] = useState("hour");
  const [nas, setNas] = useState("");
  const concurrency = useLoad(
    () =>
      get<Concurrency>(session, "/analytics/network/concurrency", {
        interval,
        nas_id: nas || undefined,
        tz: userZone,
        ...(interval === "day" ? { from: new Date(Date.now() - 30 * 86_400_000).toISOString() } : {}),
      }),
    [session.token, interval, nas],
  );
  const top = useLoad(() => get<TopUser[]>(session, "/analytics/usage/top", { by: "bytes", limit: 20 }), [session.token]);
  const [subscriber, setSubscriber] = useState<string | null>(null);
  const nasOption = useMemo(
    () => ({
      grid: { left: 50, right: 20, top: 20, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: (online.data?.by_nas ?? []).map((n) => n.nas_id), axisLabel: { rotate: 30 } },
      yAxis: { type: "value", name: "sessions" },
      series: [{ name: "online", type: "bar", data: (online.data?.by_nas ?? []).map((n) => n.online) }],
    }),
    [online.data],
  );
  const peakOption = useMemo(
    () => ({
      grid: { left: 50, right: 20, top: 20, bottom: 40, containLabel: true },
      xAxis: {
        type: "category",
        data: (concurrency.data?.peaks ?? []).map((p) =>
          interval === "hour"
            ? new Date(p.period_start).toLocaleString(undefined, { day: "2-digit", hour: "2-digit", minute: "2-digit" })
            : new Date(p.period_start).toLocaleDateString(),
        ),
      },
      yAxis: { type: "value", name: "peak sessions" },
      series: [
        { name: "peak sessions", type: "line", step: "end", data: (concurrency.data?.peaks ?? []).map((p) => p.peak_sessions) },
      ],
    }),
    [concurrency.data, interval],
  );
  return (
    <section>
      <h1>Network</h1>
      <div className="cards">
        <Card title="Online now" testId="online-now" raw={online.data?.online} value={num(online.data?.online)} />
        <Card
          title={`Highest peak (${interval})`}
          testId="highest-peak"
          raw={concurrency.data?.highest?.peak_sessions}
          value={num(concurrency.data?.highest?.peak_sessions)}
          hint={concurrency.data?.highest ? `at ${dateTime(concurrency.data.highest.peak_at)}` : undefined}
        />
        <Card title="NAS with sessions" testId="nas-count" raw={online.data?.by_nas.length} value={num(online.data?.by_nas.length)} />
      </div>
      <Status loading={online.loading} error={online.error} />
      <div className="grid2">
        <div className="panel">
          <h2>Online now per NAS</h2>
          <Chart option={nasOption} testId="online-chart" onBarClick={(_, category) => setNas(category)} />
        </div>
        <div className="panel">
          <h2>Peak concurrency {nas ? `on ${nas}` : "(all NAS)"}</h2>
          <div className="toolbar">
            <Tabs tabs={["hour", "day"]} current={interval} onChange={setInterval} testId="interval-tabs" />
            <select value={nas} onChange={(e) => setNas(e.target.value)} data-testid="nas-select">
              <option value="">all NAS</option>
              {(online.data?.by_nas ?? []).map((n) => (
                <option key={n.nas_id} value={n.nas_id}>
                  {n.nas_id}
                </option>
              ))}
            </select>
          </div>
          <Status loading={concurrency.loading} error={concurrency.error} />
          <Chart option={peakOption} testId="concurrency-chart" />
        </div>
      </div>
      <div className="panel">
        <h2>Top users (last 30 days, by bytes)</h2>
        <Status loading={top.loading} error={top.error} />
        <DataTable
          testId="top-table"
          rows={top.data ?? []}
          rowKey={(r) => r.username}
          columns={[
            { key: "username", title: "Username" },
            { key: "customer_name", title: "Customer" },
            { key: "plan_id", title: "Plan" },
            { key: "sessions", title: "Sessions", numeric: true },
            {
              key: "total_bytes",
              title: "Data",
              numeric: true,
              render: (r) => <span data-value={r.total_bytes}>{bytes(r.total_bytes)}</span>,
            },
            {
              key: "usage",
              title: "",
              render: (r) =>
                r.subscriber_id ? <button onClick={() => setSubscriber(r.subscriber_id)}>Usage</button> : null,
            },
          ]}
        />
      </div>
      {subscriber ? <SubscriberUsage session={session} subscriberId={subscriber} /> : null}
      <SessionSearch session={session} />
    </section>
  );
}

function SubscriberUsage({ session, subscriberId }: { session: Session; subscriberId: string }) {
  const usage = useLoad(() => get<Usage>(session, `/analytics/usage/subscribers/${subscriberId}`), [session.token, subscriberId]);
  const option = useMemo(
    () => ({
      grid: { left: 60, right: 20, top: 20, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: (usage.data?.daily ?? []).map((d) => d.day) },
      yAxis: { type: "value", name: "MB" },
      series: [{ name: "MB", type: "bar", data: (usage.data?.daily ?? []).map((d) => Math.round(d.total_bytes / 1e4) / 100) }],
    }),
    [usage.data],
  );
  return (
    <div className="panel" data-testid="subscriber-usage">
      <h2>
        Usage of {usage.data?.usernames.join(", ") ?? subscriberId} (days in {usage.data?.time_zone ?? "…"})
      </h2>
      <Status loading={usage.loading} error={usage.error} />
      <p data-testid="usage-total" data-value={usage.data?.total_bytes}>
        {num(usage.data?.sessions)} sessions, {bytes(usage.data?.total_bytes)}, busiest hour{" "}
        {usage.data?.peak_hour ?? "—"}:00
      </p>
      <Chart option={option} testId="usage-chart" height={240} />
    </div>
  );
}

function SessionSearch({ session }: { session: Session }) {
  const [form, setForm] = useState({ who: "", from: "", to: "" });
  const [query, setQuery] = useState(form);
  const history = useLoad(() => {
    const who = query.who.trim();
    const isId = /^[0-9a-f-]{36}$/i.test(who);
    return get<History>(session, "/billing/reports/sessions/history", {
      username: who && !isId ? who : undefined,
      subscriber_id: isId ? who : undefined,
      start_date: query.from ? new Date(query.from).toISOString() : undefined,
      end_date: query.to ? new Date(`${query.to}T23:59:59`).toISOString() : undefined,
      limit: 500,
    });
  }, [session.token, query]);
  return (
    <div className="panel">
      <h2>Session history</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(form);
        }}
      >
        <input
          placeholder="username or subscriber id"
          data-testid="session-who"
          value={form.who}
          onChange={(e) => setForm({ ...form, who: e.target.value })}
        />
        <label>
          from <input type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        </label>
        <label>
          to <input type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
        </label>
        <button type="submit" data-testid="session-search">
          Search
        </button>
      </form>
      <Status loading={history.loading} error={history.error} />
      <p data-testid="session-summary" data-value={history.data?.summary.total_sessions}>
        {num(history.data?.summary.total_sessions)} sessions, {bytes(history.data?.summary.total_bytes)}
      </p>
      <DataTable
        testId="sessions-table"
        rows={history.data?.sessions ?? []}
        rowKey={(r) => r.session_key}
        columns={[
          { key: "username", title: "Username" },
          { key: "nas_id", title: "NAS" },
          { key: "framed_ip_address", title: "IP" },
          { key: "session_start_time", title: "Start", render: (r) => dateTime(r.session_start_time) },
          { key: "session_stop_time", title: "Stop", render: (r) => dateTime(r.session_stop_time) },
          { key: "session_duration_seconds", title: "Duration (s)", numeric: true },
          { key: "total_bytes", title: "Data", numeric: true, render: (r) => bytes(r.total_bytes) },
          { key: "terminate_cause", title: "Cause" },
        ]}
      />
    </div>
  );
}

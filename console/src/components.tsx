import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import type { EChartsCoreOption } from "echarts/core";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, CanvasRenderer]);

/** One ECharts chart; `onBarClick` gets the series and category of a clicked bar. Numbers show on hover. */
export function Chart(props: {
  option: EChartsCoreOption;
  testId: string;
  height?: number;
  onBarClick?: (seriesName: string, category: string) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const click = useRef(props.onBarClick);
  click.current = props.onBarClick;
  useEffect(() => {
    if (!ref.current) return;
    const instance = echarts.init(ref.current);
    chart.current = instance;
    instance.on("click", (params) => {
      const p = params as { seriesName?: string; name?: string };
      click.current?.(p.seriesName ?? "", p.name ?? "");
    });
    const resize = () => instance.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      instance.dispose();
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption({ tooltip: { trigger: "axis" }, ...props.option }, true);
  }, [props.option]);
  return (
    <div
      className="chart"
      data-testid={props.testId}
      data-option={JSON.stringify(props.option, (k, v) => (k === "formatter" ? undefined : v))}
      ref={ref}
      style={{ height: props.height ?? 320 }}
    />
  );
}

export function Status(props: { loading: boolean; error: string | null }) {
  if (props.error) {
    return (
      <div className="error" role="alert" data-testid="error">
        {props.error}
      </div>
    );
  }
  if (props.loading) return <div className="loading" data-testid="loading">Loading…</div>;
  return null;
}

export function Card(props: { title: string; value: ReactNode; testId: string; raw?: string | number; hint?: string }) {
  return (
    <div className="card" data-testid={props.testId} data-value={props.raw === undefined ? undefined : String(props.raw)}>
      <div className="card-title">{props.title}</div>
      <div className="card-value">{props.value}</div>
      {props.hint ? <div className="card-hint">{props.hint}</div> : null}
    </div>
  );
}

export interface Column<T> {
  key: string;
  title: string;
  render?: (row: T) => ReactNode;
  sortValue?: (row: T) => string | number | null;
  numeric?: boolean;
}

/** A paged, sortable table (sorting and paging over the rows it is given). */
export function DataTable<T>(props: {
  rows: T[];
  columns: Column<T>[];
  testId: string;
  rowKey: (row: T) => string;
  pageSize?: number;
  empty?: string;
}) {
  const pageSize = props.pageSize ?? 20;
  const [sort, setSort] = useState<{ key: string; desc: boolean } | null>(null);
  const [page, setPage] = useState(0);
  const sorted = useMemo(() => {
    if (!sort) return props.rows;
    const column = props.columns.find((c) => c.key === sort.key);
    const value = (row: T) =>
      column?.sortValue ? column.sortValue(row) : ((row as Record<string, unknown>)[sort.key] as string | number | null);
    return [...props.rows].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order = x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
      return sort.desc ? -order : order;
    });
  }, [props.rows, props.columns, sort]);
  const pages = Math.max(1, Math.ceil(sorted.length / pageSize));
  const current = Math.min(page, pages - 1);
  const shown = sorted.slice(current * pageSize, (current + 1) * pageSize);
  return (
    <div className="table-wrap">
      <table data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th
                key={c.key}
                className={c.numeric ? "num" : undefined}
                onClick={() => setSort((s) => ({ key: c.key, desc: s?.key === c.key ? !s.desc : false }))}
              >
                {c.title}
                {sort?.key === c.key ? (sort.desc ? " ▾" : " ▴") : ""}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => (
            <tr key={props.rowKey(row)} data-key={props.rowKey(row)}>
              {props.columns.map((c) => (
                <td key={c.key} className={c.numeric ? "num" : undefined} data-col={c.key}>
                  {c.render ? c.render(row) : String((row as Record<string, unknown>)[c.key] ?? "—")}
                </td>
              ))}
            </tr>
          ))}
          {shown.length === 0 ? (
            <tr>
              <td colSpan={props.columns.length} className="empty">
                {props.empty ?? "Nothing to show."}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {pages > 1 ? (
        <div className="pager">
          <button disabled={current === 0} onClick={() => setPage(current - 1)}>
            ‹ Previous
          </button>
          <span>
            page {current + 1} of {pages} ({sorted.length} rows)
          </span>
          <button disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
            Next ›
          </button>
        </div>
      ) : null}
    </div>
  );
}

export function Tabs(props: { tabs: string[]; current: string; onChange: (tab: string) => void; testId: string }) {
  return (
    <div className="tabs" role="tablist" data-testid={props.testId}>
      {props.tabs.map((t) => (
        <button key={t} role="tab" aria-selected={t === props.current} onClick={() => props.onChange(t)}>
          {t}
        </button>
      ))}
    </div>
  );
}

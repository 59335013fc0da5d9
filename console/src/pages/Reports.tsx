import { useState } from "react";
import { get, post, type Session } from "../api";
import { DataTable, Status } from "../components";
import { useLoad } from "../hooks";
import { bytes, dateTime } from "../format";

interface JsonSchema {
  type?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
}

interface Template {
  template_id: string;
  name: string;
  description: string | null;
  report: string;
  output_formats: string[];
  parameters_schema: JsonSchema;
  allowed_roles: string[];
}

interface Output {
  format: string;
  filename: string;
  size_bytes: number;
  expired: boolean;
  download_path: string;
}

interface Execution {
  execution_id: string;
  template_name: string;
  status: string;
  requested_by: string | null;
  requested_at: string;
  row_count: number | null;
  error: string | null;
  outputs: Output[];
}

interface Schedule {
  schedule_id: string;
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  email_recipients: string[];
}

/** Downloads go through fetch with the token (a plain link would carry no Authorization header). */
async function download(session: Session, output: Output): Promise<void> {
  const response = await fetch(output.download_path, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) throw new Error(`download failed: ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = output.filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A form generated from the template's JSON Schema: one input per property, typed by its schema. */
function ParametersForm(props: { template: Template; onRun: (parameters: Record<string, unknown>) => void }) {
  const properties = props.template.parameters_schema.properties ?? {};
  const required = new Set(props.template.parameters_schema.required ?? []);
  const [values, setValues] = useState<Record<string, string>>({});
  const submit = () => {
    const parameters: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(properties)) {
      const raw = values[name];
      if (raw === undefined || raw === "") continue;
      parameters[name] = schema.type === "integer" || schema.type === "number" ? Number(raw) : schema.type === "boolean" ? raw === "true" : raw;
    }
    props.onRun(parameters);
  };
  return (
    <form
      className="toolbar"
      data-testid="run-form"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {Object.entries(properties).map(([name, schema]) => (
        <label key={name}>
          {name.replaceAll("_", " ")}
          {required.has(name) ? " *" : ""}{" "}
          {schema.enum ? (
            <select value={values[name] ?? ""} onChange={(e) => setValues({ ...values, [name]: e.target.value })}>
              <option value="" />
              {schema.enum.map((v) => (
                <option key={String(v)}>{String(v)}</option>
              ))}
            </select>
          ) : (
            <input
              name={name}
              required={required.has(name)}
              type={schema.format === "date" ? "date" : schema.type === "integer" || schema.type === "number" ? "number" : "text"}
              min={schema.minimum}
              max={schema.maximum}
              value={values[name] ?? ""}
              onChange={(e) => setValues({ ...values, [name]: e.target.value })}
            />
          )}
        </label>
      ))}
      <button type="submit" data-testid="run-submit">
        Run now
      </button>
    </form>
  );
}

export function Reports({ session }: { session: Session }) {
  const templates = useLoad(() => get<Template[]>(session, "/business-intelligence/report-templates"), [session.token]);
  const executions = useLoad(
    () => get<Execution[]>(session, "/business-intelligence/report-executions"),
    [session.token],
  );
  const schedules = useLoad(() => get<Schedule[]>(session, "/business-intelligence/report-schedules"), [session.token]);
  const [chosen, setChosen] = useState<Template | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const run = async (template: Template, parameters: Record<string, unknown>) => {
    try {
      const started = await post<Execution>(session, "/business-intelligence/report-executions", {
        template_id: template.template_id,
        parameters,
      });
      setMessage(`Report "${template.name}" requested (${started.execution_id.slice(0, 8)}).`);
      for (let i = 0; i < 30; i += 1) {
        const e = await get<Execution>(session, `/business-intelligence/report-executions/${started.execution_id}`);
        if (e.status !== "pending" && e.status !== "running") {
          setMessage(`Report "${template.name}" ${e.status}${e.error ? `: ${e.error}` : ""}.`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      executions.reload();
    } catch (err) {
      setMessage(`Run failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return (
    <section>
      <h1>Reports</h1>
      {message ? (
        <div className="notice" data-testid="notice">
          {message}
        </div>
      ) : null}
      <div className="panel">
        <h2>Templates</h2>
        <Status loading={templates.loading} error={templates.error} />
        <DataTable
          testId="templates-table"
          rows={templates.data ?? []}
          rowKey={(r) => r.template_id}
          columns={[
            { key: "name", title: "Template" },
            { key: "report", title: "Report" },
            { key: "output_formats", title: "Formats", render: (r) => r.output_formats.join(", ") },
            { key: "allowed_roles", title: "Roles", render: (r) => r.allowed_roles.join(", ") },
            {
              key: "run",
              title: "",
              render: (r) => (
                <button data-testid={`run-${r.template_id}`} onClick={() => setChosen(r)}>
                  Run…
                </button>
              ),
            },
          ]}
        />
        {chosen ? (
          <div className="panel">
            <h3>Run “{chosen.name}”</h3>
            <ParametersForm key={chosen.template_id} template={chosen} onRun={(p) => void run(chosen, p)} />
          </div>
        ) : null}
      </div>
      <div className="panel">
        <h2>Executions</h2>
        <Status loading={executions.loading} error={executions.error} />
        <DataTable
          testId="executions-table"
          rows={executions.data ?? []}
          rowKey={(r) => r.execution_id}
          columns={[
            { key: "requested_at", title: "Requested", render: (r) => dateTime(r.requested_at) },
            { key: "template_name", title: "Template" },
            { key: "status", title: "Status" },
            { key: "row_count", title: "Rows", numeric: true },
            {
              key: "outputs",
              title: "Downloads",
              render: (r) => (
                <span className="actions">
                  {r.outputs
                    .filter((o) => !o.expired)
                    .map((o) => (
                      <a
                        key={o.format}
                        href={o.download_path}
                        data-testid={`download-${r.execution_id}-${o.format}`}
                        onClick={(e) => {
                          e.preventDefault();
                          download(session, o).catch((err: unknown) => setMessage(String(err)));
                        }}
                      >
                        {o.format} ({bytes(o.size_bytes)})
                      </a>
                    ))}
                </span>
              ),
            },
          ]}
        />
      </div>
      <div className="panel">
        <h2>Schedules</h2>
        <Status loading={schedules.loading} error={schedules.error} />
        <DataTable
          testId="schedules-table"
          rows={schedules.data ?? []}
          rowKey={(r) => r.schedule_id}
          columns={[
            { key: "name", title: "Schedule" },
            { key: "cron", title: "Cron" },
            { key: "timezone", title: "Zone" },
            { key: "next_run_at", title: "Next run", render: (r) => dateTime(r.next_run_at) },
            { key: "last_run_at", title: "Last run", render: (r) => dateTime(r.last_run_at) },
            { key: "email_recipients", title: "Emailed to", render: (r) => r.email_recipients.join(", ") },
          ]}
        />
      </div>
    </section>
  );
}

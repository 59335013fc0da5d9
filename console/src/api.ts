// Every call goes to the public API through the gateway (same origin), with the signed-in user's token.

export interface Session {
  token: string;
  tenant: string;
  roles: string[];  // all of the token's roles that the console knows (roles.ts ROLES)
  via?: "dev" | "oidc";
  user?: string;
}

const KEY = "ispbss.console.session";

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  const session = raw ? (JSON.parse(raw) as Partial<Session>) : null;
  // A session saved by an older console (one `role`) is signed out rather than half read.
  return session && Array.isArray(session.roles) ? (session as Session) : null;
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

function detailOf(body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg ?? ""}`)
        .join("; ");
    }
    return String(detail);
  }
  return "";
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(
  session: Session | null,
  method: string,
  path: string,
  options: { query?: Query; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(withQuery(path, options.query), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, `${response.status}: ${detailOf(body) || response.statusText}`);
  }
  return body as T;
}

export const get = <T>(session: Session | null, path: string, query?: Query) =>
  request<T>(session, "GET", path, { query });
export const post = <T>(session: Session | null, path: string, body?: unknown) =>
  request<T>(session, "POST", path, { body });

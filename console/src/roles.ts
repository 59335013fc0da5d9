// Which pages a role sees: the same role sets the APIs behind each page accept (admin passes every check).

export type PageId = "overview" | "receivables" | "collections" | "network" | "reports" | "sla" | "alerts" | "ops";

export interface PageDef {
  id: PageId;
  title: string;
  roles: string[];
}

export const PAGES: PageDef[] = [
  { id: "overview", title: "Overview", roles: ["finance"] },
  { id: "receivables", title: "Receivables", roles: ["finance", "collections"] },
  { id: "collections", title: "Collections", roles: ["finance", "collections", "support"] },
  { id: "network", title: "Network", roles: ["ops", "support"] },
  { id: "reports", title: "Reports", roles: ["finance", "collections", "ops", "support"] },
  { id: "sla", title: "SLA", roles: ["finance", "ops"] },
  { id: "alerts", title: "Alerts", roles: ["finance", "ops"] },
  { id: "ops", title: "Ops", roles: ["ops"] },
];

export const ROLES = ["admin", "finance", "collections", "ops", "support"];

export function pagesFor(role: string): PageDef[] {
  return PAGES.filter((p) => role === "admin" || p.roles.includes(role));
}

/** Reinstating a line is a write on the customers service: support, ops (and admin). */
export function canReinstate(role: string): boolean {
  return ["admin", "support", "ops"].includes(role);
}

/** Acknowledging an alert and silencing it are writes of the alerts API's readers: finance, ops (and admin). */
export function canManageAlerts(role: string): boolean {
  return ["admin", "finance", "ops"].includes(role);
}

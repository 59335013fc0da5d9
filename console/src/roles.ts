// Which pages and actions a user sees: the same role sets the APIs behind each accept (admin passes every check).
// A user with several roles (an OIDC token's list) sees everything any of them may see.

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

/** Whether one of `roles` is admin or one of `allowed`. */
export function hasRole(roles: string[], ...allowed: string[]): boolean {
  return roles.some((r) => r === "admin" || allowed.includes(r));
}

export function pagesFor(roles: string[]): PageDef[] {
  return PAGES.filter((p) => hasRole(roles, ...p.roles));
}

/** Reinstating a line is a write on the customers service: support, ops (and admin). */
export function canReinstate(roles: string[]): boolean {
  return hasRole(roles, "support", "ops");
}

/** Acknowledging an alert and silencing it are writes of the alerts API's readers: finance, ops (and admin). */
export function canManageAlerts(roles: string[]): boolean {
  return hasRole(roles, "finance", "ops");
}

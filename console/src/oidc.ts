// OpenID Connect sign-in (authorization code flow with PKCE, RFC 7636 S256; a public client, no secret), against
// the issuer the services verify tokens of (JWT_ISSUER with JWT_JWKS_URL). The gateway serves the settings at
// /console/config.json (deploy/local/services.sh writes them); without them only the dev sign-in shows.

import type { Session } from "./api";
import { ROLES } from "./roles";

export interface OidcConfig {
  issuer: string;
  client_id: string;
  scope: string;
  tenant_claim: string;
  roles_claim: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

const PENDING = "ispbss.console.oidc";

/** The OIDC settings of this deployment, or null (not configured, or no config served). */
export async function loadOidcConfig(): Promise<OidcConfig | null> {
  try {
    const answer = await fetch("/console/config.json", { cache: "no-store" });
    if (!answer.ok) return null;
    const body = (await answer.json()) as { oidc?: OidcConfig | null };
    return body.oidc ?? null;
  } catch {
    return null;
  }
}

async function discover(issuer: string): Promise<Discovery> {
  const answer = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!answer.ok) throw new Error(`the provider's discovery document answered ${answer.status}`);
  return (await answer.json()) as Discovery;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(length: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

export function redirectUri(): string {
  return `${window.location.origin}/console/`;
}

/** Goes to the provider's authorization endpoint; the verifier and state wait in sessionStorage. */
export async function startSignIn(config: OidcConfig): Promise<void> {
  const verifier = random(32); // 43 characters
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const state = random(16);
  const endpoints = await discover(config.issuer);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const url = new URL(endpoints.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scope,
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

/** The claim at a dotted path, as the services read it (bss_runtime.auth.claim_at). */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (!value || typeof value !== "object" || !(part in value)) return null;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function payload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The token's roles the console knows, in ROLES' order (a list claim, or a space-separated string). */
function knownRoles(roles: unknown): string[] {
  const list = Array.isArray(roles) ? roles.map(String) : typeof roles === "string" ? roles.split(" ") : [];
  return ROLES.filter((r) => list.includes(r));
}

/**
 * Back from the provider (`?code=...&state=...` or `?error=...`): exchanges the code for tokens at the token
 * endpoint with the verifier, and returns the session. Null when the address is not such a return.
 */
export async function finishSignIn(config: OidcConfig): Promise<Session | null> {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return null;
  window.history.replaceState(null, "", redirectUri());
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as { verifier: string; state: string } | null;
  sessionStorage.removeItem(PENDING);
  if (error) throw new Error(`The provider refused the sign-in: ${error} ${params.get("error_description") ?? ""}`);
  if (!pending || pending.state !== params.get("state")) {
    throw new Error("The sign-in answer does not belong to this browser's sign-in (state differs): try again.");
  }
  const endpoints = await discover(config.issuer);
  const answer = await fetch(endpoints.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: code ?? "",
      redirect_uri: redirectUri(),
      client_id: config.client_id,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await answer.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!answer.ok || !body.access_token) {
    throw new Error(`The provider did not issue a token: ${body.error ?? answer.status} ${body.error_description ?? ""}`);
  }
  const claims = payload(body.access_token);
  const tenant = claimAt(claims, config.tenant_claim);
  return {
    token: body.access_token,
    tenant: typeof tenant === "string" ? tenant : "",
    roles: knownRoles(claimAt(claims, config.roles_claim)),
    via: "oidc",
    user: String(claims.preferred_username ?? claims.sub ?? ""),
  };
}
